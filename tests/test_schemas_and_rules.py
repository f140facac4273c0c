"""The contract's validation messages and the recommendation rules."""

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from procedure import rules
from procedure.loader import load_spec
from schemas.common import ViolationType
from schemas.decisions import Decision, EvaluateDecision, UncoverDecision
from tests.casekit import case_input, decision

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def errors(exc: ValidationError) -> str:
    return " ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def test_case_input_names_the_field_and_what_is_allowed() -> None:
    good = case_input(NOW).model_dump(mode="json")
    with pytest.raises(ValidationError) as exc:
        type(case_input(NOW)).model_validate(
            {
                **good,
                "participants": [
                    {"pseudonym": "Anna", "role": "victim", "age": 14, "same_school": True}
                ],
            }
        )
    text = errors(exc.value)
    assert "participants.0.pseudonym" in text and "P[1-9]" in text

    with pytest.raises(ValidationError) as exc:
        type(case_input(NOW)).model_validate({**good, "violation_types": ["gossip"]})
    assert "violation_types.0" in errors(exc.value) and "'intimate_images'" in errors(exc.value)


def test_offender_known_must_match_the_participants() -> None:
    good = case_input(NOW).model_dump(mode="json")
    with pytest.raises(ValidationError) as exc:
        type(case_input(NOW)).model_validate({**good, "offender_known": False})
    assert "offender_known" in str(exc.value)


def test_decisions_are_a_union_keyed_by_task() -> None:
    adapter = TypeAdapter(Decision)
    parsed = adapter.validate_python(decision("assess.evaluate", NOW))
    assert isinstance(parsed, EvaluateDecision)
    with pytest.raises(ValidationError) as exc:
        adapter.validate_python(decision("assess.evaluate", NOW, route="maybe"))
    assert "route" in errors(exc.value) and "'internal' or 'police'" in errors(exc.value)
    with pytest.raises(ValidationError) as exc:
        adapter.validate_python({"task": "assess.guess"})
    assert "assess.uncover" in str(exc.value)


def test_staff_devices_rule_from_the_card() -> None:
    with pytest.raises(ValidationError) as exc:
        TypeAdapter(Decision).validate_python(
            decision("document.preserve", NOW, staff_devices_clear=False)
        )
    assert "Gem aldrig materiale" in str(exc.value)


def test_sexual_images_of_a_minor_recommend_police_and_underretning() -> None:
    case = case_input(NOW, violation_types=[ViolationType.INTIMATE_IMAGES])
    uncover = UncoverDecision.model_validate(
        decision("assess.uncover", NOW, sexual_material_of_minor=True)
    )
    advice = rules.recommend(case, uncover)
    assert advice.police_report and advice.underretning
    assert any("§ 235" in reason for reason in advice.reasons)
    internal = EvaluateDecision.model_validate(decision("assess.evaluate", NOW))
    assert len(rules.deviations(internal, advice)) == 2


def test_offender_under_15_recommends_underretning_and_ssp_not_police() -> None:
    case = case_input(NOW, offender_age=13)
    advice = rules.recommend(case, UncoverDecision.model_validate(decision("assess.uncover", NOW)))
    assert advice.underretning and advice.ssp and not advice.police_report
    assert any("§ 15" in reason for reason in advice.reasons)


def test_plain_harassment_recommends_internal_handling() -> None:
    case = case_input(NOW)
    advice = rules.recommend(case, UncoverDecision.model_validate(decision("assess.uncover", NOW)))
    assert not (advice.police_report or advice.underretning or advice.ssp)
    assert (
        rules.deviations(EvaluateDecision.model_validate(decision("assess.evaluate", NOW)), advice)
        == []
    )


def test_card_has_a_danish_title_role_and_deadline_for_every_task() -> None:
    spec = load_spec()
    assert spec.tasks["report.underretning"].deadline.describe() == "straks (samme arbejdsdag)"
    assert spec.tasks["stop.action_plan"].deadline.working_days == 10
    assert spec.tasks["treat.press"].role == "communications"
    assert spec.timers.evaluation_after.weeks == 4
    assert spec.contacts.tk.phone == "43 57 75 55"
