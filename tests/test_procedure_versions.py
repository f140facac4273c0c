"""Seconds on the demo card, and picking the card by the version a case asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import CaseActivities
from procedure.calendar import COPENHAGEN, deadline_after, offset_after
from procedure.loader import (
    DEFAULT_CARD,
    UnknownProcedureVersion,
    card_for_version,
    load_procedure,
    load_spec,
)
from procedure.models import Deadline, Offset, ProcedureSpec
from schemas.activities import LoadProcedureRequest
from store import Store

CURRENT = yaml.safe_load(DEFAULT_CARD.read_text(encoding="utf-8"))["version"]
DEMO_CARD = DEFAULT_CARD.with_name("demo.yaml")


# ------------------------------------------------------------------------ seconds


def test_a_seconds_offset_is_elapsed_time_even_across_the_autumn_clock_change() -> None:
    # 02:59:58 summer time on 25 October 2026; at 03:00 the clocks go back to 02:00.
    start = datetime(2026, 10, 25, 0, 59, 58, tzinfo=UTC)
    later = offset_after(start, Offset(seconds=5), COPENHAGEN)
    assert later - start == timedelta(seconds=5)
    assert later.astimezone(COPENHAGEN).strftime("%H:%M:%S %Z") == "02:00:03 CET"


def test_seconds_add_to_a_calendar_offset() -> None:
    start = datetime(2026, 11, 24, 9, 0, tzinfo=COPENHAGEN)
    assert offset_after(start, Offset(days=1, seconds=30), COPENHAGEN) == datetime(
        2026, 11, 25, 9, 0, 30, tzinfo=COPENHAGEN
    )


def test_an_offset_needs_some_unit_and_names_seconds() -> None:
    with pytest.raises(ValidationError, match="seconds"):
        Offset()
    with pytest.raises(ValidationError):
        Offset(seconds=-1)


def test_a_seconds_deadline_is_clock_time_and_zero_is_immediately() -> None:
    start = datetime(2026, 12, 24, 23, 59, 58, tzinfo=COPENHAGEN)  # Christmas Eve: no matter
    assert deadline_after(start, Deadline(seconds=6), set(), COPENHAGEN) == start + timedelta(
        seconds=6
    )
    assert Deadline(seconds=6).describe() == "6 sekunder"
    assert Deadline(seconds=0).describe() == "straks"


@pytest.mark.parametrize(
    "units", [{}, {"hours": 1, "seconds": 5}, {"working_days": 1, "seconds": 1}]
)
def test_a_deadline_keeps_exactly_one_unit(units: dict[str, int]) -> None:
    with pytest.raises(ValidationError, match="exactly one of 'hours', 'working_days'"):
        Deadline(**units)


# ------------------------------------------------------------------------ versions


def test_no_version_is_the_configured_card_and_demo_is_the_packaged_demo_card() -> None:
    assert load_spec().version == CURRENT
    assert load_spec(version=CURRENT).version == CURRENT
    demo = load_spec(version="demo")
    assert demo.version == "demo"
    assert demo.timers.evaluation_after == Offset(seconds=5)
    assert [o.seconds for o in demo.timers.follow_ups] == [3, 6]
    assert demo.tasks["report.underretning_receipt"].deadline == Deadline(seconds=6)


def test_an_unknown_version_names_what_there_is() -> None:
    with pytest.raises(UnknownProcedureVersion) as failure:
        load_spec(version="ishoj-1999.1")
    assert "ishoj-1999.1" in str(failure.value)
    assert {CURRENT, "demo"} <= set(failure.value.available)


def test_a_configured_card_comes_first_and_the_packaged_ones_stay_available(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = yaml.safe_load(DEFAULT_CARD.read_text(encoding="utf-8"))
    custom["version"] = "kommune-2027.1"
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(custom, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("SAGSFLOW_PROCEDURE_FILE", str(card))

    assert load_spec().version == "kommune-2027.1"
    assert load_spec(version="kommune-2027.1").version == "kommune-2027.1"
    assert card_for_version("demo") == DEMO_CARD
    assert card_for_version(CURRENT) == DEFAULT_CARD


def test_the_demo_card_is_the_real_card_with_short_timers() -> None:
    """Only the timers and the receipt deadline differ: the demo shows the real procedure."""
    real = load_spec(version=CURRENT)
    demo = load_spec(version="demo")
    assert demo.tasks.keys() == real.tasks.keys()
    for key, task in real.tasks.items():
        if key == "report.underretning_receipt":
            task = task.model_copy(update={"deadline": Deadline(seconds=6)})
        assert demo.tasks[key] == task, key
    assert (demo.contacts, demo.municipality, demo.timezone) == (
        real.contacts,
        real.municipality,
        real.timezone,
    )


def test_the_demo_procedure_has_the_holiday_calendar_too() -> None:
    procedure = load_procedure(2026, version="demo")
    assert procedure.spec.version == "demo"
    assert datetime(2026, 12, 25).date() in procedure.non_working_days


async def test_the_activity_loads_the_demo_card_and_refuses_unknown_versions(
    sqlite_url: str,
) -> None:
    activities = CaseActivities(Store.from_url(sqlite_url))
    procedure = await ActivityEnvironment().run(
        activities.load_procedure, LoadProcedureRequest(year=2026, version="demo")
    )
    assert procedure.spec.version == "demo"
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(
            activities.load_procedure, LoadProcedureRequest(year=2026, version="nope-1")
        )
    assert (error.value.type, error.value.non_retryable) == ("UnknownProcedureVersion", True)
    assert "nope-1" in error.value.message


# ----------------------------------------------------------------- where deadlines count from


def _card_with(change) -> dict:
    card = yaml.safe_load(DEFAULT_CARD.read_text(encoding="utf-8"))
    change(card)
    return card


def test_the_receipt_period_and_the_receipt_tasks_deadline_cannot_disagree() -> None:
    def seven_days(card: dict) -> None:
        card["timers"]["underretning_receipt_within"] = {"working_days": 7}

    with pytest.raises(ValidationError, match="underretning_receipt_within must equal"):
        ProcedureSpec.model_validate(_card_with(seven_days))


def test_only_tasks_after_the_underretning_count_from_its_sending() -> None:
    def from_submission(card: dict) -> None:
        card["tasks"]["stop.action_plan"]["deadline_from"] = "underretning_submitted"

    with pytest.raises(ValidationError, match=r"not \['stop.action_plan'\]"):
        ProcedureSpec.model_validate(_card_with(from_submission))
    # The packaged cards keep to it.
    for card in (DEFAULT_CARD, DEMO_CARD):
        spec = ProcedureSpec.model_validate(yaml.safe_load(card.read_text(encoding="utf-8")))
        assert spec.tasks["stop.action_plan"].deadline_from == "reported_at"
        assert spec.tasks["report.underretning_receipt"].deadline_from == "underretning_submitted"
