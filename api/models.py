"""Request and response bodies of the HTTP API (its own; the contract is in `schemas/`).

Who acts is never taken from a body: the API sets the actor from the bearer token.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from schemas.common import (
    MAX_PARTICIPANTS,
    TASK_ID_MAX,
    TASK_ID_PATTERN,
    CaseNumber,
    CaseStatus,
    Model,
    ParticipantRole,
    Phase,
    Pseudonym,
    SchoolId,
    ShortText,
    StaffId,
    StaffRole,
    ViolationType,
)
from schemas.decisions import Decision
from schemas.snapshot import TaskView, TimelineEvent

PersonName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
    Field(description="A participant's name; kept in sagsflow's database only, never in Temporal."),
]
ContactText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    Field(description="Contact details, e.g. the custody holders' phone and mail."),
]
TaskId = Annotated[
    str,
    StringConstraints(pattern=TASK_ID_PATTERN, max_length=TASK_ID_MAX),
    Field(description="A task instance, e.g. 'assess.uncover' or 'treat.press-2'."),
]
ProcedureVersion = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"),
    Field(description="Procedure (card) version, e.g. 'ishoj-2026.1'."),
]


class ApiModel(BaseModel):
    """Base of the API's own responses: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class RequestModel(Model):
    """Base of the API's own request bodies: as the contract's models, unknown fields are
    errors and no text may carry evidence material."""


class ErrorResponse(ApiModel):
    """Why a request was refused or failed, in Danish and English ("dansk / English")."""

    detail: str = Field(description="The reason, for staff: 'dansk / English'.")


class Accepted(ApiModel):
    """A message was handed to the case. A case that refuses it records why in its timeline."""

    case_number: str = Field(description="The case the message went to.")
    message: str = Field(description="What happens next, in Danish and English.")


class Health(ApiModel):
    """The process is alive."""

    status: Literal["ok"] = Field(description="Always 'ok' when the process answers.")


class Readiness(ApiModel):
    """Whether the API can serve requests: Temporal and the store both answer."""

    status: Literal["ready", "not_ready"] = Field(description="'ready' when both answer.")
    temporal: bool = Field(description="The Temporal frontend answers its health check.")
    store: bool = Field(description="The database answers.")


class StaffView(ApiModel):
    """The authenticated caller as the API sees them."""

    id: str = Field(description="Staff id, as recorded in the access log.")
    name: str = Field(description="Display name.")
    roles: list[StaffRole] = Field(description="Roles the caller may act in.")
    schools: list[str] = Field(description="School ids; '*' means every school.")


class NewParticipant(RequestModel):
    """A child in a new case: pseudonym, role and age (to Temporal) and, optionally, name and
    contact details (to sagsflow's database only)."""

    pseudonym: Pseudonym
    role: ParticipantRole = Field(description="victim, offender or witness.")
    age: int = Field(ge=4, le=25, description="Age in years (4-25).")
    same_school: bool = Field(description="Attends the school the case is opened at.")
    name: PersonName | None = Field(default=None, description="The child's name (optional).")
    contact: ContactText | None = Field(default=None, description="Contact details (optional).")


class OpenCaseRequest(RequestModel):
    """Opens a case. The caller is recorded as who opened it."""

    case_number: CaseNumber
    school_id: SchoolId
    reported_at: AwareDatetime = Field(
        description="When the school learned of the violation (starts the legal deadlines); "
        "not in the future and at most a year ago."
    )
    violation_types: list[ViolationType] = Field(
        min_length=1,
        max_length=len(ViolationType),
        description="The kinds of violation, each once.",
    )
    participants: list[NewParticipant] = Field(
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        description=f"The children involved, by pseudonym (at most {MAX_PARTICIPANTS}).",
    )
    offender_known: bool = Field(
        description="The offender is known (then a participant has role 'offender')."
    )
    parents_suspected: bool = Field(
        default=False,
        description="Custody holders are suspected of abuse: they are not contacted first.",
    )
    procedure_version: ProcedureVersion | None = Field(
        default=None, description="Procedure version to run; the current one when empty."
    )


class CaseOpened(ApiModel):
    """A case was opened."""

    case_number: str = Field(description="The case number.")
    workflow_id: str = Field(description="The case's workflow id in Temporal (case-<number>).")
    school_id: str = Field(description="The school the case belongs to.")


class CaseListItem(ApiModel):
    """One line of the case list, from search attributes only: no personal data."""

    case_number: str = Field(description="The case number.")
    school_id: str = Field(description="The school.")
    workflow_id: str = Field(description="Workflow id in Temporal.")
    phase: str | None = Field(description="assess, document, stop_report, treat or close.")
    status: str | None = Field(description="active, closed or withdrawn.")
    route: str | None = Field(description="undecided, internal or police.")
    severity: str | None = Field(description="unassessed, low, medium, high or critical.")
    open_task_count: int | None = Field(description="Open tasks now.")
    next_deadline: datetime | None = Field(description="Earliest due time of an open task.")
    has_overdue_task: bool | None = Field(description="An open task is past its deadline.")
    started_at: datetime | None = Field(description="When the case was opened.")
    running: bool = Field(description="The case's workflow is still running.")


class CasePage(ApiModel):
    """A page of the case list, newest first."""

    cases: list[CaseListItem] = Field(description="The cases on this page.")
    next_page_token: str | None = Field(
        description="Pass as page_token for the next page; null on the last page."
    )


