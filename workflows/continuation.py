"""Continue-as-new for a long case: what the next run is handed, and how it takes it up.

Pure (no Temporal calls): the lean core decides when (workflows/writer.py), and continues
(workflows/core.py). A case continues at a quiet moment only: no task of an earlier round or of
the case itself open, so that the next run, which runs its current round again from the top,
claims every open task (workflows/steps.py `_claim`) and opens nothing twice.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import TypeAdapter

from schemas.common import RECORDED
from schemas.decisions import Decision
from schemas.snapshot import CarriedCase, EventKind
from workflows.state import CaseState, Effects

# A case whose history has grown this long continues as new at its next quiet moment: well
# before Temporal's limits, and the replay of a worker that picks the case up stays short.
CONTINUE_AS_NEW_AFTER = 4000
# Timeline events the next run keeps for its snapshot (the store has them all).
TAIL = 50
DECISION: TypeAdapter[Any] = TypeAdapter(Decision)


def quiet(state: CaseState, case_jobs_done: bool, case_level: Collection[str]) -> bool:
    """Only tasks of the current round open, no case-level step running, nothing pending."""
    return (
        not state.ended()
        and not state.reopen_pending
        and not state.press_queue
        and state.procedure is not None
        and case_jobs_done
        and all(v.round == state.round and v.key not in case_level for v in state.open_tasks())
    )


def carried(state: CaseState, card_round: int) -> CarriedCase:
    s = state
    tail = s.timeline[-TAIL:]
    press = [e for e in s.timeline[:-TAIL] if e.kind == EventKind.PRESS_INQUIRY]
    return CarriedCase(
        card_round=card_round,
        phase=s.phase,
        round=s.round,
        route=s.route,
        severity=s.severity,
        underretning=s.underretning,
        recommendation=s.recommendation,
        tasks=list(s.tasks.values()),
        # so that the next run numbers on from the last seq (press inquiries come first)
        timeline_offset=s.timeline_offset + len(s.timeline) - len(press) - len(tail),
        timeline_tail=press + tail,
        follow_ups_left=s.follow_ups_left,
        round_started_at=s.round_started_at,
        underretning_submitted_at=s.underretning_submitted_at,
        timers=dict(s.timers),
        fired=sorted(s.fired),
        phases_entered=sorted(s.phases_entered),
        past_due=sorted(s.past_due),
        closed=dict(s.closed),
        notified=sorted(s.notified),
    )


def restore(state: CaseState, effects: Effects, carried: CarriedCase) -> None:
    s = state
    s.phase, s.round, s.route, s.severity = (
        carried.phase,
        carried.round,
        carried.route,
        carried.severity,
    )
    s.underretning, s.recommendation = carried.underretning, carried.recommendation
    s.tasks = {view.task_id: view for view in carried.tasks}
    s.decisions = {
        view.task_id: DECISION.validate_python(view.decision, context=RECORDED)
        for view in carried.tasks
        if view.decision is not None
    }
    s.follow_ups_left = carried.follow_ups_left
    s.round_started_at = carried.round_started_at or s.round_started_at
    s.underretning_submitted_at = carried.underretning_submitted_at
    s.timers, s.fired = dict(carried.timers), set(carried.fired)
    s.phases_entered, s.past_due = set(carried.phases_entered), set(carried.past_due)
    s.closed, s.notified = dict(carried.closed), set(carried.notified)
    s.custody_opened = any(v.key == "assess.involve_custody" for v in carried.tasks)
    s.custody_round = max(
        (v.round for v in carried.tasks if v.key == "assess.involve_custody"), default=0
    )
    # Already in the store; the next event is numbered on from the last seq.
    s.timeline = list(carried.timeline_tail)
    s.timeline_offset = carried.timeline_offset
    effects.synced_events = len(s.timeline)
