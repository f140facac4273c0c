"""Vocabulary shared by every model: roles, phases, identifiers."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from schemas import evidence_earlier
from schemas.evidence import RULE, material_kind
from schemas.personal import CPR_RULE, cpr_number

# Case-local pseudonyms (P1, P2, ...). Children are never named in workflow payloads.
Pseudonym = Annotated[
    str,
    StringConstraints(pattern=r"^P[1-9][0-9]{0,2}$"),
    Field(description="Case-local pseudonym of a participant: P1, P2, ... (never a name)."),
]

# Case numbers and school ids end up in workflow ids and search attributes: keep them plain.
CaseNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}[A-Za-z0-9]$"),
    Field(description="The municipality's case number, e.g. 2026-0042 (letters, digits, dashes)."),
]
SCHOOL_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$"
SchoolId = Annotated[
    str,
    StringConstraints(pattern=SCHOOL_ID_PATTERN),
    Field(description="School identifier, e.g. 'vibeke-skolen' (lower case, digits, dashes)."),
]
StaffId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
    Field(description="Staff identifier (initials or user id, not a full name)."),
]

# --- Limits: every text and list of the contract has a maximum, chosen from what a real case
# needs (they show in the OpenAPI document as maxLength/maxItems). The case checks its messages
# with the same models, so a limit may be RAISED later but never lowered below what running
# cases already hold (their histories would replay differently).

# A free text written by staff: what happened, a note, a reason (a few paragraphs).
SHORT_TEXT_MAX = 2000
# An approved document text: the note on the course of events, the evaluation note.
LONG_TEXT_MAX = 10000
# Children in one case (a class and then some; the pseudonyms P1 … P999 allow more).
MAX_PARTICIPANTS = 30
# Pieces of evidence registered for one case (metadata only).
MAX_EVIDENCE_ITEMS = 50
# Identifiers of tasks (keys and instances, e.g. 'treat.press-2').
TASK_ID_MAX = 80
# Their shape: the key; in a round after the first `-r<round>`; when the key occurs again in
# its round, its number (workflows/steps.py numbers them 2, 3, ...; cases started before task
# ids were numbered per round number a key across the case: `<key>-<n>`). Four digits, as the
# API has always accepted: the workflow's own rules (workflows/rejections.py) must accept every
# id the API lets through.
_TASK_KEY = r"[a-z_]+\.[a-z_]+"
_TASK_ID_SUFFIX = r"(-r[0-9]{1,4})?(-[0-9]{1,4})?"
TASK_ID_PATTERN = f"^{_TASK_KEY}{_TASK_ID_SUFFIX}$"
_TASK_ID_KEY = re.compile(f"({_TASK_KEY}){_TASK_ID_SUFFIX}")


def task_key_of(task_id: str) -> str:
    """'treat.press-2', 'treat.press-r2', 'treat.press-r2-3' → 'treat.press'."""
    shape = _TASK_ID_KEY.fullmatch(task_id)
    return shape.group(1) if shape else task_id


# A procedure (card) version, e.g. 'ishoj-2026.1'.
PROCEDURE_VERSION_MAX = 40


def _no_cpr_number(text: str, info: ValidationInfo) -> str:
    """Staff's free text never holds a CPR number (identifiers are not free text: a case
    number may look like one). Messages to a case started before "card-round-three" are
    judged as they were, and a case's own records not at all (GUARD)."""
    judged = (info.context or {}).get(GUARD) is None
    # Material is refused as such (the card's rule, the model's validator), not as a number.
    if judged and cpr_number(text) and material_kind(text) is None:
        raise ValueError(CPR_RULE)
    return text


ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=SHORT_TEXT_MAX),
    AfterValidator(_no_cpr_number),
]
LongText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=LONG_TEXT_MAX),
    AfterValidator(_no_cpr_number),
]


