"""Configuration of the notification dispatcher: SMTP, sender, platform link, recipients.

Read from the environment like `workers.settings`. Without SAGSFLOW_SMTP_HOST the dispatcher is
off (the embedded default): notifications stay in the outbox and are only logged.

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

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError

from schemas.common import SCHOOL_ID_PATTERN, StaffId, StaffRole

SmtpTls = Literal["starttls", "tls", "none"]
SMTP_TLS_MODES: tuple[SmtpTls, ...] = ("starttls", "tls", "none")
SUBMISSION_PORT = 587  # STARTTLS (RFC 6409)
IMPLICIT_TLS_PORT = 465  # TLS from the first byte (RFC 8314)
ANY_SCHOOL = "*"

# The environment variable behind each setting.
NOTIFY_ENVIRONMENT = {
    "smtp_host": "SAGSFLOW_SMTP_HOST",
    "smtp_port": "SAGSFLOW_SMTP_PORT",
    "smtp_username": "SAGSFLOW_SMTP_USERNAME",
    "smtp_password": "SAGSFLOW_SMTP_PASSWORD",
    "smtp_tls": "SAGSFLOW_SMTP_TLS",
    "smtp_timeout": "SAGSFLOW_SMTP_TIMEOUT",
    "mail_from": "SAGSFLOW_MAIL_FROM",
    "platform_url": "SAGSFLOW_PLATFORM_URL",
    "recipients_file": "SAGSFLOW_RECIPIENTS_FILE",
    "interval": "SAGSFLOW_NOTIFY_INTERVAL",
    "max_attempts": "SAGSFLOW_NOTIFY_MAX_ATTEMPTS",
    "backoff": "SAGSFLOW_NOTIFY_BACKOFF",
    "backoff_max": "SAGSFLOW_NOTIFY_BACKOFF_MAX",
}
_NUMBERS: dict[str, type] = {
    "smtp_port": int,
    "smtp_timeout": float,
    "interval": float,
    "max_attempts": int,
    "backoff": float,
    "backoff_max": float,
}

# Deliberately plain: one @, no spaces, a dotted domain. The mail server is the real judge.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^[^@\s<>(),;:\"\[\]]+@{_LABEL}(?:\.{_LABEL})+$")


class NotifyConfigError(ValueError):
    """The notification settings or the recipients file are invalid; the message says where."""


def _check_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError("not an e-mail address (expected local-part@domain.tld)")
    return value


MailAddress = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_check_address)
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


@dataclass(frozen=True)
class NotifySettings:
    smtp_host: str | None = None  # None: no SMTP, outbox only
    smtp_port: int = SUBMISSION_PORT
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_tls: SmtpTls = "starttls"
    smtp_timeout: float = 30.0  # seconds per SMTP command
    mail_from: str | None = None
    platform_url: str | None = None  # base of the case links: {platform_url}/{case_number}
    recipients_file: Path | None = None
    recipients: Recipients = field(default_factory=Recipients)
    interval: float = 10.0  # seconds between two looks at the outbox
    max_attempts: int = 10
    backoff: float = 30.0  # seconds before the first retry; doubles each attempt
    backoff_max: float = 3600.0
    batch_size: int = 50  # rows per run_once
    # A claimed row is left alone by other dispatchers this long; a send is cut off well before.
    lease: float = 300.0

    @property
    def enabled(self) -> bool:
        return self.smtp_host is not None

    def __post_init__(self) -> None:
        if self.smtp_tls not in SMTP_TLS_MODES:
            raise NotifyConfigError(
                f"SAGSFLOW_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, "
                f"not {self.smtp_tls!r}"
            )
        if not 0 < self.smtp_port < 65536:
            raise NotifyConfigError(f"SAGSFLOW_SMTP_PORT must be 1-65535, not {self.smtp_port}")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise NotifyConfigError(
                "SAGSFLOW_SMTP_USERNAME and SAGSFLOW_SMTP_PASSWORD go together: set both or neither"
            )
        for name in ("smtp_timeout", "interval", "backoff", "backoff_max", "lease"):
            if getattr(self, name) <= 0:
                raise NotifyConfigError(f"{_variable(name)} must be a positive number of seconds")
        if self.max_attempts < 1:
            raise NotifyConfigError("SAGSFLOW_NOTIFY_MAX_ATTEMPTS must be at least 1")
        if self.batch_size < 1:
            raise NotifyConfigError("batch_size must be at least 1")
        if self.lease < 4 * self.smtp_timeout:
            raise NotifyConfigError(
                f"the claim lease ({self.lease:g} s) must be at least four SMTP timeouts "
                f"({self.smtp_timeout:g} s each): lower SAGSFLOW_SMTP_TIMEOUT"
            )
        if self.mail_from is not None:
            try:
                _check_address(self.mail_from)
            except ValueError as exc:
                raise NotifyConfigError(f"SAGSFLOW_MAIL_FROM: {exc}") from exc
        if self.platform_url is not None:
            url = self.platform_url.rstrip("/")
            if not re.match(r"^https?://[^/\s]+", url):
                raise NotifyConfigError(
                    "SAGSFLOW_PLATFORM_URL must be an http(s) URL such as "
                    "https://platform.example/sager"
                )
            object.__setattr__(self, "platform_url", url)
        if self.enabled:
            missing = [
                _variable(name)
                for name in ("mail_from", "platform_url")
                if getattr(self, name) is None
            ]
            if self.recipients_file is None and not self.recipients.schools:
                missing.append(_variable("recipients_file"))
            if missing:
                raise NotifyConfigError(
                    f"SAGSFLOW_SMTP_HOST is set, so {', '.join(missing)} must be set too"
                )

    @property
    def mail_domain(self) -> str:
        return (self.mail_from or "sagsflow.invalid").rsplit("@", 1)[-1]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifySettings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            name: environ[variable].strip()
            for name, variable in NOTIFY_ENVIRONMENT.items()
            if environ.get(variable, "").strip()
        }
        if "smtp_password" in values:
            values["smtp_password"] = environ[NOTIFY_ENVIRONMENT["smtp_password"]]  # as given
        for name, kind in _NUMBERS.items():
            if name in values:
                try:
                    values[name] = kind(values[name])
                except ValueError:
                    noun = "a whole number" if kind is int else "a number"
                    raise NotifyConfigError(
                        f"{_variable(name)} must be {noun}, not {values[name]!r}"
                    ) from None
        if "smtp_tls" in values:
            values["smtp_tls"] = cast(SmtpTls, values["smtp_tls"].lower())
            if values["smtp_tls"] == "tls" and "smtp_port" not in values:
                values["smtp_port"] = IMPLICIT_TLS_PORT
        if "recipients_file" in values:
            path = Path(values["recipients_file"]).expanduser()
            values["recipients_file"] = path
            values["recipients"] = load_recipients(path)
        return cls(**values)


def _variable(name: str) -> str:
    return NOTIFY_ENVIRONMENT.get(name, name)
