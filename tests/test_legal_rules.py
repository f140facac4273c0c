"""The recommendation engine against the law it cites (procedure/rules.py, docs/legal.md).

Pure functions: the advice a case is given and what departs from it. The same advice on the
time-skipping server, as whole cases: tests/test_card_fidelity.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from driver.decisions import (
    DEMO_ROUTE,
    ROUTES,
    Route,
    case_input,
    decision,
    demo_decision,
    route_case_input,
    route_decision,
)
from procedure import rules
from procedure.loader import load_spec
from schemas.common import ViolationType
from schemas.decisions import Decision, EvaluateDecision, UncoverDecision

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LEGAL = (Path(__file__).parent.parent / "docs" / "legal.md").read_text(encoding="utf-8")
DECISION = TypeAdapter(Decision)


def uncovered(**facts: object) -> UncoverDecision:
    return UncoverDecision.model_validate(decision("assess.uncover", NOW, **facts))


def test_every_rule_is_in_docs_legal_md_with_its_sections() -> None:
    sections = {match.group(1) for match in re.finditer(r"^### `([a-z_0-9]+)`", LEGAL, re.M)}
    rows = {
        m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_0-9]+)` \| ([^|]+)\|", LEGAL, re.M)
    }
    for rule in rules.RULES:
        assert rule.key in sections, f"{rule.key}: no section in docs/legal.md"
        assert rule.key in rows, f"{rule.key}: not in the table of docs/legal.md"
        heading = next(line for line in LEGAL.splitlines() if line.startswith(f"### `{rule.key}`"))
        for basis in rule.basis:
            assert basis in heading, f"{rule.key}: '{basis}' not in its heading"
            assert basis in rows[rule.key], f"{rule.key}: '{basis}' not in its table row"
    assert sections == {rule.key for rule in rules.RULES}, "docs/legal.md names a rule no more"


def test_each_finding_cites_the_sections_of_its_rule() -> None:
    case = case_input(NOW, offender_age=13, parents_suspected=True)
    facts = rules.facts_of(case, uncovered(sexual_material_of_minor=True))
    for rule in rules.RULES:
        finding = rule.finding(facts)
        for basis in rule.basis:
            section = basis.split(": ")[-1] if basis.startswith("handlekortet") else basis
            assert section.split(", stk.")[0].split(" ")[-1] in finding, (rule.key, basis)


@pytest.mark.parametrize("kind", list(ViolationType))
def test_every_violation_type_on_the_card_gets_advice_of_its_own(kind: ViolationType) -> None:
    advice = rules.recommend(case_input(NOW, violation_types=[kind]), uncovered())
    assert any(
        rule.applies(rules.facts_of(case_input(NOW, violation_types=[kind]), uncovered()))
        for rule in rules.RULES
        if rule.key not in ("offender_under_15", "parents_suspected", "sexual_material_of_minor")
    ), kind
    assert advice.rules and "Ingen regel" not in " ".join(advice.reasons)


def test_threats_by_a_13_year_old_advise_the_polices_help_not_a_report() -> None:
    """Finding 1: no "politianmeldelse anbefales" beside "kan ikke straffes (§ 15)"."""
    case = case_input(NOW, offender_age=13, violation_types=[ViolationType.THREATS])
    advice = rules.recommend(case, uncovered())
    assert not advice.police_report
    assert advice.police_advice and advice.ssp and advice.underretning
    text = " ".join(advice.reasons)
    assert "§ 15" in text and "bekymringssamtale" in text and "§ 266" in text
    assert "Politianmeldelse anbefales" not in text


def test_a_15_year_old_beside_a_13_year_old_can_be_reported() -> None:
    case = case_input(NOW, offender_age=16, violation_types=[ViolationType.THREATS])
    assert rules.recommend(case, uncovered()).police_report
    unknown = case_input(NOW, offender_known=False, violation_types=[ViolationType.THREATS])
    assert rules.recommend(unknown, uncovered()).police_report


def test_intimate_images_keep_section_264_d_when_not_sexual_material_of_a_minor() -> None:
    """Finding 1: unticking "sexual material of a minor" does not remove what the case's own
    violation type calls for."""
    case = case_input(NOW, violation_types=[ViolationType.INTIMATE_IMAGES])
    advice = rules.recommend(case, uncovered(sexual_material_of_minor=False))
    assert advice.police_report and "private_images" in advice.rules
    assert "sexual_material_of_minor" not in advice.rules
    assert any("§ 264 d" in reason and "§ 275" in reason for reason in advice.reasons)


def test_deepfakes_and_fake_profiles_are_advised_on_their_own() -> None:
    deepfake = rules.recommend(
        case_input(NOW, violation_types=[ViolationType.DEEPFAKE]),
        uncovered(sexual_material_of_minor=True),
    )
    assert deepfake.police_report and deepfake.underretning
    assert {"deepfake", "sexual_material_of_minor"} <= set(deepfake.rules)
    assert any("§ 264 e" in r and "§ 235" in r for r in deepfake.reasons)
    fake = rules.recommend(case_input(NOW, violation_types=[ViolationType.FAKE_PROFILE]), None)
    assert fake.police_report and any("§ 264 e, stk. 1, nr. 1" in r for r in fake.reasons)


def test_a_departure_in_either_direction_needs_a_reason() -> None:
    harassment = rules.recommend(case_input(NOW), uncovered())
    to_police = EvaluateDecision.model_validate(decision("assess.evaluate", NOW, route="police"))
    assert rules.deviations(to_police, harassment, card_round=3)
    threats = rules.recommend(case_input(NOW, violation_types=[ViolationType.THREATS]), None)
    internal = EvaluateDecision.model_validate(decision("assess.evaluate", NOW))
    assert rules.deviations(internal, threats, card_round=3)


def test_the_cooperation_includes_ssp_when_chosen_and_the_police_for_a_young_offender() -> None:
    case = case_input(NOW, offender_age=13)
    advice = rules.recommend(case, uncovered())
    chose = EvaluateDecision.model_validate(
        decision("assess.evaluate", NOW, underretning=True, ssp=True)
    )
    alone = DECISION.validate_python(decision("stop.cooperate", NOW, actors=["parents"]))
    found = rules.deviations(alone, advice, case, card_round=3, evaluation=chose)
    assert len(found) == 2 and "SSP" in found[0] and "politiet" in found[1]
    assert rules.deviations(alone, advice, case, card_round=2, evaluation=chose) == []
    together = DECISION.validate_python(
        decision("stop.cooperate", NOW, actors=["parents", "ssp_consultant", "local_police"])
    )
    assert rules.deviations(together, advice, case, card_round=3, evaluation=chose) == []


def story_decision(route: Route, key: str) -> dict[str, object]:
    if route is DEMO_ROUTE:
        return demo_decision(key, key, NOW)
    return route_decision(route, key, key, NOW)


@pytest.mark.parametrize("route", [*ROUTES, DEMO_ROUTE], ids=lambda r: r.name)
def test_the_drivers_stories_follow_the_recommendation(route: Route) -> None:
    """The load, chaos and demo stories send no reasons: each must follow the advice."""
    case = route_case_input(route, NOW)
    uncover = UncoverDecision.model_validate(story_decision(route, "assess.uncover"))
    advice = rules.recommend(case, uncover)
    evaluation = EvaluateDecision.model_validate(story_decision(route, "assess.evaluate"))
    for key in load_spec(version="demo").tasks:
        decided = DECISION.validate_python(story_decision(route, key))
        found = rules.deviations(decided, advice, case, card_round=3, evaluation=evaluation)
        assert found == [], (route.name, key, found)