# Validation context for texts a case has already accepted: `RECORDED` (its own records,
# checked when they came in: never checked again, so a stricter guard cannot make a running
# case's state unreadable), `EARLIER_GUARD` (messages to a case started before the guard of
# "card-round-three": they are judged as they were, so the case replays as it ran).
GUARD = "guard"
RECORDED = {GUARD: "recorded"}
EARLIER_GUARD = {GUARD: "earlier"}


class Model(BaseModel):
    """Base for every contract model: unknown fields are errors, not silently dropped, and no
    text anywhere may carry evidence material (images, video, encoded blobs). Free text
    (ShortText, LongText) holds no CPR number either."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_evidence_material(cls, value: Any, info: ValidationInfo) -> Any:
        guard = (info.context or {}).get(GUARD)
        if guard == "recorded":
            return value
        for text in _texts(value):
            if guard == "earlier":
                kind = evidence_earlier.material_kind(text)
            else:
                kind = material_kind(text)
            if kind is not None:
                # Name the kind, never echo the content.
                raise ValueError(f"{RULE} ({kind})")
        return value


class Record(Model):
    """What the system recorded itself (snapshots, store batches, a continued case's state):
    made from messages the guard checked when they came in, so not checked again — a guard
    grown stricter must never make a running case's own records unreadable."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_evidence_material(cls, value: Any, info: ValidationInfo) -> Any:
        return value


def _texts(value: Any) -> list[str]:
    """The strings inside a field's value; nested models have checked their own."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, dict):
        return [text for pair in value.items() for item in pair for text in _texts(item)]
    return []


class StaffRole(StrEnum):
    """A staff role: case_owner, leadership, tk (Tryghed og Kriminalitetsforebyggelse),
    communications or operator.
    """

    CASE_OWNER = "case_owner"
    LEADERSHIP = "leadership"
    TK = "tk"
    COMMUNICATIONS = "communications"
    OPERATOR = "operator"


class ParticipantRole(StrEnum):
    """A participant's role in the case: victim, offender or witness."""

    VICTIM = "victim"
    OFFENDER = "offender"
    WITNESS = "witness"


class ViolationType(StrEnum):
    """A kind of digital violation."""

    INTIMATE_IMAGES = "intimate_images"
    SEXTORTION = "sextortion"
    THREATS = "threats"
    HARASSMENT = "harassment"
    FAKE_PROFILE = "fake_profile"
    DEEPFAKE = "deepfake"
    OTHER = "other"


class Phase(StrEnum):
    """A phase of the action card: assess, document, stop_report, treat, close."""

    ASSESS = "assess"
    DOCUMENT = "document"
    STOP_REPORT = "stop_report"
    TREAT = "treat"
    CLOSE = "close"


class CaseStatus(StrEnum):
    """A case's status: active, closed or withdrawn."""

    ACTIVE = "active"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Route(StrEnum):
    """How the case is handled: undecided, internal (by the school) or police."""

    UNDECIDED = "undecided"
    INTERNAL = "internal"
    POLICE = "police"


class Severity(StrEnum):
    """The assessed severity: unassessed, low, medium, high or critical."""

    UNASSESSED = "unassessed"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class TaskStatus(StrEnum):
    """A task's status: open, done, superseded (assessment re-opened) or withdrawn (the case was
    withdrawn).
    """

    OPEN = "open"
    DONE = "done"
    SUPERSEDED = "superseded"  # a new incident re-opened assessment
    WITHDRAWN = "withdrawn"  # the case was withdrawn


class Actor(Model):
    """Who acts: a staff id and the role they act in."""

    id: StaffId
    role: StaffRole


_CASE_WORKFLOW_PREFIX = "case-"


def case_workflow_id(case_number: str) -> str:
    """The workflow id of a case: 'case-2026-0042'."""
    return f"{_CASE_WORKFLOW_PREFIX}{case_number}"


def case_number_of(workflow_id: str | None) -> str | None:
    """The inverse of `case_workflow_id`: 'case-2026-0042' → '2026-0042'; None for other ids."""
    if workflow_id and workflow_id.startswith(_CASE_WORKFLOW_PREFIX):
        return workflow_id.removeprefix(_CASE_WORKFLOW_PREFIX)
    return None
