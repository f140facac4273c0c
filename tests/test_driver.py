"""The shared case driver's catalogue (driver/) and the benchmark's history counting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from bench.history import count_history
from driver.decisions import (
    DEMO_ROUTE,
    INTERNAL_ROUTE_TO_TREAT,
    ROUTES,
    completion,
    decision,
    demo_decision,
    route_case_input,
    route_decision,
)
from procedure.loader import load_spec
from schemas.messages import TaskCompletion

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CARD = load_spec(version="demo")
KEYS = list(CARD.tasks)


def valid(key: str, task_id: str, decided: dict) -> TaskCompletion:
    role = CARD.tasks[key].role
    return TaskCompletion.model_validate(completion(key, task_id, role, decided))


@pytest.mark.parametrize("key", KEYS)
def test_every_task_of_the_card_has_a_valid_decision_in_every_story(key: str) -> None:
    valid(key, key, decision(key, NOW))
    for route in (*ROUTES, DEMO_ROUTE):
        valid(key, key, route_decision(route, key, key, NOW))
    valid(key, key, demo_decision(key, key, NOW))


def test_routes_make_valid_cases_and_the_second_follow_up_closes() -> None:
    for route in ROUTES:
        case = route_case_input(route, NOW)
        assert case.offender_known == (route.offender_age is not None)
    assert set(INTERNAL_ROUTE_TO_TREAT) <= set(KEYS)
    outcomes = [
        route_decision(ROUTES[0], "close.follow_up", task_id, NOW)["outcome"]
        for task_id in ("close.follow_up", "close.follow_up-2")
    ]
    assert outcomes == ["continue", "close"]


def test_history_counting_of_a_saved_case() -> None:
    # (the saved histories may carry a version suffix: internal_route_closed.v1.json)
    path = sorted((Path(__file__).parent / "histories").glob("internal_route_closed*.json"))[0]
    history = WorkflowHistory.from_json("case", path.read_text())
    counts = count_history(history)
    assert counts["events"] == len(history.events)
    assert counts["actions"] >= 1 + counts["updates"] + counts["activities"] + counts["timers"]
    assert counts["activities_total"] == counts["activities"] + counts["local_activities"]
