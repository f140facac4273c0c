"""The one catalogue: realistic case inputs, the staff per role, and a complete, sensible
decision for every task of the card — as JSON, the way the platform sends it.

- `decision(key, now, **overrides)`: the good decision for a task (the tests' catalogue).
- `Route`, `ROUTES`: kinds of case whose decisions follow the system's recommendation (so no
  written reason is ever needed); `route_decision` fits the catalogue to a route's facts.
- `DEMO_ROUTE` and `demo_decision`: the story `sagsflow demo` tells, on the same catalogue.

Pure data and functions: no I/O, no Temporal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.case import CaseInput, Participant
from schemas.common import Actor, ParticipantRole, StaffRole, ViolationType

DEMO_VERSION = "demo"
DEFAULT_SCHOOL = "vibeke-skolen"  # fictional

TEACHER = Actor(id="lhj", role=StaffRole.CASE_OWNER)
LEADER = Actor(id="skoleleder1", role=StaffRole.LEADERSHIP)
COMMS = Actor(id="komm1", role=StaffRole.COMMUNICATIONS)
TK = Actor(id="tk1", role=StaffRole.TK)
ROLE_ACTORS: dict[StaffRole, Actor] = {
    StaffRole.CASE_OWNER: TEACHER,
    StaffRole.LEADERSHIP: LEADER,
    StaffRole.COMMUNICATIONS: COMMS,
    StaffRole.TK: TK,
}
STAFF = ROLE_ACTORS  # the name the fault suite uses

# The twelve human steps of the internal route from assessment through treatment.
INTERNAL_ROUTE_TO_TREAT: tuple[str, ...] = (
    "assess.involve_custody",
    "assess.uncover",
    "assess.evaluate",
    "assess.involve_leadership",
    "assess.involve_tk",
    "document.preserve",
    "document.note",
    "stop.cooperate",
    "stop.action_plan",
    "report.insurance",
    "treat.help",
    "treat.surroundings",
)
# Tasks opened by a durable timer (the evaluation, the follow-ups) or a missed deadline (the
# receipt's follow-up), not directly by a staff decision.
TIMER_OPENED: frozenset[str] = frozenset(
    {"close.evaluate", "close.follow_up", "report.underretning_follow_up"}
)
RECEIPT = "report.underretning_receipt"
RECEIPT_FOLLOW_UP = "report.underretning_follow_up"
FOLLOW_UP = "close.follow_up"


def actor_for(role: StaffRole | str) -> Actor:
    return ROLE_ACTORS[StaffRole(role)]


def new_case_number(prefix: str = "2026") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def case_input(
    reported_at: datetime,
    *,
    offender_known: bool = True,
    offender_age: int = 15,
    same_school: bool = False,
    violation_types: list[ViolationType] | None = None,
    parents_suspected: bool = False,
    case_number: str | None = None,
    school_id: str = DEFAULT_SCHOOL,
    procedure_version: str | None = None,
) -> CaseInput:
    """A realistic case: P1 (victim, 14) and P3 (witness, 14), and P2 (the offender) if known."""
    participants = [
        Participant(pseudonym="P1", role=ParticipantRole.VICTIM, age=14, same_school=True),
        Participant(pseudonym="P3", role=ParticipantRole.WITNESS, age=14, same_school=True),
    ]
    if offender_known:
        participants.append(
            Participant(
                pseudonym="P2",
                role=ParticipantRole.OFFENDER,
                age=offender_age,
                same_school=same_school,
            )
        )
    extra: dict[str, Any] = {}
    if procedure_version is not None:
        extra["procedure_version"] = procedure_version
    return CaseInput(
        case_number=case_number or new_case_number(),
        school_id=school_id,
        opened_by=TEACHER,
        reported_at=reported_at,
        violation_types=violation_types or [ViolationType.HARASSMENT],
        participants=participants,
        offender_known=offender_known,
        parents_suspected=parents_suspected,
        **extra,
    )


def decision(key: str, now: datetime, **overrides: Any) -> dict[str, Any]:
    """A complete, sensible decision for each task, as the platform would send it (JSON)."""
    base: dict[str, dict[str, Any]] = {
        "assess.uncover": {
            "what": "P2 har delt krænkende beskeder om P1 i en klassegruppe",
            "where": "Snapchat, klassegruppe 7.b",
            "when_occurred": (now - timedelta(days=2)).isoformat(),
            "involved": ["P1", "P2"],
            "sexual_material_of_minor": False,
            "material_online": False,
        },
        "assess.evaluate": {
            "severity": "medium",
            "route": "internal",
            "underretning": False,
            "ssp": False,
        },
        "assess.involve_leadership": {"course_agreed": True},
        "assess.involve_tk": {"tk_contacted": True},
        "assess.involve_custody": {
            "custody_holders_informed": True,
            "for_participants": ["P1", "P2"],
        },
        "document.preserve": {
            "evidence": [
                {
                    "kind": "screenshot",
                    "held_by": "family",
                    "secured_at": now.isoformat(),
                    "usernames_noted": True,
                    "times_noted": True,
                }
            ],
            "staff_devices_clear": True,
        },
        "document.note": {"text": "Godkendt notat om forløbet."},
        "stop.cooperate": {
            "actors": ["parents", "students", "ssp_teacher"],
            "material_deleted": True,
            "further_measures": ["class_announcement"],
        },
        "stop.police_handover": {"police_took_over": True, "school_contact_kept": True},
        "stop.unknown_offender": {"removal_guidance_given": True, "sletdet_referred": True},
        "stop.action_plan": {"plan_written": True, "summary": "Handlingsplan for 7.b"},
        "report.police": {"recommended_to_family": True, "filed": "yes"},
        "report.insurance": {"guidance_given": True},
        "report.underretning": {"submitted_at": now.isoformat()},
        "report.underretning_receipt": {"received_at": now.isoformat()},
        "report.underretning_follow_up": {"municipality_contacted": True},
        "treat.help": {"tk_contacted": True, "victim_help": ["tk"], "offender_help": ["tk"]},
        "treat.surroundings": {
            "inform_classmates": True,
            "inform_parents": True,
            "inform_school": False,
        },
        "treat.same_school": {"measures": "Forskudte pauser og fast voksen"},
        "treat.press": {"statement": "declined"},
        "close.evaluate": {
            "worked": "Hurtig inddragelse af forældre",
            "did_not_work": "Sen kontakt til TK",
            "family_asked": True,
            "note": "Evalueringsnotat.",
        },
        "close.follow_up": {
            "rumours": False,
            "class_problems": False,
            "help_received": True,
            "outcome": "close",
        },
    }
    return {"task": key, **base[key], **overrides}


def completion(
    key: str,
    task_id: str | None,
    role: StaffRole | str,
    decided: dict[str, Any],
    *,
    actor: Actor | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The `submit_task` payload (a `TaskCompletion` as JSON) for a decision on a task."""
    payload: dict[str, Any] = {
        "task_key": key,
        "actor": (actor or actor_for(role)).model_dump(mode="json"),
        "decision": decided,
    }
    if task_id is not None:
        payload["task_id"] = task_id
    if reason:
        payload["reason"] = reason
    return payload


