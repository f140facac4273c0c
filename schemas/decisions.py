"""One typed decision per task, as a discriminated union on the task key.

The field `task` names the task the decision belongs to; a decision sent for another task is
rejected ("wrong decision type"). The evidence register is metadata only: the system never
stores evidence material (the card's rule under "Gem").
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AwareDatetime, Field, field_validator

from schemas.common import (
    MAX_EVIDENCE_ITEMS,
    MAX_PARTICIPANTS,
    LongText,
    Model,
    Pseudonym,
    Severity,
    ShortText,
)

CooperationActor = Literal["parents", "students", "ssp_teacher", "ssp_consultant", "local_police"]
FurtherMeasure = Literal["class_announcement", "year_group_talk", "other"]
HelpKind = Literal["tk", "psychologist", "ppr", "health_nurse", "other"]


class UncoverDecision(Model):
    """assess.uncover: what happened, where, when and who was involved."""

    task: Literal["assess.uncover"] = "assess.uncover"
    what: ShortText = Field(description="What happened (use pseudonyms, not names).")
    where: ShortText = Field(description="Platform/app and/or physical place.")
    when_occurred: AwareDatetime | None = Field(default=None, description="When it happened.")
    involved: list[Pseudonym] = Field(
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        description=f"Pseudonyms of those involved (at most {MAX_PARTICIPANTS}, the most "
        "participants a case has).",
    )
    sexual_material_of_minor: bool = Field(
        description="Sexual images/video of a person under 18 are involved (straffeloven § 235)."
    )
    material_online: bool = Field(description="Violating material is (still) online.")
    material_shared: bool = Field(
        default=False,
        description="The material has been forwarded among pupils (in a class, a year group): "
        "it is deleted and the class dealt with on every route.",
    )


class EvaluateDecision(Model):
    """assess.evaluate: severity, route, underretning and SSP."""

    task: Literal["assess.evaluate"] = "assess.evaluate"
    severity: Literal[Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    route: Literal["internal", "police"] = Field(
        description="internal: handled by the school; police: reported to the police."
    )
    underretning: bool = Field(description="A notification of concern will be made (§ 133).")
    ssp: bool = Field(description="SSP (school, social services, police) is involved.")


class InvolveLeadershipDecision(Model):
    """assess.involve_leadership: the course agreed with leadership."""

    task: Literal["assess.involve_leadership"] = "assess.involve_leadership"
    course_agreed: bool
    note: ShortText | None = None


class InvolveTkDecision(Model):
    """assess.involve_tk: Tryghed og Kriminalitetsforebyggelse contacted for sparring."""

    task: Literal["assess.involve_tk"] = "assess.involve_tk"
    tk_contacted: bool
    advice: ShortText | None = None


class InvolveCustodyDecision(Model):
    """assess.involve_custody: the custody holders are informed."""

    task: Literal["assess.involve_custody"] = "assess.involve_custody"
    custody_holders_informed: bool
    for_participants: list[Pseudonym] = Field(
        default_factory=list,
        max_length=MAX_PARTICIPANTS,
        description=f"Pseudonyms whose custody holders were informed (at most {MAX_PARTICIPANTS}).",
    )


class EvidenceItem(Model):
    """Metadata about a piece of evidence. The material itself is never stored here."""

    kind: Literal["screenshot", "video", "message", "profile", "other"]
    held_by: Literal["victim", "family", "police"] = Field(
        description="Who keeps the material. Never the school or a staff member."
    )
    secured_at: AwareDatetime
    usernames_noted: bool
    times_noted: bool


class PreserveDecision(Model):
    """document.preserve: the evidence register (metadata only) and that no staff device keeps
    material.
    """

    task: Literal["document.preserve"] = "document.preserve"
    evidence: list[EvidenceItem] = Field(
        default_factory=list,
        max_length=MAX_EVIDENCE_ITEMS,
        description=f"The evidence register, metadata only (at most {MAX_EVIDENCE_ITEMS} items).",
    )
    staff_devices_clear: bool = Field(
        description="No material from the case is kept on any staff member's own device."
    )

    @field_validator("staff_devices_clear")
    @classmethod
    def _card_rule(cls, value: bool) -> bool:
        if not value:
            raise ValueError(
                "Gem aldrig materiale fra sagen på egen telefon eller lignende: materialet skal "
                "slettes fra egen enhed, før opgaven kan afsluttes / Never keep material from the "
                "case on your own device: delete it before completing this task"
            )
        return value


class NoteDecision(Model):
    """document.note: the approved short note on the course of events."""

    task: Literal["document.note"] = "document.note"
    text: LongText = Field(description="The approved note: who, what, where, when.")


class CooperateDecision(Model):
    """stop.cooperate: who the school cooperates with to stop the violation, and further measures."""  # noqa: E501 - the schema's published description

    task: Literal["stop.cooperate"] = "stop.cooperate"
    actors: list[CooperationActor] = Field(
        min_length=1,
        max_length=len(get_args(CooperationActor)),
        description="Who the school cooperates with (at most as many as there are kinds).",
    )
    material_deleted: bool
    further_measures: list[FurtherMeasure] = Field(
        default_factory=list,
        max_length=len(get_args(FurtherMeasure)),
        description="Further measures (at most as many as there are kinds).",
    )


class PoliceHandoverDecision(Model):
    """stop.police_handover: the police took over; the school keeps contact."""

    task: Literal["stop.police_handover"] = "stop.police_handover"
    police_took_over: bool
    school_contact_kept: bool


class UnknownOffenderDecision(Model):
    """stop.unknown_offender: guidance to remove material (SletDet)."""

    task: Literal["stop.unknown_offender"] = "stop.unknown_offender"
    removal_guidance_given: bool
    sletdet_referred: bool


class ActionPlanDecision(Model):
    """stop.action_plan: the written action plan (undervisningsmiljøloven § 1 c)."""

    task: Literal["stop.action_plan"] = "stop.action_plan"
    plan_written: bool
    summary: ShortText


class PoliceReportDecision(Model):
    """report.police: the police report recommended and/or filed."""

    task: Literal["report.police"] = "report.police"
    recommended_to_family: bool
    filed: Literal["yes", "no", "unknown"]


class InsuranceDecision(Model):
    """report.insurance: insurance guidance given."""

    task: Literal["report.insurance"] = "report.insurance"
    guidance_given: bool


class UnderretningDecision(Model):
    """report.underretning: when the underretning was submitted (Barnets lov § 133)."""

    task: Literal["report.underretning"] = "report.underretning"
    submitted_at: AwareDatetime


class UnderretningReceiptDecision(Model):
    """report.underretning_receipt: when the municipality's receipt arrived."""

    task: Literal["report.underretning_receipt"] = "report.underretning_receipt"
    received_at: AwareDatetime


