"""Danish texts of a case: notifications, the UI's current details, the note's facts.

Pure: no Temporal calls, so the workflow class holds orchestration only and these can be read
(and tested) on their own.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from procedure.calendar import local_time
from procedure.models import Contacts
from schemas.activities import NoteFacts, NotificationKind
from schemas.case import CaseInput
from schemas.common import Route, Severity
from schemas.decisions import PreserveDecision, UncoverDecision
from schemas.labels import EVIDENCE_HOLDER_DA, EVIDENCE_KIND_DA, PARTICIPANT_ROLE_DA
from schemas.messages import PressInquiry
from schemas.snapshot import NextTimer, Recommendation, TaskView

NO_PERSONAL_DATA = " Se sagen på platformen. Beskeden indeholder ingen personoplysninger."


def notification(
    case_number: str, view: TaskView, kind: NotificationKind, tz: ZoneInfo | None
) -> tuple[str, str]:
    """Subject and body of a notification: case number, task title and deadline only."""
    due = local_time(view.due_at, tz)
    if kind == NotificationKind.TASK_OPENED:
        subject = f"Sag {case_number}: Ny opgave – {view.title}"
        body = f"Der er en ny opgave i sag {case_number}: {view.title}. Frist: {due}."
    elif kind == NotificationKind.REMINDER:
        subject = f"Sag {case_number}: Påmindelse – {view.title}"
        body = f"Fristen for opgaven '{view.title}' i sag {case_number} var {due}."
    else:
        subject = f"Sag {case_number}: Eskalering – {view.title}"
        body = (
            f"Opgaven '{view.title}' i sag {case_number} er ikke udført. Fristen var {due}. "
            "Ledelsen bedes følge op."
        )
    return subject, body + NO_PERSONAL_DATA


def details(
    case: CaseInput,
    phase_heading: str,
    status: str,
    route: str,
    severity: str,
    open_tasks: list[TaskView],
    next_timer: NextTimer | None,
    tz: ZoneInfo | None,
) -> str:
    """The Web UI's current details (markdown): where the case stands, no personal data."""
    lines = [
        f"**Sag {case.case_number}** · {case.school_id}",
        f"Fase: {phase_heading} · Status: {status} · Spor: {route} · Alvor: {severity}",
    ]
    for view in sorted(open_tasks, key=lambda v: v.due_at):
        lines.append(f"- {view.title} ({view.role.value}), frist {local_time(view.due_at, tz)}")
    if next_timer is not None:
        lines.append(f"Næste timer: {next_timer.what} {local_time(next_timer.at, tz)}")
    return "\n".join(lines)


def recommendation_event(advice: Recommendation) -> tuple[str, str]:
    advised = [
        label
        for label, on in (
            ("politianmeldelse", advice.police_report),
            ("underretning", advice.underretning),
            ("SSP", advice.ssp),
            ("politiets råd (bekymringssamtale)", advice.police_advice),
        )
        if on
    ]
    return (
        "Anbefaling: " + (", ".join(advised) if advised else "intern håndtering"),
        " ".join(advice.reasons),
    )


def note_facts(
    case: CaseInput,
    uncover: UncoverDecision,
    preserve: PreserveDecision,
    route: Route,
    severity: Severity,
    tz: ZoneInfo | None,
) -> NoteFacts:
    return NoteFacts(
        case_number=case.case_number,
        school_id=case.school_id,
        reported_at=case.reported_at,
        participants=[
            f"{p.pseudonym} ({PARTICIPANT_ROLE_DA[p.role]}, {p.age} år"
            + (", samme skole)" if p.same_school else ", anden skole)")
            for p in case.participants
        ],
        violation_types=[v.value for v in case.violation_types],
        what=uncover.what,
        where=uncover.where,
        when_occurred=uncover.when_occurred,
        evidence=[
            f"{EVIDENCE_KIND_DA[item.kind].capitalize()}, opbevares af "
            f"{EVIDENCE_HOLDER_DA[item.held_by]}, sikret {local_time(item.secured_at, tz)}"
            + (", brugernavne noteret" if item.usernames_noted else "")
            + (", tidspunkter noteret" if item.times_noted else "")
            for item in preserve.evidence
        ],
        route=route,
        severity=severity,
    )


