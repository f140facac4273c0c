"""Who receives the notification dispatcher's mails: the recipients file, validated at start.

The rest of the dispatcher's configuration (SMTP, sender, platform link) is
`core.settings.NotifySettings`, which loads this file. Without SAGSFLOW_SMTP_HOST the dispatcher
is off (the embedded default): notifications stay in the outbox and are only logged.

Who receives what is a YAML file (SAGSFLOW_RECIPIENTS_FILE), per school and role:

    schools:
      vibeke-skolen:
        case_owner: [kontakt@vibeke-skolen.example]
        leadership: [ledelse@vibeke-skolen.example]
      "*":                      # municipality-wide roles, and the fallback for every school
        tk: [tk@kommune.example]
        communications: [kommunikation@kommune.example]
    staff:                      # optional: staff id → address, for tasks assigned to a person
      ab: ab@vibeke-skolen.example
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from schemas.common import SCHOOL_ID_PATTERN, StaffId, StaffRole

ANY_SCHOOL = "*"

# Deliberately plain: one @, no spaces, a dotted domain. The mail server is the real judge.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^[^@\s<>(),;:\"\[\]]+@{_LABEL}(?:\.{_LABEL})+$")


class NotifyConfigError(ValueError):
    """The notification settings or the recipients file are invalid; the message says where."""


def check_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError("not an e-mail address (expected local-part@domain.tld)")
    return value


MailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(check_address)
]
SchoolKey = Annotated[
    str,
    AfterValidator(lambda key: key if key == ANY_SCHOOL else _school_id(key)),
]


def _school_id(key: str) -> str:
    if not re.fullmatch(SCHOOL_ID_PATTERN, key):
        raise ValueError(f"school id {key!r} is not valid (lower case, digits, dashes) nor '*'")
    return key


class Recipients(BaseModel):
    """Who is behind each role at each school. Validated at start, so mistakes surface early."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schools: dict[SchoolKey, dict[StaffRole, list[MailAddress]]] = {}
    staff: dict[StaffId, MailAddress] = {}

    def resolve(self, school_id: str, role: str, assignee: str | None = None) -> list[str]:
        """The addresses for a role at a school ('*' when the school names no one), plus the
        assignee's own address when the staff section has it; without duplicates."""
        try:
            staff_role = StaffRole(role)
        except ValueError:
            return []  # a role this version does not know: no one, reported by the caller
        school = self.schools.get(school_id, {}).get(staff_role)
        found = list(school or self.schools.get(ANY_SCHOOL, {}).get(staff_role) or [])
        if assignee is not None and assignee in self.staff:
            found.append(self.staff[assignee])
        unique: dict[str, str] = {}
        for address in found:
            unique.setdefault(address.casefold(), address)
        return list(unique.values())


def load_recipients(path: Path) -> Recipients:
    where = f"SAGSFLOW_RECIPIENTS_FILE {path}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotifyConfigError(f"{where}: cannot be read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise NotifyConfigError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise NotifyConfigError(f"{where}: expected a mapping with 'schools' (and 'staff')")
    try:
        return Recipients.model_validate(raw)
    except ValidationError as exc:
        raise NotifyConfigError(f"{where} is invalid:\n{_describe_errors(exc)}") from exc


def _describe_errors(exc: ValidationError) -> str:
    # Our own lines: pydantic's default text repeats the input values, i.e. the addresses.
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top)"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {location}: {message}")
    return "\n".join(lines)
