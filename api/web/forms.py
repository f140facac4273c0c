"""A form for each task, made from its decision model (schemas.decisions), and the way back:
the posted form as the decision the API takes, and a refusal as Danish text beside each field.

Yes/no questions are a pair of radio buttons (no answer is not "no"); a choice is a radio group;
several choices are check boxes; a date is the browser's date-and-time field, read in the
municipality's time zone; a list of pseudonyms is one text field (P1, P2); the evidence register
is a few rows of its own fields. What staff type is checked by the same models, with the same
evidence and CPR rules, that the API applies; the API checks it all again.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from api.web.labels import CHOICE_DA, FIELD_DA
from schemas.common import LONG_TEXT_MAX

TIMEZONE = ZoneInfo("Europe/Copenhagen")
EVIDENCE_ROWS = 3  # blank rows of the evidence register on the form

Kind = Literal["yesno", "choice", "choices", "text", "longtext", "datetime", "pseudonyms", "rows"]


@dataclass
class FormField:
    name: str  # the form's input name (rows: "evidence-0-kind")
    kind: Kind
    label: str
    help: str
    required: bool
    choices: list[tuple[str, str]] = field(default_factory=list)  # (value, Danish label)
    rows: list[list[FormField]] = field(default_factory=list)  # kind "rows": the rows' fields
    value: Any = None  # what the form shows: as posted, or the default
    error: str | None = None
    filled: list[int] = field(default_factory=list)  # kind "rows": the rows posted filled in
    in_row: bool = False  # a cell of a row: required only once its row is used

    @property
    def id(self) -> str:
        return f"f-{self.name}"


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _literal_values(annotation: Any) -> list[str] | None:
    if get_origin(annotation) is Literal:
        return [str(getattr(value, "value", value)) for value in get_args(annotation)]
    return None


def _longest(info: FieldInfo, annotation: Any) -> int | None:
    for meta in [*info.metadata, *getattr(annotation, "__metadata__", ())]:
        limit = getattr(meta, "max_length", None)
        if limit is not None:
            return int(limit)
    return None


def _field(name: str, info: FieldInfo, prefix: str = "") -> FormField:
    made = _made(name, info, prefix)
    made.in_row = bool(prefix)
    return made


def _made(name: str, info: FieldInfo, prefix: str) -> FormField:
    label, help_text = FIELD_DA[name]
    annotation, optional = _without_none(info.annotation)
    required = info.is_required() and not optional
    form_name = f"{prefix}{name}"

    def choices(values: Iterable[str]) -> list[tuple[str, str]]:
        return [(value, CHOICE_DA[name][value]) for value in values]

    if annotation is bool:
        made = FormField(form_name, "yesno", label, help_text, required)
        made.value = None if info.is_required() else ("ja" if info.default else "nej")
        return made
    if (values := _literal_values(annotation)) is not None:
        return FormField(form_name, "choice", label, help_text, required, choices(values))
    if annotation is AwareDatetime or annotation is datetime:
        return FormField(form_name, "datetime", label, help_text, required)
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if (values := _literal_values(item)) is not None:
            made = FormField(form_name, "choices", label, help_text, required, choices(values))
            made.value = []
            return made
        if isinstance(item, type) and issubclass(item, BaseModel):
            rows = [
                [
                    _field(sub, sub_info, f"{form_name}-{index}-")
                    for sub, sub_info in item.model_fields.items()
                ]
                for index in range(EVIDENCE_ROWS)
            ]
            return FormField(form_name, "rows", label, help_text, required, rows=rows)
        return FormField(form_name, "pseudonyms", label, help_text, required)
    longest = _longest(info, annotation)
    kind: Kind = "longtext" if longest is not None and longest >= LONG_TEXT_MAX else "text"
    return FormField(form_name, kind, label, help_text, required)


def form_fields(model: type[BaseModel]) -> list[FormField]:
    """The form of a decision model: every field but the task key, in the model's order."""
    return [_field(name, info) for name, info in model.model_fields.items() if name != "task"]


# --- the posted form -------------------------------------------------------------------------


