"""Reads the card data and the holiday calendar. I/O: used by the load_procedure activity."""

from __future__ import annotations

import copy
import functools
import os
from datetime import date
from pathlib import Path

import holidays
import yaml

from procedure.models import Procedure, ProcedureSpec

PACKAGE_DIR = Path(__file__).parent
DEFAULT_CARD = PACKAGE_DIR / "card.yaml"
# Years covered by a case's calendar, counted from the year the case starts.
CALENDAR_YEARS_BEFORE = 1
CALENDAR_YEARS_AFTER = 5


class ProcedureError(ValueError):
    """The card data is missing or invalid."""


class UnknownProcedureVersion(ProcedureError):
    """No card of the requested version: neither the configured one nor a packaged one."""

    def __init__(self, version: str, available: list[str]) -> None:
        self.version = version
        self.available = available
        listed = ", ".join(repr(v) for v in available) or "none"
        super().__init__(
            f"procedure version {version!r} is not available; this worker has {listed}"
        )


def card_path() -> Path:
    return Path(os.environ.get("SAGSFLOW_PROCEDURE_FILE", DEFAULT_CARD))


def packaged_cards() -> list[Path]:
    """The cards shipped in this package: card.yaml (the current one) first, then the rest."""
    others = sorted(p for p in PACKAGE_DIR.glob("*.yaml") if p != DEFAULT_CARD)
    return [DEFAULT_CARD, *others]


def card_for_version(version: str | None, path: Path | None = None) -> Path:
    """The card file to load for a requested version.

    No version: the configured card (`path`, else SAGSFLOW_PROCEDURE_FILE, else card.yaml).
    A version: the configured card if it is that version, else the packaged card declaring it
    (e.g. "demo" → demo.yaml); none → UnknownProcedureVersion.
    """
    configured = path or card_path()
    if version is None:
        return configured
    available: list[str] = []
    unreadable: ProcedureError | None = None
    candidates = [configured, *(p for p in packaged_cards() if p != configured)]
    for candidate in candidates:
        try:
            declared = _declared_version(candidate)
        except ProcedureError as exc:
            if candidate == configured:
                unreadable = exc
                continue
            raise
        if declared == version:
            return candidate
        if declared is not None and declared not in available:
            available.append(declared)
    if unreadable is not None:
        # The configured card may be the one asked for once it is deployed: report that
        # (retryable) rather than an unknown version.
        raise unreadable
    raise UnknownProcedureVersion(version, available)


def _declared_version(path: Path) -> str | None:
    raw = _read_yaml(path)
    version = raw.get("version") if isinstance(raw, dict) else None
    return str(version) if version is not None else None


def _read_yaml(path: Path) -> object:
    try:
        stat = path.stat()
        # A copy: callers get a fresh document, the parsed one stays as the file says.
        return copy.deepcopy(_parsed(str(path), stat.st_mtime_ns, stat.st_size))
    except OSError as exc:
        raise ProcedureError(f"cannot read procedure file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ProcedureError(f"invalid procedure file {path}: {exc}") from exc


@functools.lru_cache(maxsize=32)
def _parsed(path: str, mtime_ns: int, size: int) -> object:
    """A card file parsed once per version of the file (its time and size are in the key).
    Every case start loads its card: parsing the YAML each time was a third of a busy worker's
    time when twenty cases started at once."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_spec(path: Path | None = None, *, version: str | None = None) -> ProcedureSpec:
    """The card of `version` (see card_for_version); the configured card when None."""
    path = card_for_version(version, path)
    raw = _read_yaml(path)
    try:
        return ProcedureSpec.model_validate(raw)
    except ValueError as exc:
        raise ProcedureError(f"invalid procedure file {path}: {exc}") from exc


def non_working_days(spec: ProcedureSpec, first_year: int, last_year: int) -> list[date]:
    years = list(range(first_year, last_year + 1))
    days = set(_danish_holidays(first_year, last_year))
    for month_day in spec.extra_non_working_days:
        month, day = (int(part) for part in month_day.split("-"))
        days.update(date(year, month, day) for year in years)
    return sorted(days)


@functools.lru_cache(maxsize=32)
def _danish_holidays(first_year: int, last_year: int) -> frozenset[date]:
    """Computed once per span of years (the same for every case started in a year)."""
    years = range(first_year, last_year + 1)
    return frozenset(holidays.country_holidays("DK", years=list(years)).keys())


def load_procedure(year: int, path: Path | None = None, version: str | None = None) -> Procedure:
    spec = load_spec(path, version=version)
    first, last = year - CALENDAR_YEARS_BEFORE, year + CALENDAR_YEARS_AFTER
    return Procedure(
        spec=spec,
        non_working_days=non_working_days(spec, first, last),
        calendar_years=(first, last),
    )
