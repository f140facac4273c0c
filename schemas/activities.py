"""Inputs of the activities: everything is keyed so that a retry is a no-op."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas.common import CaseStatus, Phase, Record, Route, Severity, StaffRole, TaskStatus
from schemas.snapshot import TimelineEvent


class CaseRecord(Record):
    workflow_id: str
    case_number: str
    school_id: str
    phase: Phase
    status: CaseStatus
    route: Route
    severity: Severity
    opened_at: datetime
    closed_at: datetime | None = None


class OpenTaskRequest(Record):
    workflow_id: str
    case_number: str
    school_id: str
    task_id: str
    key: str
    title: str
    guidance: str
    role: StaffRole
    assignee: str | None = None
    opened_at: datetime
    due_at: datetime


class CloseTaskRequest(Record):
    workflow_id: str
    task_id: str
    status: TaskStatus
    closed_at: datetime
    completed_by: str | None = None


class TaskFlagsRequest(Record):
    """Changes an open task's state in the inbox: reminded, escalated or reassigned."""

    workflow_id: str
    task_id: str
    reminded: bool | None = None
    escalated: bool | None = None
    assignee: str | None = None


class TimelineBatch(Record):
    workflow_id: str
    case_number: str
    events: list[TimelineEvent]


class NotificationKind(StrEnum):
    TASK_OPENED = "task_opened"
    REMINDER = "reminder"
    ESCALATION = "escalation"


class NotificationRequest(Record):
    """An outbox row. No personal data: case number, task title, deadline."""

    key: str = Field(description="Idempotency key: workflow id, task id and kind.")
    workflow_id: str
    case_number: str
    school_id: str
    kind: NotificationKind
    role: StaffRole
    assignee: str | None = None
    task_id: str
    subject: str
    body: str
    created_at: datetime


class NoteFacts(Record):
    """The recorded facts the short note (who, what, where, when) is drafted from."""

    case_number: str
    school_id: str
    reported_at: datetime
    participants: list[str] = Field(description="'P1 (krænket, 14 år)' and the like.")
    violation_types: list[str]
    what: str
    where: str
    when_occurred: datetime | None
    evidence: list[str]
    route: Route
    severity: Severity


class LoadProcedureRequest(Record):
    year: int = Field(description="The year the case starts: the calendar covers it and after.")
    version: str | None = Field(default=None, description="Required version; current if empty.")


class TaskState(Record):
    """Where one task stands in the workflow, for bringing its inbox row in line."""

    task_id: str
    status: TaskStatus
    due_at: datetime
    reminded: bool = False
    escalated: bool = False
    assignee: str | None = None
    closed_at: datetime | None = None
    completed_by: str | None = None


class StoreSync(Record):
    """The whole case as this run has it: sent with a run's first live store write, so that
    after a reset (or a worker that lost its place) the store follows the run, not whatever an
    earlier run wrote after the reset point."""

    tasks: list[TaskState]
    timeline_length: int = Field(description="Timeline rows past this seq are removed.")
    notification_keys: list[str] = Field(
        default_factory=list,
        description="Unsent outbox rows of the case not listed here "
        "were queued by a workflow task that was then lost: they are removed.",
    )


class EffectBatch(Record):
    """Everything one workflow activation changed in the case, for the store in ONE transaction.

    Each item is keyed (task id, timeline seq, notification key) and written as an upsert, so
    applying a batch twice (a retried attempt) changes nothing. A local activity runs before its
    workflow task is recorded; when that workflow task is lost, the worker that picks the case
    up again replays it, and its first live batch carries `sync` (the whole case as recorded):
    rows, times and unsent notifications that only the lost attempt wrote are corrected or
    removed. `seq` numbers the case's batches for logs; the items carry the idempotency.
    """

    workflow_id: str
    case_number: str
    seq: int
    run_id: str | None = None
    sync: StoreSync | None = None
    case: CaseRecord | None = None
    opened: list[OpenTaskRequest] = Field(default_factory=list)
    closed: list[CloseTaskRequest] = Field(default_factory=list)
    flags: list[TaskFlagsRequest] = Field(default_factory=list)
    events: list[TimelineEvent] = Field(default_factory=list)
    notifications: list[NotificationRequest] = Field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.case
            or self.opened
            or self.closed
            or self.flags
            or self.events
            or self.notifications
        )
