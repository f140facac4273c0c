"""The cases the suite runs: a mix of routes on the demo card, and the decisions staff make.

The route profiles and the decision catalogue are the shared ones in `driver.decisions` (also
used by the tests, `sagsflow demo` and bench/): each route is a small story whose decisions
follow the system's recommendation (so no written reason is needed), and together they reach
every branch whose timers matter: the evaluation and both follow-ups (every case), the
underretning receipt and its follow-up when the receipt is late, SletDet for an unknown
offender or material online, special measures at the same school, a custody task that waits
for the underretning, a press inquiry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from driver import decisions
from driver.decisions import DEMO_VERSION, ROUTES, STAFF, Route, route_for
from schemas.case import CaseInput
from schemas.common import StaffRole

SCHOOL = "kaos-skolen"  # fictional

__all__ = [
    "DEMO_VERSION",
    "ROUTES",
    "SCHOOL",
    "STAFF",
    "Route",
    "case_input",
    "completion",
    "decision",
    "route_for",
]


def case_input(route: Route, reported_at: datetime, run_tag: str) -> CaseInput:
    return decisions.route_case_input(
        route,
        reported_at,
        case_number=f"KAOS-{run_tag}-{uuid.uuid4().hex[:6].upper()}",
        school_id=SCHOOL,
        procedure_version=DEMO_VERSION,
    )


def decision(route: Route, key: str, task_id: str, now: datetime) -> dict[str, Any]:
    """A complete decision for the task, as the platform sends it (JSON), that follows the
    recommendation of `route`'s facts (so it never needs a reason)."""
    return decisions.route_decision(route, key, task_id, now)


def completion(route: Route, key: str, task_id: str, role: str, now: datetime) -> dict[str, Any]:
    return decisions.completion(key, task_id, StaffRole(role), decision(route, key, task_id, now))
