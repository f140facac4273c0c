"""One typed decision per task, as a discriminated union on the task key.

The field `task` names the task the decision belongs to; a decision sent for another task is
rejected ("wrong decision type"). The evidence register is metadata only: the system never
stores evidence material (the card's rule under "Gem").
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, Field, field_validator

from schemas.common import Model, Pseudonym, Severity, ShortText

LongText = Annotated[str, Field(min_length=1, max_length=10000)]


class UncoverDecision(Model):
    task: Literal["assess.uncover"] = "assess.uncover"
    what: ShortText = Field(description="What happened (use pseudonyms, not names).")
    where: ShortText = Field(description="Platform/app and/or physical place.")
    when_occurred: AwareDatetime | None = Field(default=None, description="When it happened.")
    involved: list[Pseudonym] = Field(min_length=1, description="Pseudonyms of those involved.")
    sexual_material_of_minor: bool = Field(
        description="Sexual images/video of a person under 18 are involved (straffeloven § 235)."
    )
    material_online: bool = Field(description="Violating material is (still) online.")


class EvaluateDecision(Model):
    task: Literal["assess.evaluate"] = "assess.evaluate"
    severity: Literal[Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    route: Literal["internal", "police"] = Field(
        description="internal: handled by the school; police: reported to the police."
    )
    underretning: bool = Field(description="A notification of concern will be made (§ 133).")
    ssp: bool = Field(description="SSP (school, social services, police) is involved.")


class InvolveLeadershipDecision(Model):
    task: Literal["assess.involve_leadership"] = "assess.involve_leadership"
    course_agreed: bool
    note: ShortText | None = None


class InvolveTkDecision(Model):
    task: Literal["assess.involve_tk"] = "assess.involve_tk"
    tk_contacted: bool
    advice: ShortText | None = None


class InvolveCustodyDecision(Model):
    task: Literal["assess.involve_custody"] = "assess.involve_custody"
    custody_holders_informed: bool
    for_participants: list[Pseudonym] = Field(default_factory=list)


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
    task: Literal["document.preserve"] = "document.preserve"
    evidence: list[EvidenceItem] = Field(default_factory=list)
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
    task: Literal["document.note"] = "document.note"
    text: LongText = Field(description="The approved note: who, what, where, when.")


class CooperateDecision(Model):
    task: Literal["stop.cooperate"] = "stop.cooperate"
    actors: list[
        Literal["parents", "students", "ssp_teacher", "ssp_consultant", "local_police"]
    ] = Field(min_length=1)
    material_deleted: bool
    further_measures: list[Literal["class_announcement", "year_group_talk", "other"]] = Field(
        default_factory=list
    )


class PoliceHandoverDecision(Model):
    task: Literal["stop.police_handover"] = "stop.police_handover"
    police_took_over: bool
    school_contact_kept: bool


class UnknownOffenderDecision(Model):
    task: Literal["stop.unknown_offender"] = "stop.unknown_offender"
    removal_guidance_given: bool
    sletdet_referred: bool


class ActionPlanDecision(Model):
    task: Literal["stop.action_plan"] = "stop.action_plan"
    plan_written: bool
    summary: ShortText


class PoliceReportDecision(Model):
    task: Literal["report.police"] = "report.police"
    recommended_to_family: bool
    filed: Literal["yes", "no", "unknown"]


class InsuranceDecision(Model):
    task: Literal["report.insurance"] = "report.insurance"
    guidance_given: bool


class UnderretningDecision(Model):
    task: Literal["report.underretning"] = "report.underretning"
    submitted_at: AwareDatetime


class UnderretningReceiptDecision(Model):
    task: Literal["report.underretning_receipt"] = "report.underretning_receipt"
    received_at: AwareDatetime


class UnderretningFollowUpDecision(Model):
    task: Literal["report.underretning_follow_up"] = "report.underretning_follow_up"
    municipality_contacted: bool
    note: ShortText | None = None


class HelpDecision(Model):
    task: Literal["treat.help"] = "treat.help"
    tk_contacted: bool
    victim_help: list[Literal["tk", "psychologist", "ppr", "health_nurse", "other"]] = Field(
        default_factory=list
    )
    offender_help: list[Literal["tk", "psychologist", "ppr", "health_nurse", "other"]] = Field(
        default_factory=list
    )


class SurroundingsDecision(Model):
    task: Literal["treat.surroundings"] = "treat.surroundings"
    inform_classmates: bool
    inform_parents: bool
    inform_school: bool


class SameSchoolDecision(Model):
    task: Literal["treat.same_school"] = "treat.same_school"
    measures: ShortText


class PressDecision(Model):
    task: Literal["treat.press"] = "treat.press"
    statement: Literal["none", "given", "declined"]
    note: ShortText | None = None


class CloseEvaluationDecision(Model):
    task: Literal["close.evaluate"] = "close.evaluate"
    worked: ShortText
    did_not_work: ShortText
    learning_points: ShortText | None = None
    family_asked: bool
    note: LongText


class FollowUpDecision(Model):
    task: Literal["close.follow_up"] = "close.follow_up"
    rumours: bool
    class_problems: bool
    help_received: bool
    outcome: Literal["close", "continue", "reopen"] = Field(
        description="close: end the case; continue: keep watching until the next follow-up; "
        "reopen: a new incident re-opens assessment."
    )


Decision = Annotated[
    Union[
        UncoverDecision,
        EvaluateDecision,
        InvolveLeadershipDecision,
        InvolveTkDecision,
        InvolveCustodyDecision,
        PreserveDecision,
        NoteDecision,
        CooperateDecision,
        PoliceHandoverDecision,
        UnknownOffenderDecision,
        ActionPlanDecision,
        PoliceReportDecision,
        InsuranceDecision,
        UnderretningDecision,
        UnderretningReceiptDecision,
        UnderretningFollowUpDecision,
        HelpDecision,
        SurroundingsDecision,
        SameSchoolDecision,
        PressDecision,
        CloseEvaluationDecision,
        FollowUpDecision,
    ],
    Field(discriminator="task"),
]

DECISION_TYPES: dict[str, type[Model]] = {
    cls.model_fields["task"].default: cls
    for cls in Decision.__origin__.__args__  # type: ignore[attr-defined]
}