def local_iso(text: str) -> str:
    """The browser's date-and-time field ("2026-12-30T09:15", local time) as ISO 8601."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # the model refuses it, beside the field
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TIMEZONE)
    return moment.isoformat()


def _read(one: FormField, form: Mapping[str, Any], getlist: Any) -> Any:
    """One field's value from the posted form, as JSON for the model (None: not given)."""
    if one.kind == "choices":
        one.value = [value for value in getlist(one.name) if value]
        return one.value
    if one.kind == "rows":
        filled = []
        one.filled = []
        for index, row in enumerate(one.rows):
            item = {cell.name.rsplit("-", 1)[1]: _read(cell, form, getlist) for cell in row}
            if any(value not in (None, "", []) for value in item.values()):
                filled.append({k: v for k, v in item.items() if v is not None})
                one.filled.append(index)  # a refusal of item n goes beside this row
        return filled
    raw = form.get(one.name)
    text = raw.strip() if isinstance(raw, str) else ""
    one.value = text if one.kind != "yesno" else (text or None)
    if not text:
        return None
    if one.kind == "yesno":
        return {"ja": True, "nej": False}.get(text, text)
    if one.kind == "datetime":
        return local_iso(text)
    if one.kind == "pseudonyms":
        return [part.strip().upper() for part in text.replace(";", ",").split(",") if part.strip()]
    return raw if one.kind == "longtext" else text


def read_form(fields: list[FormField], form: Any) -> dict[str, Any]:
    """The decision's fields from the posted form; the fields keep what was posted, to show it
    again beside an error."""
    getlist = form.getlist if hasattr(form, "getlist") else (lambda name: form.get(name, []))
    decision: dict[str, Any] = {}
    for one in fields:
        value = _read(one, form, getlist)
        if value is not None and not (one.kind == "rows" and value == []):
            decision[one.name] = value
    return decision


# --- refusals, beside the field ------------------------------------------------------------

_DANISH = {
    "missing": "Skal udfyldes / Required",
    "bool_parsing": "Vælg ja eller nej / Choose yes or no",
    "bool_type": "Vælg ja eller nej / Choose yes or no",
    "literal_error": "Vælg en af mulighederne / Choose one of the options",
    "enum": "Vælg en af mulighederne / Choose one of the options",
    "too_short": "Vælg eller skriv mindst én / Give at least one",
    "string_too_short": "Skal udfyldes / Required",
    "string_pattern_mismatch": "Skriv pseudonymer som P1, P2 … / Write pseudonyms as P1, P2 …",
    "datetime_parsing": "Ugyldig dato og tid / Invalid date and time",
    "datetime_from_date_parsing": "Ugyldig dato og tid / Invalid date and time",
    "timezone_aware": "Ugyldig dato og tid / Invalid date and time",
    "int_parsing": "Skriv et helt tal / Enter a whole number",
}


def danish_error(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "value_error":  # the model's own rule: already "dansk / English"
        return str(error.get("msg", "")).removeprefix("Value error, ")
    if kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return f"Teksten er for lang: højst {limit} tegn / The text is too long: at most {limit}"
    context = error.get("ctx") or {}
    if kind == "less_than_equal":
        return f"Højst {context.get('le')} / At most {context.get('le')}"
    if kind == "greater_than_equal":
        return f"Mindst {context.get('ge')} / At least {context.get('ge')}"
    if kind == "too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return f"For mange: højst {limit} / Too many: at most {limit}"
    return _DANISH.get(kind, f"Ugyldig værdi / Invalid value ({error.get('msg', '')})")


def place_errors(
    fields: list[FormField], errors: Iterable[Mapping[str, Any]], prefix: tuple[str, ...] = ()
) -> list[str]:
    """Puts each refusal beside its field; returns those that belong to no field."""
    by_name: dict[str, FormField] = {}
    for one in fields:
        by_name[one.name] = one
        for index, row in enumerate(one.rows):
            for cell in row:
                by_name[f"{one.name}-{index}-{cell.name.rsplit('-', 1)[1]}"] = cell
    elsewhere = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())][len(prefix) :]
        owner = by_name.get(loc[0]) if loc else None
        if owner is not None and owner.kind == "rows" and len(loc) > 1 and loc[1].isdigit():
            item = int(loc[1])  # the n-th filled row, which empty rows before it may move
            if item < len(owner.filled):
                loc[1] = str(owner.filled[item])
        text = danish_error(error)
        target = None
        for length in range(len(loc), 0, -1):
            target = by_name.get("-".join(loc[:length]))
            if target is not None:
                break
        if target is None:
            elsewhere.append(text)
        elif target.error is None:
            target.error = text
    return elsewhere


def refused_fields(fields: list[FormField]) -> list[FormField]:
    """Every field with a refusal beside it, the evidence rows' cells included, in form order."""
    found = []
    for one in fields:
        if one.error:
            found.append(one)
        found += [cell for row in one.rows for cell in row if cell.error]
    return found


def validate(
    model: type[BaseModel], fields: list[FormField], data: dict[str, Any]
) -> tuple[list[str], bool]:
    """The model's refusals, placed beside the fields: those that belong to no field, and
    whether there were any."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return place_errors(fields, exc.errors(include_url=False)), True
    return [], False
