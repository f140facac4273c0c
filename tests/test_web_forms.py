"""Issue 16: the task forms are made from the decision models: every field and every choice has
Danish words, and what staff post comes back as the very decision the model means."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.datastructures import FormData

from api.web.forms import TIMEZONE, FormField, form_fields, read_form, refused_fields, validate
from driver.decisions import decision
from schemas.decisions import DECISION_TYPES

NOW = datetime(2026, 12, 2, 13, 45, tzinfo=UTC)


def posted(fields: list[FormField], values: dict[str, Any]) -> list[tuple[str, str]]:
    """What the browser sends for a decision filled in on the form."""
    sent: list[tuple[str, str]] = []
    for one in fields:
        value = values.get(one.name)
        if value is None:
            continue
        if one.kind == "yesno":
            sent.append((one.name, "ja" if value else "nej"))
        elif one.kind == "choices":
            sent += [(one.name, item) for item in value]
        elif one.kind == "pseudonyms":
            sent.append((one.name, ", ".join(value)))
        elif one.kind == "datetime":
            local = datetime.fromisoformat(value).astimezone(TIMEZONE)
            sent.append((one.name, local.strftime("%Y-%m-%dT%H:%M")))
        elif one.kind == "rows":
            for index, item in enumerate(value):
                row = [
                    FormField(
                        f"{one.name}-{index}-{cell.name.rsplit('-', 1)[1]}",
                        cell.kind,
                        "",
                        "",
                        False,
                    )
                    for cell in one.rows[0]
                ]
                named = {f"{one.name}-{index}-{k}": v for k, v in item.items()}
                sent += posted(row, named)
        else:
            sent.append((one.name, str(value)))
    return sent


@pytest.mark.parametrize("key", sorted(DECISION_TYPES))
def test_every_decision_round_trips_through_its_form(key: str) -> None:
    model = DECISION_TYPES[key]
    fields = form_fields(model)
    assert {f.name for f in fields} == set(model.model_fields) - {"task"}
    for one in fields:
        assert one.label and all(text for _, text in one.choices), one.name
    meant = model.model_validate(decision(key, NOW))
    fresh = form_fields(model)
    read = {"task": key, **read_form(fresh, FormData(posted(fresh, decision(key, NOW))))}
    problems, invalid = validate(model, fresh, read)
    assert not invalid, (problems, [(f.name, f.error) for f in fresh if f.error])
    assert model.model_validate(read) == meant


def test_a_refusal_stands_beside_its_field_in_danish() -> None:
    model = DECISION_TYPES["document.preserve"]
    fields = form_fields(model)
    data = {
        "task": "document.preserve",
        **read_form(fields, FormData([("staff_devices_clear", "nej")])),
    }
    _, invalid = validate(model, fields, data)
    assert invalid
    by_name = {f.name: f for f in fields}
    assert by_name["staff_devices_clear"].error is not None
    assert by_name["staff_devices_clear"].error.startswith("Gem aldrig materiale fra sagen")
    uncover = DECISION_TYPES["assess.uncover"]
    fields = form_fields(uncover)
    _, invalid = validate(uncover, fields, {"task": "assess.uncover", "involved": ["Astrid"]})
    errors = {f.name: f.error for f in fields if f.error}
    assert errors["what"] == "Skal udfyldes / Required"
    assert errors["sexual_material_of_minor"] == "Skal udfyldes / Required"
    assert errors["involved"].startswith("Skriv pseudonymer som P1, P2")


def test_a_refusal_in_the_evidence_register_stands_beside_the_row_it_is_about() -> None:
    """The first row left empty, the second filled in without its holder: the refusal goes
    beside the second row's field (the model numbers only the rows filled in) and is listed."""
    model = DECISION_TYPES["document.preserve"]
    fields = form_fields(model)
    form = FormData(
        [
            ("evidence-1-kind", "screenshot"),
            ("evidence-1-secured_at", "2026-12-02T10:00"),
            ("evidence-1-usernames_noted", "ja"),
            ("evidence-1-times_noted", "ja"),
            ("staff_devices_clear", "ja"),
        ]
    )
    data = {"task": "document.preserve", **read_form(fields, form)}
    _, invalid = validate(model, fields, data)
    assert invalid
    listed = {f.name: f.error for f in refused_fields(fields)}
    assert listed == {"evidence-1-held_by": "Skal udfyldes / Required"}
