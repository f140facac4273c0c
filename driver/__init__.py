"""The one case driver: realistic case inputs, the catalogue of good decisions per task, and
staff that complete tasks through `CaseService` acting only on recorded state (the inbox).

Used by the tests (tests/casekit.py), `sagsflow demo` (cli/demo.py), the fault suite
(chaos/) and the benchmark (bench/). Nothing here imports tests/.
"""

from driver.decisions import (
    COMMS,
    LEADER,
    ROLE_ACTORS,
    STAFF,
    TEACHER,
    TK,
    Route,
    case_input,
    completion,
    decision,
)
from driver.net import free_port

__all__ = [
    "COMMS",
    "LEADER",
    "ROLE_ACTORS",
    "STAFF",
    "TEACHER",
    "TK",
    "Route",
    "case_input",
    "completion",
    "decision",
    "free_port",
]