# ------------------------------------------------------------------------ routes


@dataclass(frozen=True)
class Route:
    """One kind of case: what happened, and what the school decides at the evaluation."""

    name: str
    violations: tuple[ViolationType, ...]
    offender_age: int | None  # None: the offender is unknown
    same_school: bool
    parents_suspected: bool
    sexual_material: bool
    material_online: bool
    route: str  # internal | police
    underretning: bool
    ssp: bool
    late_receipt: bool = False  # the receipt comes only after its follow-up task was done
    press: bool = False  # a journalist calls (a valid press inquiry) once the case runs


# Together these reach every branch whose timers matter: the evaluation and both follow-ups
# (every case), the underretning receipt and its follow-up when the receipt is late, SletDet
# for an unknown offender or material online, special measures at the same school, a custody
# task that waits for the underretning, a press inquiry.
ROUTES: tuple[Route, ...] = (
    Route(
        "internal",
        (ViolationType.HARASSMENT,),
        15,
        False,
        False,
        False,
        False,
        "internal",
        False,
        False,
    ),
    Route(
        "internal_underretning",
        (ViolationType.HARASSMENT, ViolationType.FAKE_PROFILE),
        13,
        True,
        False,
        False,
        False,
        "internal",
        True,
        True,
    ),
    Route(
        "police_underretning",
        (ViolationType.INTIMATE_IMAGES,),
        16,
        True,
        False,
        True,
        True,
        "police",
        True,
        False,
        late_receipt=True,
    ),
    Route(
        "police",
        (ViolationType.THREATS,),
        16,
        False,
        False,
        False,
        False,
        "police",
        False,
        False,
        press=True,
    ),
    Route(
        "police_unknown_offender",
        (ViolationType.SEXTORTION,),
        None,
        False,
        False,
        False,
        True,
        "police",
        False,
        False,
    ),
    Route(
        "internal_parents_suspected",
        (ViolationType.HARASSMENT,),
        15,
        True,
        True,
        False,
        False,
        "internal",
        True,
        False,
        late_receipt=True,
    ),
    Route(
        "internal_unknown_offender",
        (ViolationType.HARASSMENT,),
        None,
        False,
        False,
        False,
        True,
        "internal",
        False,
        False,
        press=True,
    ),
)


def route_for(index: int) -> Route:
    return ROUTES[index % len(ROUTES)]


def route_case_input(
    route: Route,
    reported_at: datetime,
    *,
    case_number: str | None = None,
    school_id: str = DEFAULT_SCHOOL,
    procedure_version: str | None = DEMO_VERSION,
) -> CaseInput:
    """The case of `route` (on the demo card unless told otherwise)."""
    return case_input(
        reported_at,
        offender_known=route.offender_age is not None,
        offender_age=route.offender_age or 15,
        same_school=route.same_school,
        violation_types=list(route.violations),
        parents_suspected=route.parents_suspected,
        case_number=case_number,
        school_id=school_id,
        procedure_version=procedure_version,
    )


