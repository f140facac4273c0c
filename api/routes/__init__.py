"""The API's routes, one module a resource: cases, tasks, records (names, notes, access log)
and health (liveness, readiness, the caller). Routes on one case are built on
`api.deps.case_access`; what they share besides it is here."""

from __future__ import annotations

from api.errors import error_responses
from api.models import Accepted

RECEIVED = (
    "Modtaget; sagen registrerer det i sin tidslinje (en afvisning står også dér) / "
    "Received; the case records it in its timeline (so is a refusal)"
)

# What a route on one case can answer besides its own body (documented in OpenAPI), by what
# `case_access` and the route do: no or a bad login, not allowed (logged), no such case,
# an invalid request, unavailable.
CASE_ERRORS = error_responses(401, 403, 404, 422, 503)
# ... and, for one that needs the case running (`case.running()`), 409 once it has ended.
RUNNING_CASE_ERRORS = error_responses(401, 403, 404, 409, 422, 503)
# ... and, for a message counted against the case's limits (`limited`), 429 over the hour's.
MESSAGE_ERRORS = error_responses(401, 403, 404, 409, 422, 429, 503)


def received(case_number: str) -> Accepted:
    """The answer to a message the case takes in its own time (202)."""
    return Accepted(case_number=case_number, message=RECEIVED)
