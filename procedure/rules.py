"""The recommendation engine, in plain rules with their legal basis, and the deviations that
need a written reason.

Pure functions over the case input and recorded decisions; the workflow records their advice.
Each rule in RULES names the sections it rests on; docs/legal.md explains every rule with its
sources (a test holds the two together). Cases started before the "card-round-three" marker
keep the advice they were given: procedure/earlier_rules.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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

# Before anything is uncovered, the kinds of violation that are sexual material by nature.
SEXUAL_TYPES = {ViolationType.INTIMATE_IMAGES, ViolationType.SEXTORTION}

SSP_ACTORS = {"ssp_teacher", "ssp_consultant"}


@dataclass(frozen=True)
class Facts:
    """What the rules look at: the case as opened and, once uncovered, what was found."""

    case: CaseInput
    types: frozenset[ViolationType]
    sexual_minor: bool
    young: tuple[str, ...]  # known offenders under 15 (pseudonyms)
    punishable: bool  # someone may be punished: the offender is unknown, or one is 15 or older


def facts_of(case: CaseInput, uncover: UncoverDecision | None) -> Facts:
    offenders = case.offenders()
    young = tuple(o.pseudonym for o in offenders if o.age < AGE_OF_CRIMINAL_RESPONSIBILITY)
    return Facts(
        case=case,
        types=frozenset(case.violation_types),
        sexual_minor=(
            uncover.sexual_material_of_minor
            if uncover
            else bool(SEXUAL_TYPES & set(case.violation_types))
        ),
        young=young,
        punishable=not case.offender_known or len(young) < len(offenders),
    )


@dataclass(frozen=True)
class Rule:
    """One rule of advice: when it applies, what it finds (Danish, for staff), the sections it
    rests on, and what it advises. `offence`: a criminal offence, so a police report is
    advised, provided someone can be punished for it."""

    key: str
    basis: tuple[str, ...]
    applies: Callable[[Facts], bool]
    finding: Callable[[Facts], str]
    offence: bool = False
    underretning: bool = False
    ssp: bool = False
    police_advice: bool = False


def _of_type(kind: ViolationType) -> Callable[[Facts], bool]:
    return lambda facts: kind in facts.types


RULES: tuple[Rule, ...] = (
    Rule(
        key="sexual_material_of_minor",
        basis=("straffeloven § 235", "Barnets lov § 133"),
        applies=lambda f: f.sexual_minor,
        finding=lambda f: (
            "Seksuelt materiale af en person under 18 år – også tegnet, AI-genereret eller "
            "manipuleret materiale, som må ligestilles hermed – må hverken deles eller besiddes "
            "(straffeloven § 235). Barnet kan have brug for støtte: der skal underrettes "
            "(Barnets lov § 133)."
        ),
        offence=True,
        underretning=True,
    ),
    Rule(
        key="private_images",
        basis=("straffeloven § 264 d", "straffeloven § 275, stk. 2"),
        applies=_of_type(ViolationType.INTIMATE_IMAGES),
        finding=lambda f: (
            "Deling af private billeder eller beskeder uden samtykke er strafbar "
            "(straffeloven § 264 d). Politiet forfølger den på den krænkedes anmodning "
            "(straffeloven § 275, stk. 2): familien beslutter anmeldelsen, skolen støtter."
        ),
        offence=True,
    ),
    Rule(
        key="sextortion",
        basis=("straffeloven § 260", "straffeloven § 281"),
        applies=_of_type(ViolationType.SEXTORTION),
        finding=lambda f: (
            "Sextortion – at true med at dele billeder for at få flere billeder, penge eller "
            "andet – er ulovlig tvang (straffeloven § 260) eller afpresning (straffeloven § 281)."
        ),
        offence=True,
    ),
    Rule(
        key="threats",
        basis=("straffeloven § 266",),
        applies=_of_type(ViolationType.THREATS),
        finding=lambda f: (
            "Trusler, der kan fremkalde alvorlig frygt for liv, helbred eller velfærd, er "
            "strafbare (straffeloven § 266) og forfølges af politiet uden anmodning."
        ),
        offence=True,
    ),
    Rule(
        key="deepfake",
        basis=("straffeloven § 264 e, stk. 1, nr. 2", "straffeloven § 264 e, stk. 2"),
        applies=_of_type(ViolationType.DEEPFAKE),
        finding=lambda f: (
            "Manipuleret materiale (deepfake) af en anden – også seksuelt materiale – må ikke "
            "deles, og seksuelt materiale af en anden må ikke fremstilles (straffeloven § 264 e, "
            "stk. 1, nr. 2, og stk. 2)."
            + (
                " Forestiller det en person under 18 år seksuelt, gælder § 235 også."
                if f.sexual_minor
                else ""
            )
        ),
        offence=True,
    ),
    Rule(
        key="fake_profile",
        basis=("straffeloven § 264 e, stk. 1, nr. 1", "straffeloven § 275, stk. 2"),
        applies=_of_type(ViolationType.FAKE_PROFILE),
        finding=lambda f: (
            "En falsk profil, der udgiver sig for at være en anden, er identitetsmisbrug "
            "(straffeloven § 264 e, stk. 1, nr. 1). Politiet forfølger det på den krænkedes "
            "anmodning (straffeloven § 275, stk. 2)."
        ),
        offence=True,
    ),
    Rule(
        key="harassment",
        basis=("undervisningsmiljøloven § 1 c",),
        applies=_of_type(ViolationType.HARASSMENT),
        finding=lambda f: (
            "Digital mobning og chikane håndterer skolen med en skriftlig handlingsplan senest "
            "10 arbejdsdage efter, at skolen blev bekendt med den (undervisningsmiljøloven § 1 c). "
            "Trusler og deling af private billeder vurderes efter reglerne for dem."
        ),
    ),
    Rule(
        key="other",
        basis=("handlekortet: Er du fortsat i tvivl",),
        applies=_of_type(ViolationType.OTHER),
        finding=lambda f: (
            "En anden krænkelse: ingen særskilt regel. Vurder den ud fra afdækningen, og "
            "kontakt Tryghed og Kriminalitetsforebyggelse ved tvivl (handlekortet)."
        ),
    ),
    Rule(
        key="offender_under_15",
        basis=(
            "straffeloven § 15",
            "retsplejeloven kapitel 75 b",
            "retsplejeloven § 115",
            "Barnets lov § 133",
        ),
        applies=lambda f: bool(f.young),
        finding=lambda f: (
            f"Krænker under 15 år ({', '.join(f.young)}) kan ikke straffes (straffeloven § 15), "
            "men politiet kan stadig gribe ind over for børn under 15 år (retsplejeloven kapitel "
            "75 b): kontakt politiet om en bekymringssamtale og om at få materialet fjernet. "
            "SSP inddrages (retsplejeloven § 115), og der underrettes, da barnet kan have brug "
            "for støtte (Barnets lov § 133)."
        ),
        underretning=True,
        ssp=True,
        police_advice=True,
    ),
    Rule(
        key="parents_suspected",
        basis=("Barnets lov § 133",),
        applies=lambda f: f.case.parents_suspected,
        finding=lambda f: (
            "Forældrene mistænkes: der skal underrettes, og forældrene kontaktes ikke først "
            "(Barnets lov § 133)."
        ),
        underretning=True,
    ),
)


def recommend(case: CaseInput, uncover: UncoverDecision | None) -> Recommendation:
    """The advice for a case: every rule that applies, each with its finding, and what follows.

    A police report is advised for an offence only when someone can be punished for it; when
    every known offender is under 15, the police are asked for advice instead (no report
    beside "kan ikke straffes")."""
    facts = facts_of(case, uncover)
    applied = [rule for rule in RULES if rule.applies(facts)]
    offence = any(rule.offence for rule in applied)
    police = offence and facts.punishable
    reasons = [rule.finding(facts) for rule in applied]
    if police:
        reasons.append(
            "Politianmeldelse anbefales: familien anmelder (politistationen, 114 eller "
            "politi.dk/anmeld), skolen støtter."
        )
    elif offence:
        reasons.append(
            "Ingen politianmeldelse: den kendte krænker er under 15 år. Har andre på 15 år "
            "eller derover delt materialet videre, anbefales en anmeldelse."
        )
    if not applied:
        reasons.append("Ingen regel peger på politianmeldelse eller underretning.")
    return Recommendation(
        police_report=police,
        underretning=any(rule.underretning for rule in applied),
        ssp=any(rule.ssp for rule in applied),
        police_advice=any(rule.police_advice for rule in applied),
        reasons=reasons,
        rules=[rule.key for rule in applied],
    )


def deviations(
    decision: object,
    recommendation: Recommendation | None,
    case: CaseInput | None = None,
    *,
    card_round: int = 1,
    evaluation: EvaluateDecision | None = None,
    for_child: str | None = None,
) -> list[str]:
    """Danish descriptions of how a decision departs from advice; each needs a reason.

    `card_round` is the rule set the case started under (the workflow's patch markers; a
    running case keeps the rules it started with). From 2 ("card-round-two"): the card's help
    with Tryghed og Kriminalitetsforebyggelse — sparring in the assessment, help for the victim
    and for a known offender in the treatment — left out only with a reason; the custody holders
    of every victim and known offender, each; and choosing a police report, an underretning or
    SSP that was not recommended departs from the advice as much as leaving one out. From 3
    ("card-round-three"): the cooperation includes SSP when the evaluation chose it
    (`evaluation`), and the police when their advice on an offender under 15 was recommended;
    a custody task of one child (`for_child`) is about that child's custody holders.
    """
    found: list[str] = []
    if card_round >= 2:
        found += _help_not_given(decision, case)
        found += _custody_not_informed(decision, case, for_child)
    if card_round >= 3:
        found += _cooperation_short(decision, recommendation, evaluation)
    if isinstance(decision, EvaluateDecision) and recommendation is not None:
        if recommendation.police_report and decision.route != "police":
            found.append("Politianmeldelse anbefales, men sagen håndteres internt.")
        if recommendation.underretning and not decision.underretning:
            found.append("Underretning anbefales, men der underrettes ikke.")
        if recommendation.ssp and not decision.ssp:
            found.append("SSP anbefales, men SSP inddrages ikke.")
        if card_round >= 2:
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


def _cooperation_short(
    decision: object, recommendation: Recommendation | None, evaluation: EvaluateDecision | None
) -> list[str]:
    if not isinstance(decision, CooperateDecision):
        return []
    found: list[str] = []
    if evaluation is not None and evaluation.ssp and not SSP_ACTORS & set(decision.actors):
        found.append(
            "SSP er valgt i vurderingen, men hverken SSP-lærer eller SSP-konsulent indgår."
        )
    advised = recommendation is not None and recommendation.police_advice
    if advised and "local_police" not in decision.actors:
        found.append(
            "Politiets råd om krænkeren under 15 år (bekymringssamtale, fjernelse af "
            "materiale) anbefales, men politiet indgår ikke i samarbejdet."
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


def _custody_not_informed(
    decision: object, case: CaseInput | None, for_child: str | None
) -> list[str]:
    if not isinstance(decision, InvolveCustodyDecision) or case is None:
        return []
    if not decision.custody_holders_informed:
        return []  # said of all of them: the rule above
    children = [for_child] if for_child is not None else custody_children(case)
    missing = [c for c in children if c not in decision.for_participants]
    if not missing:
        return []
    return [f"Forældremyndighedsindehaverne til {', '.join(missing)} er ikke inddraget."]
