"""The input that opens a case."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, Field, model_validator

from schemas.common import (
    MAX_PARTICIPANTS,
    PROCEDURE_VERSION_MAX,
    Actor,
    CaseNumber,
    Model,
    ParticipantRole,
    Pseudonym,
    SchoolId,
    ViolationType,
)


class Participant(Model):
    """A child involved in the case, by pseudonym only. Names live in the store, never here."""

    pseudonym: Pseudonym
    role: ParticipantRole
    age: int = Field(ge=4, le=25, description="Age in years (4-25).")
    same_school: bool = Field(description="Attends the same school as the case is opened at.")


class CaseInput(Model):
    case_number: CaseNumber
    school_id: SchoolId
    opened_by: Actor
    reported_at: AwareDatetime = Field(
        description="When the school learned of the violation (starts the legal deadlines)."
    )
    violation_types: list[ViolationType] = Field(
        min_length=1,
        max_length=len(ViolationType),
        description="The kinds of violation, each once.",
    )
    participants: list[Participant] = Field(
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        description=f"The children involved, by pseudonym (at most {MAX_PARTICIPANTS}).",
    )
    offender_known: bool
    parents_suspected: bool = Field(
        default=False,
        description="Custody holders are suspected of abuse: they are not contacted first.",
    )
    procedure_version: str | None = Field(
        default=None,
        max_length=PROCEDURE_VERSION_MAX,
        description="Procedure version to run; the current one when empty.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CaseInput:
        pseudonyms = [p.pseudonym for p in self.participants]
        if len(set(pseudonyms)) != len(pseudonyms):
            raise ValueError(
                "participants: hvert pseudonym må kun bruges én gang / "
                "each pseudonym may be used only once"
            )
        roles = {p.role for p in self.participants}
        if ParticipantRole.VICTIM not in roles:
            raise ValueError(
                "participants: mindst én krænket (role 'victim') skal angives / "
                "at least one participant must have role 'victim'"
            )
        has_offender = ParticipantRole.OFFENDER in roles
        if self.offender_known and not has_offender:
            raise ValueError(
                "offender_known: krænkeren er angivet som kendt, men ingen deltager har role "
                "'offender' / offender_known is true but no participant has role 'offender'"
            )
        if not self.offender_known and has_offender:
            raise ValueError(
                "offender_known: en deltager har role 'offender', så krænkeren er kendt / "
                "a participant has role 'offender', so offender_known must be true"
            )
        if len(set(self.violation_types)) != len(self.violation_types):
            raise ValueError("violation_types: ingen gentagelser / no repeated types")
        return self

    def victims(self) -> list[Participant]:
        return [p for p in self.participants if p.role == ParticipantRole.VICTIM]

    def offenders(self) -> list[Participant]:
        return [p for p in self.participants if p.role == ParticipantRole.OFFENDER]

    def victim_and_offender_same_school(self) -> bool:
        return any(v.same_school for v in self.victims()) and any(
            o.same_school for o in self.offenders()
        )


# When a case is opened, through the API or the CLI alike: a clock a little ahead is tolerated;
# a moment in the future or over a year back is a typo, and it would move every legal deadline.
# (Not a validator of CaseInput: the workflow validates its input again on replay, where "now"
# must not count.)
REPORTED_AT_CLOCK_SKEW = timedelta(minutes=5)
REPORTED_AT_MAX_AGE = timedelta(days=366)


def reported_at_problem(reported_at: datetime, now: datetime, field: str) -> str | None:
    """What is wrong with a case's `reported_at` (Danish / English, naming the field)."""
    if reported_at > now + REPORTED_AT_CLOCK_SKEW:
        return f"{field} ligger i fremtiden / {field} is in the future"
    if reported_at < now - REPORTED_AT_MAX_AGE:
        return f"{field} ligger mere end et år tilbage / {field} is more than a year ago"
    return None
