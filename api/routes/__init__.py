"""The API's routes, one module a resource: cases, tasks, records (names, notes, access log)
and health (liveness, readiness, the caller). Routes on one case are built on
`api.deps.case_access`."""

from __future__ import annotations

from api.models import Accepted

RECEIVED = (
    "Modtaget; sagen registrerer det i sin tidslinje (en afvisning står også dér) / "
    "Received; the case records it in its timeline (so is a refusal)"
)


def received(case_number: str) -> Accepted:
    """The answer to a message the case takes in its own time (202)."""
    return Accepted(case_number=case_number, message=RECEIVED)
