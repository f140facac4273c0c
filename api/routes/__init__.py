"""The API's routes, one module a resource: cases, tasks, records (names, notes, access log)
and health (liveness, readiness, the caller)."""

from __future__ import annotations

RECEIVED = (
    "Modtaget; sagen registrerer det i sin tidslinje (en afvisning står også dér) / "
    "Received; the case records it in its timeline (so is a refusal)"
)