class UnderretningFollowUpDecision(Model):
    """report.underretning_follow_up: the municipality contacted about a missing receipt."""

    task: Literal["report.underretning_follow_up"] = "report.underretning_follow_up"
    municipality_contacted: bool
    note: ShortText | None = None


class HelpDecision(Model):
    """treat.help: help for the victim and the offender."""

    task: Literal["treat.help"] = "treat.help"
    tk_contacted: bool
    victim_help: list[HelpKind] = Field(
        default_factory=list,
        max_length=len(get_args(HelpKind)),
        description="Help for the victim (at most as many as there are kinds).",
    )
    offender_help: list[HelpKind] = Field(
        default_factory=list,
        max_length=len(get_args(HelpKind)),
        description="Help for the offender (at most as many as there are kinds).",
    )


class SurroundingsDecision(Model):
    """treat.surroundings: who in the surroundings is informed."""

    task: Literal["treat.surroundings"] = "treat.surroundings"
    inform_classmates: bool
    inform_parents: bool
    inform_school: bool


class SameSchoolDecision(Model):
    """treat.same_school: special measures when both attend the school."""

    task: Literal["treat.same_school"] = "treat.same_school"
    measures: ShortText


class PressDecision(Model):
    """treat.press: the communications department's handling of a press inquiry."""

    task: Literal["treat.press"] = "treat.press"
    statement: Literal["none", "given", "declined"]
    note: ShortText | None = None


class CloseEvaluationDecision(Model):
    """close.evaluate: what worked, what did not, and the evaluation note."""

    task: Literal["close.evaluate"] = "close.evaluate"
    worked: ShortText
    did_not_work: ShortText
    learning_points: ShortText | None = None
    family_asked: bool
    note: LongText


class FollowUpDecision(Model):
    """close.follow_up: rumours, class community, help received; close, continue or reopen."""

    task: Literal["close.follow_up"] = "close.follow_up"
    rumours: bool
    class_problems: bool
    help_received: bool
    outcome: Literal["close", "continue", "reopen"] = Field(
        description="close: end the case; continue: keep watching until the next follow-up; "
        "reopen: a new incident re-opens assessment."
    )


Decision = Annotated[
    UncoverDecision
    | EvaluateDecision
    | InvolveLeadershipDecision
    | InvolveTkDecision
    | InvolveCustodyDecision
    | PreserveDecision
    | NoteDecision
    | CooperateDecision
    | PoliceHandoverDecision
    | UnknownOffenderDecision
    | ActionPlanDecision
    | PoliceReportDecision
    | InsuranceDecision
    | UnderretningDecision
    | UnderretningReceiptDecision
    | UnderretningFollowUpDecision
    | HelpDecision
    | SurroundingsDecision
    | SameSchoolDecision
    | PressDecision
    | CloseEvaluationDecision
    | FollowUpDecision,
    Field(discriminator="task"),
]

DECISION_TYPES: dict[str, type[Model]] = {
    cls.model_fields["task"].default: cls
    for cls in Decision.__origin__.__args__  # type: ignore[attr-defined]
}