# The card's ANMELD KRÆNKELSEN, for the family on the internal route too.
POLICE_REPORT_BY_THE_FAMILY = (
    "Familien kan fortsat selv anmelde krænkelsen til politiet: på politistationen, ved at "
    "ringe 114 eller på politi.dk/anmeld. Skolen kan støtte og anbefale en anmeldelse."
)


# Why the school's own cooperation (stop.cooperate) opens beside the police route or carries
# more than the card's text: staff see the reason in the task's guidance.
SSP_CHOSEN = (
    "SSP er valgt i vurderingen: inddrag SSP-lærer og/eller SSP-konsulent i samarbejdet "
    "(retsplejeloven § 115)."
)
POLICE_ADVICE_FOR_A_YOUNG_OFFENDER = (
    "Krænkeren er under 15 år og kan ikke straffes: kontakt politiet (lokalbetjenten) om en "
    "bekymringssamtale og om at få materialet fjernet."
)
MATERIAL_SHARED_ON_THE_POLICE_ROUTE = (
    "Materialet er delt blandt elever: det slettes, og der tages stilling til tiltag over for "
    "klassen, side om side med politiets arbejde."
)
POLICE_DID_NOT_TAKE_OVER = (
    "Politiet har ikke overtaget indsatsen: skolen stopper selv krænkelsen med de relevante "
    "aktører."
)


def police_report_not_filed(filed: str) -> str:
    """Guidance when the police route has no report behind it (the police act on a report)."""
    if filed == "unknown":
        return (
            "Det vides ikke, om familien har anmeldt: følg op med familien. Indtil politiet har "
            "en anmeldelse, stopper skolen selv krænkelsen med de relevante aktører."
        )
    return (
        "Familien har ikke anmeldt krænkelsen: skolen stopper selv krænkelsen med de relevante "
        "aktører. Familien kan fortsat anmelde (politistationen, 114 eller politi.dk/anmeld)."
    )


def custody_guidance(child: str, case: CaseInput) -> str:
    """Whose custody holders a task of one per child is about."""
    role = next(
        (PARTICIPANT_ROLE_DA[p.role] for p in case.participants if p.pseudonym == child), None
    )
    who = f"{child} ({role})" if role else child
    return (
        f"Denne opgave gælder forældremyndighedsindehaverne til {who}. Hvert barns "
        "forældremyndighedsindehavere har deres egen opgave."
    )


def contacts_guidance(contacts: Contacts) -> str:
    """The card's "ER DU FORTSAT I TVIVL, SÅ KONTAKT", for the tasks of the school's staff."""
    tk, consultant = contacts.tk, contacts.consultant
    title = consultant.title or "Konsulent"
    return (
        f"Er du fortsat i tvivl, så kontakt {tk.name}, der kan bidrage med råd og vejledning: "
        f"telefon {tk.phone}, mail {tk.mail}. {title}: {consultant.name}, "
        f"telefon {consultant.phone}, mail {consultant.mail}."
    )


def press_guidance(inquiry: PressInquiry) -> str:
    """What the journalist asked, for communications (pseudonyms only, as every message)."""
    asked = f": {inquiry.summary}" if inquiry.summary else " (intet resumé af spørgsmålet)"
    return f"Henvendelse fra {inquiry.medium}{asked}"


def batch_summary(batch: Any) -> str:
    """The Web UI's one line for a store write: the tasks it opened and closed."""
    parts = [f"Åbn opgave: {r.title}" for r in batch.opened]
    parts += [f"Luk opgave: {r.task_id}" for r in batch.closed]
    if batch.events:
        parts.append(f"Tidslinje: {len(batch.events)}")
    return "Gem sagen – " + "; ".join(parts) if parts else "Gem sagen"
