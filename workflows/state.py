"""The case's state as one dataclass, and the effects one activation leaves for the store.

Pure: the workflow (workflows/core.py) changes these and the store receives them as one
EffectBatch per activation, applied in one transaction by a local activity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from procedure.models import Procedure
from schemas.activities import (
    CaseRecord,
    CloseTaskRequest,
    EffectBatch,
    NotificationRequest,
    OpenTaskRequest,
    StoreSync,
    TaskFlagsRequest,
    TaskState,
)
from schemas.case import CaseInput
from schemas.common import CaseStatus, Phase, Route, Severity, TaskStatus
from schemas.messages import PressInquiry, Withdrawal
from schemas.snapshot import NextTimer, Recommendation, TaskView, TimelineEvent


@dataclass
class CaseState:
    case: CaseInput
    procedure: Procedure | None = None
    tz: ZoneInfo | None = None
    non_working: frozenset[Any] = frozenset()
    phase: Phase = Phase.ASSESS
    status: CaseStatus = CaseStatus.ACTIVE
    round: int = 1
    route: Route = Route.UNDECIDED
    severity: Severity = Severity.UNASSESSED
    underretning: bool | None = None
    recommendation: Recommendation | None = None
    tasks: dict[str, TaskView] = field(default_factory=dict)
    # task id → history length of the workflow task that opened it (the validator's guard)
    opened_in: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, Any] = field(default_factory=dict)
    timeline: list[TimelineEvent] = field(default_factory=list)
    next_timer: NextTimer | None = None
    press_queue: list[PressInquiry] = field(default_factory=list)
    reopen_pending: bool = False
    withdrawal: Withdrawal | None = None
    press_closed: bool = False
    follow_ups_left: int = 0
    round_started_at: datetime | None = None
    custody_opened: bool = False
    custody_round: int = 0  # the last round whose custody task opened
    underretning_submitted_at: datetime | None = None
    # task id → when it was closed and by whom, as recorded (for the store's sync)
    closed: dict[str, tuple[datetime, str | None]] = field(default_factory=dict)
    # every notification key the case queued
    notified: set[str] = field(default_factory=set)
    # seq of the event before timeline[0]: the events of earlier runs are in the store
    timeline_offset: int = 0
    # "round:what" → when; the case timers set, and those that fired
    timers: dict[str, datetime] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    # "round:phase" of the phases entered
    phases_entered: set[str] = field(default_factory=set)
    past_due: set[str] = field(default_factory=set)

    def open_tasks(self) -> list[TaskView]:
        return [v for v in self.tasks.values() if v.status == TaskStatus.OPEN]

    def ended(self) -> bool:
        return self.status != CaseStatus.ACTIVE or self.withdrawal is not None

    def decision(self, view: TaskView, kind: type) -> Any:
        decision = self.decisions[view.task_id]
        assert isinstance(decision, kind)
        return decision

    def latest_decision(self, key: str, kind: type) -> Any:
        found = self.latest_decision_if_any(key, kind)
        if found is None:
            raise ValueError(f"no decision for {key} yet")
        return found

    def latest_decision_if_any(self, key: str, kind: type) -> Any | None:
        done = [v for v in self.tasks.values() if v.key == key and v.task_id in self.decisions]
        if not done:
            return None
        return self.decision(max(done, key=lambda v: v.completed_at or v.opened_at), kind)


# One store write carries at most this much timeline (events, and characters of their texts):
# well under Temporal's 2 MB payload limit and quick to write; a backlog goes in several.
BATCH_EVENTS = 200
BATCH_TEXT = 256 * 1024


@dataclass
class Effects:
    """What the case has decided but the store does not show yet."""

    case: CaseRecord | None = None
    opened: list[OpenTaskRequest] = field(default_factory=list)
    closed: list[CloseTaskRequest] = field(default_factory=list)
    flags: list[TaskFlagsRequest] = field(default_factory=list)
    notifications: list[NotificationRequest] = field(default_factory=list)
    synced_events: int = 0
    batches: int = 0
    in_flight: bool = False
    # Until this worker's first live write: that one brings the store in line with the run.
    needs_sync: bool = True

    def pending(self, timeline: list[TimelineEvent]) -> bool:
        return bool(
            self.case
            or self.opened
            or self.closed
            or self.flags
            or self.notifications
            or self.synced_events < len(timeline)
        )

    def settled(self, timeline: list[TimelineEvent]) -> bool:
        """The store shows everything decided so far."""
        return not self.in_flight and not self.pending(timeline)

    def take(
        self, workflow_id: str, case_number: str, state: CaseState, run_id: str, sync: bool
    ) -> EffectBatch:
        """The next batch; a long timeline backlog is left for the batches after it."""
        timeline = state.timeline
        end, text = self.synced_events, 0
        while end < len(timeline) and end - self.synced_events < BATCH_EVENTS:
            text += len(timeline[end].text) + len(timeline[end].reason or "")
            if text > BATCH_TEXT and end > self.synced_events:
                break
            end += 1
        self.batches += 1
        batch = EffectBatch(
            workflow_id=workflow_id,
            case_number=case_number,
            seq=self.batches,
            run_id=run_id,
            sync=StoreSync(
                tasks=[
                    TaskState(
                        task_id=view.task_id,
                        status=view.status,
                        due_at=view.due_at,
                        reminded=view.reminded,
                        escalated=view.escalated,
                        assignee=view.assignee,
                        closed_at=state.closed.get(view.task_id, (None, None))[0],
                        completed_by=state.closed.get(view.task_id, (None, None))[1],
                    )
                    for view in state.tasks.values()
                ],
                timeline_length=state.timeline_offset + end,
                notification_keys=sorted(state.notified),
            )
            if sync
            else None,
            case=self.case,
            opened=self.opened,
            closed=self.closed,
            flags=self.flags,
            events=timeline[self.synced_events : end],
            notifications=self.notifications,
        )
        self.case = None
        self.opened, self.closed, self.flags, self.notifications = [], [], [], []
        self.synced_events = end
        return batch
