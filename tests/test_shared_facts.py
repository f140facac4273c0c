"""Facts defined once and used everywhere: the users of one fact must agree (issue 12)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from api.models import TaskId
from core.recipients import _school_id
from procedure.calendar import local_time
from schemas.common import (
    SCHOOL_ID_PATTERN,
    TASK_ID_MAX,
    TASK_ID_PATTERN,
    SchoolId,
    case_number_of,
    case_workflow_id,
    task_key_of,
)
from schemas.decisions import DECISION_TYPES
from workflows import rejections

# -- the time staff read -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 3, 3, 8, 15, tzinfo=UTC), "03.03.2026 kl. 09:15"),  # winter: UTC+1
        (datetime(2026, 7, 1, 22, 5, tzinfo=UTC), "02.07.2026 kl. 00:05"),  # summer: UTC+2
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25.10.2026 kl. 02:30"),  # the hour twice
    ],
)
def test_a_moment_is_shown_in_copenhagen_time(moment: datetime, shown: str) -> None:
    assert local_time(moment) == shown
    assert local_time(moment.astimezone(ZoneInfo("America/New_York"))) == shown


def test_the_cli_shows_the_same_moment_without_kl_and_with_seconds_on_request() -> None:
    moment = datetime(2026, 11, 24, 16, 45, 7, tzinfo=UTC)
    assert local_time(moment, kl=False) == "24.11.2026 17:45"
    assert local_time(moment, kl=False, seconds=True) == "24.11.2026 17:45:07"
    assert local_time(moment, ZoneInfo("UTC")) == "24.11.2026 kl. 16:45"


# -- the workflow id of a case -------------------------------------------------------------


def test_the_case_number_is_read_back_from_the_workflow_id() -> None:
    assert case_workflow_id("2026-0042") == "case-2026-0042"
    assert case_number_of(case_workflow_id("2026-0042")) == "2026-0042"
    assert case_number_of("retention-sweep") is None
    assert case_number_of(None) is None


# -- task ids: what the API lets through, the workflow's rules accept -----------------------


def _produced_by_the_workflow() -> list[str]:
    """Task ids as workflows/steps.py numbers them: the key, then key-2, key-3, ... in the
    first round; key-r2, key-r2-2, ... in later ones."""
    ids = []
    for key in DECISION_TYPES:
        ids += [key] + [f"{key}-{count + 1}" for count in (1, 99, 999, 9998)]
        ids += [f"{key}-r{round_}" for round_ in (2, 9999)]
        ids += [f"{key}-r2-2", f"{key}-r9999-9999"]
    return ids


@pytest.mark.parametrize(
    "task_id", ["assess.uncover", "treat.press-2", "treat.press-r2", "treat.press-r12-3"]
)
def test_the_api_finds_a_tasks_key_in_its_id(task_id: str) -> None:
    assert task_key_of(task_id) == task_id.split("-")[0]


@pytest.mark.parametrize("task_id", _produced_by_the_workflow())
def test_every_task_id_the_workflow_produces_has_the_one_shape(task_id: str) -> None:
    assert len(task_id) <= TASK_ID_MAX
    assert re.fullmatch(TASK_ID_PATTERN, task_id)
    assert TypeAdapter(TaskId).validate_python(task_id) == task_id


@pytest.mark.parametrize(
    "task_id", ["assess.uncover", "treat.press-2", "close.follow_up-1000", "treat.press-9999"]
)
def test_a_task_id_the_api_accepts_is_named_in_the_workflows_refusal(task_id: str) -> None:
    # Before, the API accepted four digits and the rejection rules only three: an id the API
    # took was refused without being named.
    assert TypeAdapter(TaskId).validate_python(task_id) == task_id
    assert f"'{task_id}'" in str(rejections.unknown_task(task_id))


@pytest.mark.parametrize(
    "text", ["treat.press-10000", "Treat.press", "treat press", "a" * 60 + "." + "b" * 30]
)
def test_what_is_not_a_task_id_is_refused_by_the_api_and_not_echoed(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(TaskId).validate_python(text)
    assert str(rejections.unknown_task(text)) == "Ukendt opgave / Unknown task"


# -- school ids: the case and the recipients file agree -------------------------------------


@pytest.mark.parametrize(
    "school", ["vibeke-skolen", "a1", "x" * 40, "x" * 41, "-a", "a-", "Vibeke", "a", "a_b"]
)
def test_the_recipients_file_takes_exactly_the_school_ids_a_case_takes(school: str) -> None:
    try:
        TypeAdapter(SchoolId).validate_python(school)
        valid_for_a_case = True
    except ValidationError:
        valid_for_a_case = False
    try:
        _school_id(school)
        valid_for_recipients = True
    except ValueError:
        valid_for_recipients = False
    assert valid_for_recipients == valid_for_a_case == bool(re.fullmatch(SCHOOL_ID_PATTERN, school))
