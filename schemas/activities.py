"""Inputs of the activities: everything is keyed so that a retry is a no-op."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas.common import CaseStatus, Model, Phase, Route, Severity, StaffRole, TaskStatus
from schemas.snapshot import TimelineEvent


class CaseRecord(Model):
    workflow_id: str
    case_number: str
    school_id: str
    phase: Phase
    status: CaseStatus
    route: Route
    severity: Severity
    opened_at: datetime
    closed_at: datetime | None = None


class OpenTaskRequest(Model):
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


class CloseTaskRequest(Model):
    workflow_id: str
    task_id: str
    status: TaskStatus
    closed_at: datetime
    completed_by: str | None = None


class TaskFlagsRequest(Model):
    """Changes an open task's state in the inbox: reminded, escalated or reassigned."""

    workflow_id: str
    task_id: str
    reminded: bool | None = None
    escalated: bool | None = None
    assignee: str | None = None


class TimelineBatch(Model):
    workflow_id: str
    case_number: str
    events: list[TimelineEvent]


class NotificationKind(StrEnum):
    TASK_OPENED = "task_opened"
    REMINDER = "reminder"
    ESCALATION = "escalation"


class NotificationRequest(Model):
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


class NoteFacts(Model):
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


class LoadProcedureRequest(Model):
    year: int = Field(description="The year the case starts: the calendar covers it and after.")
    version: str | None = Field(default=None, description="Required version; current if empty.")


class EffectBatch(Model):
    """Everything one workflow activation changed in the case, for the store in ONE transaction.

    Each item is keyed (task id, timeline seq, notification key) and written as an upsert, so
    applying a batch twice — a retried attempt, or a workflow task that was lost after its
    local activity ran and then recomputed — leaves the store as the recorded history says.
    `seq` numbers the case's batches (for logs and ordering; the items carry the idempotency).
    """

    workflow_id: str
    case_number: str
    seq: int
    case: CaseRecord | None = None
    opened: list[OpenTaskRequest] = Field(default_factory=list)
    closed: list[CloseTaskRequest] = Field(default_factory=list)
    flags: list[TaskFlagsRequest] = Field(default_factory=list)
    events: list[TimelineEvent] = Field(default_factory=list)
    notifications: list[NotificationRequest] = Field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.case or self.opened or self.closed or self.flags or self.events
            or self.notifications
        )
