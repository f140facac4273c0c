"""What a case keeps and shows: its state, the effects for the next store batch, its timeline,
the snapshot query and the search attributes.

The base of the lean core (workflows/core.py): CaseMessages (workflows/handlers.py) builds on
it, and every other part of the core records through it. `_event` adds to the timeline at
`_now`, the one time every recorded moment of the case comes from; `snapshot` answers the query;
`_publish` sets the search attributes and the UI's details once per store batch.

Deterministic code only: time from workflow.now().
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procedure.models import Procedure
    from schemas.common import Actor, TaskStatus
    from schemas.labels import PHASE_HEADING_DA
    from schemas.snapshot import CaseSnapshot, EventKind, TimelineEvent
    from workflows import search_attributes as sa
    from workflows import texts
    from workflows.state import CaseState, Effects


class CaseRecords:
    def __init__(self, state: CaseState) -> None:
        self.state = state
        self.effects = Effects()
        self._published: dict[str, Any] = {}
        # Set while a case takes its first steps (see CaseCore.run); None otherwise.
        self._held_time: datetime | None = None

    # ----------------------------------------------------------- snapshot

    def snapshot(self) -> CaseSnapshot:
        s, now = self.state, workflow.now()
        open_tasks = sorted(s.open_tasks(), key=lambda v: (v.due_at, v.task_id))
        return CaseSnapshot(
            case_number=s.case.case_number,
            school_id=s.case.school_id,
            workflow_id=workflow.info().workflow_id,
            procedure_version=s.procedure.spec.version if s.procedure else "",
            phase=s.phase,
            status=s.status,
            round=s.round,
            route=s.route,
            severity=s.severity,
            underretning=s.underretning,
            recommendation=s.recommendation,
            open_tasks=open_tasks,
            done_tasks=[v for v in s.tasks.values() if v.status != TaskStatus.OPEN],
            timeline=list(s.timeline),
            next_timer=s.next_timer,
            has_overdue_task=any(v.overdue(now) for v in open_tasks),
            next_deadline=min((v.due_at for v in open_tasks), default=None),
            as_of=now,
        )

    # ---------------------------------------------------------- bookkeeping

    def _event(
        self,
        kind: EventKind,
        text: str,
        *,
        actor: Actor | None = None,
        task_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        timeline = self.state.timeline
        seq = self.state.timeline_offset + len(timeline) + 1
        timeline.append(
            TimelineEvent(
                seq=seq,
                at=self._now(),
                kind=kind,
                text=text,
                actor=actor,
                task_id=task_id,
                reason=reason,
            )
        )

    def _now(self) -> datetime:
        """The time every recorded moment of the case (opened, due, done, timeline) comes from."""
        return self._held_time or workflow.now()

    def _procedure(self) -> Procedure:
        assert self.state.procedure is not None
        return self.state.procedure

    def _publish(self) -> None:
        """Search attributes and the UI's current details, once per store batch."""
        s, now = self.state, workflow.now()
        open_tasks = s.open_tasks()
        values: dict[str, Any] = {
            sa.CASE_NUMBER.name: s.case.case_number,
            sa.SCHOOL_ID.name: s.case.school_id,
            sa.CASE_PHASE.name: s.phase.value,
            sa.CASE_STATUS.name: s.status.value,
            sa.CASE_ROUTE.name: s.route.value,
            sa.CASE_SEVERITY.name: s.severity.value,
            sa.OPEN_TASK_COUNT.name: len(open_tasks),
            sa.NEXT_DEADLINE.name: min((v.due_at for v in open_tasks), default=None),
            sa.HAS_OVERDUE_TASK.name: any(v.overdue(now) for v in open_tasks),
        }
        changed = {k: v for k, v in values.items() if self._published.get(k, ...) != v}
        if changed:
            workflow.upsert_search_attributes(
                [
                    key.value_unset()
                    if changed[key.name] is None
                    else key.value_set(changed[key.name])
                    for key in sa.ALL
                    if key.name in changed
                ]
            )
            self._published.update(changed)
        workflow.set_current_details(
            texts.details(
                s.case,
                PHASE_HEADING_DA[s.phase],
                s.status.value,
                s.route.value,
                s.severity.value,
                open_tasks,
                s.next_timer,
                s.tz,
            )
        )