class Timeline(ApiModel):
    """A case's timeline: everything that happened, in order."""

    case_number: str = Field(description="The case number.")
    events: list[TimelineEvent] = Field(description="The events, oldest first.")


class PressView(ApiModel):
    """What the communications department needs of a case: its press tasks and inquiries.
    No participants, no decisions of other tasks."""

    case_number: str = Field(description="The case number.")
    school_id: str = Field(description="The school.")
    phase: Phase = Field(description="The case's phase.")
    status: CaseStatus = Field(description="The case's status.")
    press_tasks: list[TaskView] = Field(description="Open and done press tasks (treat.press).")
    inquiries: list[TimelineEvent] = Field(description="The press inquiries received.")


class ParticipantView(ApiModel):
    """A participant: pseudonym, role and age, with name and contact details if recorded."""

    pseudonym: str = Field(description="Case-local pseudonym (P1, P2 …).")
    role: ParticipantRole = Field(description="victim, offender or witness.")
    age: int = Field(description="Age in years when the case was opened.")
    same_school: bool = Field(description="Attends the case's school.")
    name: str | None = Field(description="Name, if recorded.")
    contact: str | None = Field(description="Contact details, if recorded.")


class Participants(ApiModel):
    """The participants of a case, with names: shown only to those allowed to see them."""

    case_number: str = Field(description="The case number.")
    participants: list[ParticipantView] = Field(description="By pseudonym.")


class ParticipantDetails(RequestModel):
    """Name and contact details for one pseudonym of the case."""

    pseudonym: Pseudonym
    name: PersonName
    contact: ContactText | None = Field(default=None, description="Contact details (optional).")


class ParticipantsUpdate(RequestModel):
    """Records or corrects names and contact details (replaces them per pseudonym)."""

    participants: list[ParticipantDetails] = Field(
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        description=f"One entry per pseudonym to record (at most {MAX_PARTICIPANTS}).",
    )


class CompleteTaskRequest(RequestModel):
    """Completes an open task with its decision (validated by the case before it is recorded)."""

    decision: Decision = Field(description="The decision; its 'task' must be the task's key.")
    reason: ShortText | None = Field(
        default=None,
        description="Required when the decision deviates from the system's recommendation.",
    )


class ReassignRequest(RequestModel):
    """Gives an open task to another member of staff."""

    assignee: StaffId


class PressInquiryRequest(RequestModel):
    """A media outlet asked about the case: the communications department gets an urgent task."""

    medium: ShortText = Field(description="Which media outlet asked (no names of children).")
    summary: ShortText | None = Field(default=None, description="What they asked about.")


class NewIncidentRequest(RequestModel):
    """Something new happened in the case."""

    description: ShortText = Field(description="What happened (pseudonyms, not names).")
    reopen_assessment: bool = Field(description="Re-open the card at assess for a new round.")


class TimelineNoteRequest(RequestModel):
    """A note for the case's timeline."""

    text: ShortText = Field(description="The note (pseudonyms, not names).")


class WithdrawRequest(RequestModel):
    """Ends a case that proved unfounded."""

    reason: ShortText = Field(description="Why the case is withdrawn.")


class InboxTask(ApiModel):
    """An open task in the caller's inbox."""

    task_id: str = Field(description="Task instance id, for completing it.")
    key: str = Field(description="Task key, e.g. 'assess.uncover'.")
    title: str = Field(description="Danish title from the action card.")
    guidance: str = Field(description="Danish guidance from the action card.")
    role: StaffRole = Field(description="The role the task is for.")
    case_number: str = Field(description="The case.")
    school_id: str = Field(description="The case's school.")
    assignee: str | None = Field(description="Staff id it is assigned to, if any.")
    opened_at: datetime = Field(description="When the task opened.")
    due_at: datetime = Field(description="Deadline.")
    overdue: bool = Field(description="The deadline has passed.")
    reminded: bool = Field(description="A reminder was sent.")
    escalated: bool = Field(description="It was escalated to leadership.")


class InboxPage(ApiModel):
    """A page of the caller's inbox, earliest deadline first."""

    tasks: list[InboxTask] = Field(description="The tasks on this page.")
    page: int = Field(description="This page's number, from 1.")
    page_size: int = Field(description="Tasks per page.")
    next_page: int | None = Field(description="The next page's number; null on the last page.")


class AccessEntry(ApiModel):
    """One access-log entry: who did or read what, when and why."""

    at: datetime = Field(description="When.")
    actor_id: str = Field(description="Who (staff id).")
    actor_roles: list[str] = Field(description="The roles they held.")
    action: str = Field(description="What, e.g. read_case, complete_task.")
    case_number: str | None = Field(description="Which case.")
    purpose: str = Field(description="Why (the X-Purpose header, or the default).")
    outcome: str = Field(description="allowed, denied or failed.")
    detail: str | None = Field(description="Ids of what was touched; never personal data.")


class AccessLogExport(ApiModel):
    """Every access to one case, for the data subject (GDPR art. 15)."""

    case_number: str = Field(description="The case.")
    exported_at: datetime = Field(description="When this export was made.")
    entries: list[AccessEntry] = Field(description="Oldest first; includes this export.")


class NoteKind(StrEnum):
    """course: the short note on the course of events; evaluation: the evaluation note."""

    COURSE = "course"
    EVALUATION = "evaluation"


class NoteFormat(StrEnum):
    """markdown (text/markdown) or html (a printable page)."""

    MARKDOWN = "markdown"
    HTML = "html"
