"""The recommendation engine, in plain rules, and the deviations that need a written reason.

Pure functions over the case input and recorded decisions; the workflow records their advice.
"""

from __future__ import annotations

from schemas.case import CaseInput
from schemas.common import ViolationType
from schemas.decisions import (
    CooperateDecision,
    EvaluateDecision,
    FollowUpDecision,
    HelpDecision,
    InvolveCustodyDecision,
    InvolveTkDecision,
    PoliceReportDecision,
    UncoverDecision,
)
from schemas.snapshot import Recommendation

AGE_OF_CRIMINAL_RESPONSIBILITY = 15  # straffeloven § 15

SEXUAL_TYPES = {ViolationType.INTIMATE_IMAGES, ViolationType.SEXTORTION}


def recommend(case: CaseInput, uncover: UncoverDecision | None) -> Recommendation:
    police = underretning = ssp = False
    reasons: list[str] = []
    sexual_minor = (
        uncover.sexual_material_of_minor
        if uncover
        else bool(SEXUAL_TYPES & set(case.violation_types))
    )
    if sexual_minor:
        police = underretning = True
        reasons.append(
            "Seksuelle billeder af en person under 18 år (straffeloven § 235): politianmeldelse "
            "anbefales (Red Barnet), og der skal underrettes (Barnets lov § 133)."
        )
    if ViolationType.SEXTORTION in case.violation_types:
        police = True
        reasons.append("Sextortion (afpresning) er strafbart: politianmeldelse anbefales.")
    if ViolationType.THREATS in case.violation_types:
        police = True
        reasons.append("Trusler (straffeloven § 266): politianmeldelse anbefales.")
    young = [o for o in case.offenders() if o.age < AGE_OF_CRIMINAL_RESPONSIBILITY]
    if young:
        underretning = ssp = True
        names = ", ".join(o.pseudonym for o in young)
        reasons.append(
            f"Krænker under 15 år ({names}) kan ikke straffes (straffeloven § 15): "
            "underretning og SSP anbefales; den krænkedes familie kan stadig anmelde."
        )
    if case.parents_suspected:
        underretning = True
        reasons.append(
            "Forældre mistænkes: der skal underrettes, og forældrene kontaktes ikke først "
            "(Barnets lov § 133)."
        )
    if not reasons:
        reasons.append("Ingen regel peger på politianmeldelse eller underretning.")
    return Recommendation(police_report=police, underretning=underretning, ssp=ssp, reasons=reasons)


def deviations(
    decision: object,
    recommendation: Recommendation | None,
    case: CaseInput | None = None,
    *,
    help_needs_reasons: bool = False,
    custody_for_each_child: bool = False,
    both_ways: bool = False,
) -> list[str]:
    """Danish descriptions of how a decision departs from advice; each needs a reason.

    `help_needs_reasons` (cases started since the workflow's "card-round-two" marker, as the
    two below; the cases before keep the rules they started under): the card's help with Tryghed
    og Kriminalitetsforebyggelse — sparring in the assessment, help for the victim and for a
    known offender in the treatment — left out only with a reason. `custody_for_each_child`:
    the custody holders of every victim and known offender, each. `both_ways`: choosing a police
    report, an underretning or SSP that was not recommended departs from the advice as much as
    leaving one out.
    """
    found: list[str] = []
    if help_needs_reasons:
        found += _help_not_given(decision, case)
    if custody_for_each_child:
        found += _custody_not_informed(decision, case)
    if isinstance(decision, EvaluateDecision) and recommendation is not None:
        if recommendation.police_report and decision.route != "police":
            found.append("Politianmeldelse anbefales, men sagen håndteres internt.")
        if recommendation.underretning and not decision.underretning:
            found.append("Underretning anbefales, men der underrettes ikke.")
        if recommendation.ssp and not decision.ssp:
            found.append("SSP anbefales, men SSP inddrages ikke.")
        if both_ways:
            if not recommendation.police_report and decision.route == "police":
                found.append("Politianmeldelse er ikke anbefalet, men sagen går til politiet.")
            if not recommendation.underretning and decision.underretning:
                found.append("Underretning er ikke anbefalet, men der underrettes.")
            if not recommendation.ssp and decision.ssp:
                found.append("SSP er ikke anbefalet, men SSP inddrages.")
    elif isinstance(decision, PoliceReportDecision):
        if not decision.recommended_to_family:
            found.append("Politianmeldelse er ikke anbefalet over for familien.")
    elif isinstance(decision, InvolveCustodyDecision):
        if not decision.custody_holders_informed:
            found.append("Forældremyndighedsindehaverne er ikke inddraget.")
    elif isinstance(decision, CooperateDecision):
        if not decision.material_deleted:
            found.append("Delt materiale er ikke slettet.")
    elif (
        isinstance(decision, FollowUpDecision)
        and decision.outcome == "close"
        and (decision.rumours or decision.class_problems or not decision.help_received)
    ):
        found.append(
            "Sagen afsluttes, selv om der fortsat er rygter, problemer i klassen eller "
            "manglende hjælp."
        )
    return found


def _help_not_given(decision: object, case: CaseInput | None) -> list[str]:
    found: list[str] = []
    if isinstance(decision, InvolveTkDecision) and not decision.tk_contacted:
        found.append("Tryghed og Kriminalitetsforebyggelse er ikke kontaktet for sparring.")
    elif isinstance(decision, HelpDecision):
        if not decision.tk_contacted:
            found.append("Tryghed og Kriminalitetsforebyggelse er ikke kontaktet om hjælp.")
        if not decision.victim_help:
            victims = ", ".join(p.pseudonym for p in case.victims()) if case else ""
            found.append(f"Den krænkede ({victims or 'ukendt'}) får ingen hjælp.")
        if case is not None and case.offender_known and not decision.offender_help:
            offenders = ", ".join(p.pseudonym for p in case.offenders())
            found.append(f"Krænkeren ({offenders or 'kendt'}) får ingen hjælp.")
    return found


def custody_children(case: CaseInput) -> list[str]:
    """Whose custody holders are informed: every victim, and every offender when known."""
    children = [p.pseudonym for p in case.victims()]
    if case.offender_known:
        children += [p.pseudonym for p in case.offenders()]
    return children


def _custody_not_informed(decision: object, case: CaseInput | None) -> list[str]:
    if not isinstance(decision, InvolveCustodyDecision) or case is None:
        return []
    if not decision.custody_holders_informed:
        return []  # said of all of them: the rule above
    missing = [c for c in custody_children(case) if c not in decision.for_participants]
    if not missing:
        return []
    return [f"Forældremyndighedsindehaverne til {', '.join(missing)} er ikke inddraget."]