def is_first_follow_up(task_id: str | None) -> bool:
    """The first follow-up's task id is the key itself; the second is `close.follow_up-2`."""
    return task_id in (None, FOLLOW_UP)


def route_decision(
    route: Route, key: str, task_id: str | None, now: datetime, **overrides: Any
) -> dict[str, Any]:
    """`decision` fitted to the route's facts, so it follows the recommendation.

    The first follow-up watches on, the second closes — decided by the task id, so a retried
    completion always sends the same decision."""
    facts: dict[str, Any] = {}
    if key == "assess.uncover":
        facts = {
            "when_occurred": (now - timedelta(days=1)).isoformat(),
            "involved": ["P1", "P2"] if route.offender_age is not None else ["P1"],
            "sexual_material_of_minor": route.sexual_material,
            "material_online": route.material_online,
        }
    elif key == "assess.evaluate":
        facts = {
            "severity": "high" if route.route == "police" else "medium",
            "route": route.route,
            "underretning": route.underretning,
            "ssp": route.ssp,
        }
    elif key == "stop.cooperate" and route.offender_age is not None and route.offender_age < 15:
        # The police's advice on an offender under 15 (a bekymringssamtale) is recommended.
        facts = {"actors": ["parents", "students", "ssp_teacher", "local_police"]}
    elif key == FOLLOW_UP:
        facts = {"outcome": "continue" if is_first_follow_up(task_id) else "close"}
    return decision(key, now, **{**facts, **overrides})


# ------------------------------------------------------------------------ the demo's story

# 8. årgang: P2 (15) has shared an intimate image of P1 (14) in the year group's chat; P3 saw
# it and told. Old enough to be punished, so the police route; forwarded among pupils, so the
# school deletes it and deals with the class beside the police.
DEMO_ROUTE = Route(
    "demo",
    (ViolationType.INTIMATE_IMAGES, ViolationType.HARASSMENT),
    15,
    True,
    False,
    True,
    True,
    "police",
    True,
    False,
    late_receipt=True,
    press=True,
)


def demo_decision(key: str, task_id: str | None, now: datetime) -> dict[str, Any]:
    """The decision `sagsflow demo` makes on each task of its story (JSON, as sent)."""
    iso = now.isoformat()
    story: dict[str, dict[str, Any]] = {
        "assess.involve_custody": {"for_participants": ["P1", "P2"]},
        "assess.uncover": {
            "what": "P2 har delt et intimt billede af P1 i en Snapchat-gruppe for 8. årgang "
            "og skrevet nedsættende kommentarer; P3 så det og fortalte det til en lærer",
            "where": "Snapchat, gruppe for 8. årgang",
            "involved": ["P1", "P2", "P3"],
            "material_shared": True,
        },
        "assess.involve_leadership": {
            "note": "Politianmeldelse støttes; skolelederen tager forældresamtalerne",
        },
        "assess.involve_tk": {"advice": "TK tilbyder samtaler til P1 og P2"},
        RECEIPT_FOLLOW_UP: {
            "note": "Kommunen bekræfter telefonisk at have modtaget underretningen",
        },
        "document.preserve": {
            "evidence": [
                {
                    "kind": "screenshot",
                    "held_by": "family",
                    "secured_at": iso,
                    "usernames_noted": True,
                    "times_noted": True,
                },
                {
                    "kind": "message",
                    "held_by": "police",
                    "secured_at": iso,
                    "usernames_noted": True,
                    "times_noted": True,
                },
            ],
        },
        "document.note": {
            "text": "P1 (14 år) er krænket: P2 (15 år, samme skole) har delt et intimt billede "
            "af P1 i en Snapchat-gruppe for 8. årgang. P3 så det og sagde det til en lærer. "
            "Beviser er sikret hos familien og politiet. Politianmeldelse og underretning.",
        },
        "stop.action_plan": {
            "summary": "Fast voksen i pauserne, ugentlig samtale med P1, klassesamtale om "
            "digital dømmekraft",
        },
        "treat.help": {"victim_help": ["tk", "psychologist"], "offender_help": ["tk"]},
        "treat.same_school": {
            "measures": "Forskudte pauser, P2 skifter valgfagshold, fast voksen for P1",
        },
        "treat.press": {
            "statement": "given",
            "note": "Kort udtalelse om skolens handlekort; ingen oplysninger om eleverne",
        },
        "close.evaluate": {
            "worked": "Hurtig inddragelse af forældre, TK og politi",
            "did_not_work": "Billedet lå online i et døgn, før sletning blev sat i gang",
            "learning_points": "Vejled om SletDet allerede ved første samtale",
            "note": "Evalueret med P1's forældre, kontaktlærer, skoleleder og TK.",
        },
        FOLLOW_UP: {"rumours": is_first_follow_up(task_id)},
    }
    return route_decision(DEMO_ROUTE, key, task_id, now, **story.get(key, {}))
