"""What the pages show, in Danish: the card's six steps, dates in the municipality's time, the
recommendation's legal basis, the card's guidance and contacts for a case's procedure."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from api.web.forms import TIMEZONE, local_iso
from procedure.loader import ProcedureError, load_spec
from procedure.models import ProcedureSpec
from procedure.rules import RULES
from schemas.labels import (
    PARTICIPANT_ROLE_DA,
    PHASE_DA,
    ROUTE_DA,
    SEVERITY_DA,
    STAFF_ROLE_DA,
    STATUS_DA,
    TASK_STATUS_DA,
    VIOLATION_DA,
)

__all__ = ["TIMEZONE", "local_iso"]

# The card's six steps, keyed as its task keys begin ("stop.cooperate", "report.police").
STEPS: tuple[tuple[str, str], ...] = (
    ("assess", "Vurder"),
    ("document", "Dokumenter"),
    ("stop", "Stop"),
    ("report", "Anmeld"),
    ("treat", "Behandl"),
    ("close", "Afslut"),
)
STEP_DA = dict(STEPS)
# The case's phase (schemas.common.Phase) → its steps: the card stops and reports at once.
PHASE_STEPS = {
    "assess": ("assess",),
    "document": ("document",),
    "stop_report": ("stop", "report"),
    "treat": ("treat",),
    "close": ("close",),
}
BASIS = {rule.key: rule.basis for rule in RULES}


def step_of(task_key: str) -> str:
    return STEP_DA.get(task_key.split(".", 1)[0], task_key)


def path_of(phase: str, status: str) -> list[dict[str, Any]]:
    """The six steps, each done, current or ahead (a case that has ended: all done)."""
    current = PHASE_STEPS.get(phase, ())
    first = min((i for i, (key, _) in enumerate(STEPS) if key in current), default=len(STEPS))
    ended = status != "active"
    return [
        {
            "key": key,
            "name": name,
            "state": "done" if ended or i < first else "current" if key in current else "ahead",
        }
        for i, (key, name) in enumerate(STEPS)
    ]


def when(moment: datetime | str | None) -> str:
    """30.12.2026 kl. 09.15, in the municipality's time."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(TIMEZONE).strftime("%d.%m.%Y kl. %H.%M")


def day(moment: datetime | str | None) -> str:
    """30.12.2026, in the municipality's time."""
    return when(moment).split(" kl. ")[0]


def legal_basis(rule_keys: list[str]) -> list[str]:
    """The sections behind the rules that applied, each once, in the rules' order."""
    seen: list[str] = []
    for key in rule_keys:
        for section in BASIS.get(key, ()):
            if section not in seen:
                seen.append(section)
    return seen


def card(version: str | None) -> ProcedureSpec:
    """The card a case runs on (its titles, guidance and contacts); the default card when the
    version is not installed here."""
    try:
        return load_spec(version=version)
    except (ProcedureError, OSError, ValueError):
        return load_spec()


WORDS = {
    "role": STAFF_ROLE_DA,
    "status": STATUS_DA,
    "route": ROUTE_DA,
    "severity": SEVERITY_DA,
    "task_status": TASK_STATUS_DA,
    "participant_role": PARTICIPANT_ROLE_DA,
    "violation": VIOLATION_DA,
    "phase": PHASE_DA,
}


def danish(value: Any, kind: str) -> str:
    text = str(getattr(value, "value", value))
    return WORDS[kind].get(text, text)


def card_version(path: Path) -> str | None:
    try:
        return load_spec(path).version
    except (ProcedureError, OSError):
        return None
