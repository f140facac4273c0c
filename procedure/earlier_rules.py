"""The recommendation as cases started before the "card-round-three" marker were advised.

Frozen: a running case replays the advice it was given (a recommendation decides which updates
need a reason and, since "card-round-two", whether the underretning opens at once), so these
rules stay exactly as they were. New cases are advised by `procedure.rules`, whose rules name
their legal basis (docs/legal.md).
"""

from __future__ import annotations

from schemas.case import CaseInput
from schemas.common import ViolationType
from schemas.decisions import UncoverDecision
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
