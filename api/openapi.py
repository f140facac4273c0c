"""The OpenAPI document: FastAPI's, plus a description for every schema.

The API's own models carry their descriptions. Some contract models in `schemas/` have no
docstring yet; until they do, their descriptions are given here (CONTRACT_DESCRIPTIONS) so the
served document describes every model. A docstring added in `schemas/` takes precedence.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

TAGS = [
    {"name": "cases", "description": "Open, list and read cases; messages to a case."},
    {"name": "tasks", "description": "The inbox; completing and reassigning tasks."},
    {"name": "records", "description": "Participants' names, the notes as documents and the "
                                       "access log."},
    {"name": "service", "description": "Health, readiness and the caller."},
]

CONTRACT_DESCRIPTIONS = {
    # schemas.common
    "StaffRole": "A staff role: case_owner, leadership, tk (Tryghed og "
    "Kriminalitetsforebyggelse), communications or operator.",
    "ParticipantRole": "A participant's role in the case: victim, offender or witness.",
    "ViolationType": "A kind of digital violation.",
    "Phase": "A phase of the action card: assess, document, stop_report, treat, close.",
    "CaseStatus": "A case's status: active, closed or withdrawn.",
    "Route": "How the case is handled: undecided, internal (by the school) or police.",
    "Severity": "The assessed severity: unassessed, low, medium, high or critical.",
    "TaskStatus": "A task's status: open, done, superseded (assessment re-opened) or "
    "withdrawn (the case was withdrawn).",
    # schemas.snapshot
    "EventKind": "What kind of event a timeline entry records.",
    "TimelineEvent": "One entry in a case's timeline, numbered by the workflow.",
    "Recommendation": "The system's recommendation after the uncovering, with the rules that "
    "led to it.",
    "TaskView": "A task of the case: what, for which role, when due, and — once done — by "
    "whom and with which decision.",
    "NextTimer": "The next durable timer of the case (e.g. the evaluation).",
    "CaseSnapshot": "Where a case stands, from the workflow itself (the `snapshot` query).",
    # schemas.decisions
    "UncoverDecision": "assess.uncover: what happened, where, when and who was involved.",
    "EvaluateDecision": "assess.evaluate: severity, route, underretning and SSP.",
    "InvolveLeadershipDecision": "assess.involve_leadership: the course agreed with "
    "leadership.",
    "InvolveTkDecision": "assess.involve_tk: Tryghed og Kriminalitetsforebyggelse contacted "
    "for sparring.",
    "InvolveCustodyDecision": "assess.involve_custody: the custody holders are informed.",
    "PreserveDecision": "document.preserve: the evidence register (metadata only) and that "
    "no staff device keeps material.",
    "NoteDecision": "document.note: the approved short note on the course of events.",
    "CooperateDecision": "stop.cooperate: who the school cooperates with to stop the "
    "violation, and further measures.",
    "PoliceHandoverDecision": "stop.police_handover: the police took over; the school keeps "
    "contact.",
    "UnknownOffenderDecision": "stop.unknown_offender: guidance to remove material "
    "(SletDet).",
    "ActionPlanDecision": "stop.action_plan: the written action plan "
    "(undervisningsmiljøloven § 1 c).",
    "PoliceReportDecision": "report.police: the police report recommended and/or filed.",
    "InsuranceDecision": "report.insurance: insurance guidance given.",
    "UnderretningDecision": "report.underretning: when the underretning was submitted "
    "(Barnets lov § 133).",
    "UnderretningReceiptDecision": "report.underretning_receipt: when the municipality's "
    "receipt arrived.",
    "UnderretningFollowUpDecision": "report.underretning_follow_up: the municipality "
    "contacted about a missing receipt.",
    "HelpDecision": "treat.help: help for the victim and the offender.",
    "SurroundingsDecision": "treat.surroundings: who in the surroundings is informed.",
    "SameSchoolDecision": "treat.same_school: special measures when both attend the school.",
    "PressDecision": "treat.press: the communications department's handling of a press "
    "inquiry.",
    "CloseEvaluationDecision": "close.evaluate: what worked, what did not, and the evaluation "
    "note.",
    "FollowUpDecision": "close.follow_up: rumours, class community, help received; close, "
    "continue or reopen.",
}


def describe_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Fills in a description for every schema that has none."""
    schemas = document.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if schema.get("description"):
            continue
        # FastAPI splits a model into "-Input"/"-Output" when the two differ.
        base = name.removesuffix("-Input").removesuffix("-Output")
        if base in CONTRACT_DESCRIPTIONS:
            schema["description"] = CONTRACT_DESCRIPTIONS[base]
    return document


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
            )
            app.openapi_schema = describe_schemas(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
