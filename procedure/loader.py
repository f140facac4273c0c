"""Reads the card data and the holiday calendar. I/O: used by the load_procedure activity."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import holidays
import yaml

from procedure.models import Procedure, ProcedureSpec

DEFAULT_CARD = Path(__file__).with_name("card.yaml")
# Years covered by a case's calendar, counted from the year the case starts.
CALENDAR_YEARS_BEFORE = 1
CALENDAR_YEARS_AFTER = 5


class ProcedureError(ValueError):
    """The card data is missing or invalid."""


def card_path() -> Path:
    return Path(os.environ.get("SAGSFLOW_PROCEDURE_FILE", DEFAULT_CARD))


def load_spec(path: Path | None = None) -> ProcedureSpec:
    path = path or card_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProcedureError(f"cannot read procedure file {path}: {exc}") from exc
    try:
        return ProcedureSpec.model_validate(raw)
    except ValueError as exc:
        raise ProcedureError(f"invalid procedure file {path}: {exc}") from exc


def non_working_days(spec: ProcedureSpec, first_year: int, last_year: int) -> list[date]:
    years = list(range(first_year, last_year + 1))
    days = set(holidays.country_holidays("DK", years=years).keys())
    for month_day in spec.extra_non_working_days:
        month, day = (int(part) for part in month_day.split("-"))
        days.update(date(year, month, day) for year in years)
    return sorted(days)


def load_procedure(year: int, path: Path | None = None) -> Procedure:
    spec = load_spec(path)
    first, last = year - CALENDAR_YEARS_BEFORE, year + CALENDAR_YEARS_AFTER
    return Procedure(
        spec=spec,
        non_working_days=non_working_days(spec, first, last),
        calendar_years=(first, last),
    )
