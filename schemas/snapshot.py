"""What the `snapshot` query returns, and the timeline events it holds.

These models are written by the case itself, never by a client, so they carry no
maxLength/maxItems: their free texts come from the bounded inputs (schemas.common:
SHORT_TEXT_MAX, LONG_TEXT_MAX) and the card, and the timeline grows with the case's life,
bounded by the limits per case on the messages that reach it (the HTTP API's notes, new
incidents and press inquiries per hour and in all). A maximum here would not refuse a sender:
it would fail the case's own workflow task.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from schemas.common import (
    Actor,
    CaseStatus,
    Phase,
    Pseudonym,
    Record,
    Route,
    Severity,
    StaffRole,
    TaskStatus,
)


class EventKind(StrEnum):
    """What kind of event a timeline entry records."""

    CASE_OPENED = "case_opened"
    PHASE_ENTERED = "phase_entered"
    RECOMMENDATION = "recommendation"
    TASK_OPENED = "task_opened"
    TASK_COMPLETED = "task_completed"
    TASK_REMINDED = "task_reminded"
    TASK_ESCALATED = "task_escalated"
    TASK_REASSIGNED = "task_reassigned"
    TASK_CLOSED = "task_closed"
    REJECTED = "rejected"
    PRESS_INQUIRY = "press_inquiry"
    NEW_INCIDENT = "new_incident"
    ASSESSMENT_REOPENED = "assessment_reopened"
    NOTE_ADDED = "note_added"
    TIMER_SET = "timer_set"
    RECEIPT_MISSING = "receipt_missing"
    CASE_CLOSED = "case_closed"
    CASE_WITHDRAWN = "case_withdrawn"


class TimelineEvent(Record):
    """One entry in a case's timeline, numbered by the workflow."""

    seq: int = Field(ge=1, description="Position in the case's timeline, from 1.")
    at: datetime
    kind: EventKind
    text: str = Field(description="Danish text for staff.")
    actor: Actor | None = None
    task_id: str | None = None
    reason: str | None = None


class Recommendation(Record):
    """The system's recommendation after the uncovering, with the rules that led to it."""

    police_report: bool
    underretning: bool
    ssp: bool
    police_advice: bool = Field(
        default=False,
        description="Ask the police for advice instead of a report: an offender under 15 cannot "
        "be punished, but the police can hold a bekymringssamtale and have material removed.",
    )
    reasons: list[str] = Field(description="Danish reasons, each citing its rule.")
    rules: list[str] = Field(
        default_factory=list,
        description="The keys of the rules that applied (procedure/rules.py, docs/legal.md).",
    )


class TaskView(Record):
    """A task of the case: what, for which role, when due, and — once done — by whom and with
    which decision.
    """

    task_id: str
    key: str
    title: str
    participant: Pseudonym | None = Field(
        default=None,
        description="The child a task of one per child is for (custody holders: every victim "
        "and known offender, each).",
    )
    role: StaffRole
    round: int
    status: TaskStatus
    assignee: str | None = None
    opened_at: datetime
    due_at: datetime
    escalate_at: datetime | None = None
    reminded: bool = False
    escalated: bool = False
    completed_at: datetime | None = None
    completed_by: Actor | None = None
    decision: dict[str, Any] | None = None
    reason: str | None = None
    deviations: list[str] = Field(default_factory=list)

    def overdue(self, now: datetime) -> bool:
        return self.status == TaskStatus.OPEN and now >= self.due_at


class NextTimer(Record):
    """The next durable timer of the case (e.g. the evaluation)."""

    what: str
    at: datetime


class CaseSnapshot(Record):
    """Where a case stands, from the workflow itself (the `snapshot` query)."""

    case_number: str
    school_id: str
    workflow_id: str
    procedure_version: str
    phase: Phase
    status: CaseStatus
    round: int
    route: Route
    severity: Severity
    underretning: bool | None = None
    recommendation: Recommendation | None = None
    open_tasks: list[TaskView]
    done_tasks: list[TaskView]
    timeline: list[TimelineEvent] = Field(
        description="Everything that happened, oldest first; grows with the case's life."
    )
    next_timer: NextTimer | None = None
    has_overdue_task: bool
    next_deadline: datetime | None = None
    as_of: datetime


class CaseOutcome(Record):
    """The workflow's result."""

    case_number: str
    status: CaseStatus
    rounds: int
    closed_at: datetime
    reason: str | None = None


class CarriedCase(Record):
    """A case's state handed to its next run when it continues as new (a long life).

    Not part of the public contract: only the case workflow writes and reads it. The timeline is
    in the store; the next run carries its length and its last events (and every press
    inquiry, which the press view shows).
    """

    phase: Phase
    round: int
    route: Route
    severity: Severity
    underretning: bool | None = None
    recommendation: Recommendation | None = None
    tasks: list[TaskView]
    timeline_offset: int
    timeline_tail: list[TimelineEvent]
    follow_ups_left: int = 0
    round_started_at: datetime | None = None
    underretning_submitted_at: datetime | None = None
    timers: dict[str, datetime] = Field(default_factory=dict)
    fired: list[str] = Field(default_factory=list)
    phases_entered: list[str] = Field(default_factory=list)
    past_due: list[str] = Field(default_factory=list)
    closed: dict[str, tuple[datetime, str | None]] = Field(default_factory=dict)
    notified: list[str] = Field(default_factory=list)
    # The rules the case started with (workflows/core.py's markers): a continued run keeps
    # them, rather than asking the markers again as if it were a new case. None: carried by a
    # build before this field, whose next run asks the markers (as it always did).
    card_round: int | None = None
