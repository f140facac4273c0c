"""The configuration of every sagsflow process, typed, read from the environment (twelve-factor).

One class per concern, each a pydantic-settings `BaseSettings`:

- `Settings`: Temporal, the store, logs and metrics; every process reads it (the worker, the
  HTTP API, the notification dispatcher and the CLI).
- `ApiSettings`: what only the HTTP API needs: where it listens and how it authenticates staff.
- `NotifySettings`: the notification dispatcher (SMTP, sender, platform link, recipients).
- `RetentionSettings`: the worker's retention schedule.

Each field the environment sets names its variable (`validation_alias`) and says what it means
(`description`); `core.environment` builds the registry of every variable from these fields, so
the names, defaults and meanings are written once.

Building a class directly (`Settings(temporal_address=...)`) takes the given values and the
defaults, nothing else: a settings object made in code (tests, `with_overrides`, `sagsflow dev`)
never picks up a stray variable. `from_env()` reads the process environment, `from_env(mapping)`
the given mapping instead, through `EnvironmentSource`; an unset or blank variable means the
default.

A bad value raises ValueError (NotifyConfigError for the dispatcher) whose message names the
variable, e.g. "SAGSFLOW_LOG_FORMAT must be one of console, json, not 'xml'"; never pydantic's
own text, which would repeat values such as passwords. Several bad values: one line each.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.recipients import NotifyConfigError, Recipients, check_address, load_recipients
from core.task_queue import TASK_QUEUE
from store import DEFAULT_DATABASE_URL

# Which process reads a variable (the registry's "read by" column).
WORKER = "worker"
API = "api"
BOTH = "worker, api"

LogFormat = Literal["console", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("console", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_CACHED_CASES = 250

AuthMode = Literal["tokens", "oidc"]
AUTH_MODES: tuple[AuthMode, ...] = ("tokens", "oidc")
# The Temporal Web UI of `sagsflow dev` / `temporal server start-dev` (default UI port 8233).
DEFAULT_CODEC_CORS_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")
DEFAULT_MAX_BODY_BYTES = 256 * 1024

SmtpTls = Literal["starttls", "tls", "none"]
SMTP_TLS_MODES: tuple[SmtpTls, ...] = ("starttls", "tls", "none")
SUBMISSION_PORT = 587  # STARTTLS (RFC 6409)
IMPLICIT_TLS_PORT = 465  # TLS from the first byte (RFC 8314)

DEFAULT_RETENTION_DAYS = 730
DEFAULT_CRON = "15 2 * * *"
_TRUE = {"1", "true", "yes", "on", "ja"}
_FALSE = {"0", "false", "no", "off", "nej"}
_OFF = {"off", "none", "disabled", "fra"}


def extra(field: FieldInfo) -> dict[str, Any]:
    """A field's own marks: `secret` (keep it out of images, repositories and logs),
    `verbatim` (not stripped), `read_by` (if not the class's), `documented_default`."""
    marks = field.json_schema_extra
    return marks if isinstance(marks, dict) else {}


class EnvironmentSource(PydanticBaseSettingsSource):
    """A pydantic-settings source over an environment mapping (`os.environ` or a test's dict).

    Each field reads the one variable its `validation_alias` names, stripped of surrounding
    blanks (except a field marked `verbatim`, e.g. a password, taken as given); unset or blank
    means "not given", so the field keeps its default. Fields without a variable are set in
    code only.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = field.validation_alias
        if not isinstance(variable, str):
            return None, field_name, False
        raw = self.environ.get(variable)
        if raw is None or not raw.strip():
            return None, field_name, False
        return (raw if extra(field).get("verbatim") else raw.strip()), field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class EnvironmentSettings(BaseSettings):
    """What the four settings classes share: construction, `from_env`, `with_overrides`, and
    errors that name the variable."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        # Field names in code, variable names (the aliases) from the environment source.
        validate_by_name=True,
        validate_by_alias=True,
    )

    # Which process reads this class's variables (a field may say otherwise).
    read_by: ClassVar[str] = BOTH
    # The exception a bad value raises.
    error: ClassVar[type[ValueError]] = ValueError

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            # `from None`: pydantic's error repeats the input values (passwords, addresses).
            raise self.error(_explain(type(self), exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The given values only: the environment comes in through `from_env` (see the module
        # docstring); no .env file and no secrets directory, as before.
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from `environ` (default: the process environment)."""
        source = EnvironmentSource(cls, os.environ if environ is None else environ)
        return cls(**cls._from_environment(source()))

    @classmethod
    def _from_environment(cls, values: dict[str, Any]) -> dict[str, Any]:
        """What the environment gives, before validation; a class may derive more from it."""
        return values

    def with_overrides(self, **changes: Any) -> Self:
        """A copy with the given values; None means "keep" (an option left out on the CLI)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update({name: value for name, value in changes.items() if value is not None})
        # Validated again: an override is held to the same rules as the environment.
        return type(self)(**values)

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable behind `field` (the field's own name if it has none)."""
        alias = cls.model_fields[field].validation_alias
        return alias if isinstance(alias, str) else field

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field → environment variable, for every field the environment sets."""
        return {
            name: field.validation_alias
            for name, field in cls.model_fields.items()
            if isinstance(field.validation_alias, str)
        }


def _explain(settings: type[EnvironmentSettings], exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        raised = (error.get("ctx") or {}).get("error")
        if isinstance(raised, ValueError):
            lines.append(str(raised))  # our validators' own message, naming the variable
            continue
        location = error.get("loc") or ()
        name = str(location[0]) if location else ""
        where = settings.variable(name) if name in settings.model_fields else name or "settings"
        lines.append(f"{where}: {error['msg']}")
    return "\n".join(lines)


def _whole_number(value: Any, message: str) -> Any:
    """`value` as an int when it is text; other values are left to pydantic."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(message) from None
    return value


# --- every process ----------------------------------------------------------------------------


class Settings(EnvironmentSettings):
    """Temporal, the store, logs and metrics: what the worker, the API, the notification
    dispatcher and the CLI all read."""

    temporal_address: str = Field(
        "localhost:7233",
        validation_alias="TEMPORAL_ADDRESS",
        description="Temporal frontend host:port",
    )
    temporal_namespace: str = Field(
        "default", validation_alias="TEMPORAL_NAMESPACE", description="Temporal namespace"
    )
    task_queue: str = Field(
        TASK_QUEUE,
        validation_alias="SAGSFLOW_TASK_QUEUE",
        description="task queue of the case workflows",
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias="DATABASE_URL",
        description="the store (SQLAlchemy URL)",
        json_schema_extra={"secret": True},
    )
    log_format: LogFormat = Field(
        "console", validation_alias="SAGSFLOW_LOG_FORMAT", description="console or json"
    )
    log_level: str = Field(
        "INFO",
        validation_alias="SAGSFLOW_LOG_LEVEL",
        description="DEBUG, INFO, WARNING, ERROR, CRITICAL",
    )
    # Empty: no endpoint.
    metrics_address: str | None = Field(
        None,
        validation_alias="SAGSFLOW_METRICS_ADDRESS",
        description="host:port of the Temporal SDK's Prometheus endpoint (the worker's /metrics)",
    )
    # A case waits days for staff, so holding every open case costs memory for nothing: one
    # outside the cache is replayed from its short history (~100 events) when its next step
    # comes, in milliseconds.
    cached_cases: int = Field(
        DEFAULT_CACHED_CASES,
        validation_alias="SAGSFLOW_CACHED_CASES",
        description="how many cases the worker keeps in memory between their steps",
        json_schema_extra={"read_by": WORKER},
    )

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: Any) -> Any:
        form = str(value).strip().lower()
        if form not in LOG_FORMATS:
            raise ValueError(
                f"SAGSFLOW_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {form!r}"
            )
        return form

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        level = str(value).upper()
        if level not in LOG_LEVELS:
            raise ValueError(
                f"SAGSFLOW_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}"
            )
        return level

    @field_validator("cached_cases", mode="before")
    @classmethod
    def _cached_cases(cls, value: Any) -> int:
        try:
            cached = int(value)
        except (TypeError, ValueError):
            cached = 0
        if cached < 1:
            raise ValueError(
                f"SAGSFLOW_CACHED_CASES must be a whole number of at least 1, not {value!r}"
            )
        return cached


# --- the HTTP API -----------------------------------------------------------------------------


class ApiSettings(EnvironmentSettings):
    """What only the HTTP API needs: where it listens and how it authenticates staff. Temporal
    and the store come from `Settings`, as for the worker."""

    read_by: ClassVar[str] = API

    auth: AuthMode = Field(
        "tokens", validation_alias="SAGSFLOW_AUTH", description="tokens (tokens file) or oidc"
    )
    tokens_file: Path = Field(
        Path("data/tokens.yaml"),
        validation_alias="SAGSFLOW_TOKENS_FILE",
        description="bearer tokens → staff",
        json_schema_extra={"documented_default": "./data/tokens.yaml"},
    )
    oidc_issuer: str | None = Field(
        None, validation_alias="SAGSFLOW_OIDC_ISSUER", description="OIDC issuer (iss)"
    )
    oidc_audience: str | None = Field(
        None, validation_alias="SAGSFLOW_OIDC_AUDIENCE", description="OIDC audience (aud)"
    )
    oidc_jwks_url: str | None = Field(
        None,
        validation_alias="SAGSFLOW_OIDC_JWKS_URL",
        description="the identity provider's JWKS URL",
    )
    # Claim names; a dotted name reaches into nested claims (e.g. "realm_access.roles").
    oidc_roles_claim: str = Field(
        "roles",
        validation_alias="SAGSFLOW_OIDC_ROLES_CLAIM",
        description="claim with the staff roles",
    )
    oidc_schools_claim: str = Field(
        "schools",
        validation_alias="SAGSFLOW_OIDC_SCHOOLS_CLAIM",
        description="claim with the school ids",
    )
    oidc_staff_id_claim: str = Field(
        "sub",
        validation_alias="SAGSFLOW_OIDC_STAFF_ID_CLAIM",
        description="claim with the staff id",
    )
    oidc_name_claim: str = Field(
        "name",
        validation_alias="SAGSFLOW_OIDC_NAME_CLAIM",
        description="claim with the display name",
    )
    # The web inbox's sign-in at the same identity provider (authorization code with PKCE).
    oidc_client_id: str | None = Field(
        None,
        validation_alias="SAGSFLOW_OIDC_CLIENT_ID",
        description="the web inbox's OIDC client id (its sign-in)",
    )
    oidc_client_secret: str | None = Field(
        None,
        validation_alias="SAGSFLOW_OIDC_CLIENT_SECRET",
        repr=False,
        description="the web inbox's OIDC client secret, for a confidential client",
        json_schema_extra={"secret": True, "documented_default": "none (a public client)"},
    )
    oidc_scopes: str = Field(
        "openid profile",
        validation_alias="SAGSFLOW_OIDC_SCOPES",
        description="scopes the web inbox asks for at sign-in",
    )
    web_base_url: str | None = Field(
        None,
        validation_alias="SAGSFLOW_WEB_BASE_URL",
        description="the inbox's public address, for the OIDC redirect (behind a proxy)",
        json_schema_extra={"documented_default": "the address the request came to"},
    )
    # A page that signs anyone in as any demo staff of the tokens file: set in code by
    # `sagsflow dev` only (never from the environment, so no deployment can switch it on), and
    # honoured only while the API listens on a loopback address (api/web/signin.py).
    web_dev_signin: bool = Field(
        False, description="the inbox's sign-in lists the tokens file's demo staff (sagsflow dev)"
    )
    host: str = Field(
        "127.0.0.1",
        validation_alias="SAGSFLOW_API_HOST",
        description="address the API listens on",
    )
    port: int = Field(
        8000, validation_alias="SAGSFLOW_API_PORT", description="port the API listens on"
    )
    # What the access log records when a request names no purpose (header X-Purpose).
    default_purpose: str = Field(
        "sagsbehandling",
        validation_alias="SAGSFLOW_DEFAULT_PURPOSE",
        description="access-log purpose when a request sends no X-Purpose",
    )
    # Seals the case list's page tokens; shared by all API processes behind one address.
    # Empty: a random secret per process.
    page_token_secret: str | None = Field(
        None,
        validation_alias="SAGSFLOW_PAGE_TOKEN_SECRET",
        repr=False,
        description="seals page tokens; the same for every API process",
        json_schema_extra={"secret": True, "documented_default": "random per process"},
    )
    # Prometheus scrapes /metrics with this bearer token; empty: an operator's token.
    metrics_token: str | None = Field(
        None,
        validation_alias="SAGSFLOW_METRICS_TOKEN",
        repr=False,
        description="bearer token for GET /metrics (Prometheus' authorization); else an operator's",
        json_schema_extra={"secret": True, "documented_default": "an operator's token"},
    )
    # Origins of the Temporal Web UI that may call the codec server (/codec) from a browser.
    codec_cors_origins: tuple[str, ...] = Field(
        DEFAULT_CODEC_CORS_ORIGINS,
        validation_alias="SAGSFLOW_CODEC_CORS_ORIGINS",
        description="Web UI origins that may call the codec server (/codec)",
    )
    # Bounded work (issue 11); set in code (create_app's settings), not from the environment.
    # A request body larger than this is refused with 413 before it is read (the largest real
    # body, a case with 30 participants, names and contact details, stays under ~130 KiB even
    # with every letter JSON-escaped).
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, description="largest request body, in bytes (413 above)"
    )
    # Free messages to one case: at most so many per sliding hour (429 with Retry-After) and
    # in all (422: the case takes no more of them).
    notes_per_hour: int = Field(30, description="notes to one case per sliding hour")
    notes_total: int = Field(5000, description="notes to one case in all")
    incidents_per_hour: int = Field(10, description="new incidents to one case per hour")
    incidents_total: int = Field(200, description="new incidents to one case in all")
    press_inquiries_per_hour: int = Field(10, description="press inquiries to a case per hour")
    press_inquiries_total: int = Field(200, description="press inquiries to one case in all")

    @field_validator("auth", mode="before")
    @classmethod
    def _auth(cls, value: Any) -> Any:
        mode = str(value).lower()
        if mode not in AUTH_MODES:
            raise ValueError(f"SAGSFLOW_AUTH must be one of {', '.join(AUTH_MODES)}, not {mode!r}")
        return mode

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> int:
        try:
            port = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"SAGSFLOW_API_PORT must be a port number, not {value!r}") from None
        if not 0 < port < 65536:
            raise ValueError(f"SAGSFLOW_API_PORT must be a port number, not {port!r}")
        return port

    @field_validator("tokens_file", mode="after")
    @classmethod
    def _tokens_file(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator(
        "max_body_bytes",
        "notes_per_hour",
        "notes_total",
        "incidents_per_hour",
        "incidents_total",
        "press_inquiries_per_hour",
        "press_inquiries_total",
        mode="before",
    )
    @classmethod
    def _limit(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{info.field_name} must be a positive whole number, not {value!r}")
        return value

    @field_validator("codec_cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        # From the environment: comma-separated.
        origins = value.split(",") if isinstance(value, str) else value
        origins = tuple(str(origin).strip() for origin in origins if str(origin).strip())
        for origin in origins:
            if (
                origin == "*"
                or not origin.startswith(("http://", "https://"))
                or (origin.rstrip("/") != origin)
            ):
                raise ValueError(
                    "SAGSFLOW_CODEC_CORS_ORIGINS must list origins like http://127.0.0.1:8233 "
                    f"(scheme, host and port; no '*', no trailing slash), not {origin!r}"
                )
        return origins

    @model_validator(mode="after")
    def _oidc_is_complete(self) -> Self:
        if self.auth == "oidc":
            missing = [
                self.variable(name)
                for name in ("oidc_issuer", "oidc_audience", "oidc_jwks_url")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"SAGSFLOW_AUTH=oidc needs {', '.join(missing)}")
            if self.web_dev_signin:
                raise ValueError("the dev sign-in is for sagsflow dev with a tokens file, not OIDC")
        return self


# --- the notification dispatcher --------------------------------------------------------------


class NotifySettings(EnvironmentSettings):
    """The notification dispatcher: SMTP, sender, platform link and recipients (the recipients
    file: `core.recipients`). Without SAGSFLOW_SMTP_HOST it is off: the outbox is only logged."""

    read_by: ClassVar[str] = WORKER
    error: ClassVar[type[ValueError]] = NotifyConfigError

    # None: no SMTP, outbox only.
    smtp_host: str | None = Field(
        None,
        validation_alias="SAGSFLOW_SMTP_HOST",
        description="SMTP server; unset: the outbox is only logged",
    )
    smtp_port: int = Field(
        SUBMISSION_PORT,
        validation_alias="SAGSFLOW_SMTP_PORT",
        description="SMTP port",
        json_schema_extra={"documented_default": "587 (465 with tls)"},
    )
    smtp_username: str | None = Field(
        None, validation_alias="SAGSFLOW_SMTP_USERNAME", description="SMTP user"
    )
    # Taken as given (verbatim): blanks may belong to a password.
    smtp_password: str | None = Field(
        None,
        validation_alias="SAGSFLOW_SMTP_PASSWORD",
        repr=False,
        description="SMTP password",
        json_schema_extra={"secret": True, "verbatim": True},
    )
    smtp_tls: SmtpTls = Field(
        "starttls", validation_alias="SAGSFLOW_SMTP_TLS", description="starttls, tls or none"
    )
    smtp_timeout: float = Field(
        30.0, validation_alias="SAGSFLOW_SMTP_TIMEOUT", description="seconds per SMTP command"
    )
    mail_from: str | None = Field(
        None, validation_alias="SAGSFLOW_MAIL_FROM", description="sender address"
    )
    # Base of the case links: {platform_url}/{case_number}.
    platform_url: str | None = Field(
        None,
        validation_alias="SAGSFLOW_PLATFORM_URL",
        description="base of the case links in mails",
    )
    recipients_file: Path | None = Field(
        None,
        validation_alias="SAGSFLOW_RECIPIENTS_FILE",
        description="YAML: school and role → addresses",
    )
    # Loaded from recipients_file by from_env; set in code by tests.
    recipients: Recipients = Field(
        default_factory=Recipients, description="who receives what (the recipients file)"
    )
    interval: float = Field(
        10.0,
        validation_alias="SAGSFLOW_NOTIFY_INTERVAL",
        description="seconds between two looks at the outbox",
    )
    max_attempts: int = Field(
        10,
        validation_alias="SAGSFLOW_NOTIFY_MAX_ATTEMPTS",
        description="sending attempts per mail",
    )
    # Doubles each attempt.
    backoff: float = Field(
        30.0,
        validation_alias="SAGSFLOW_NOTIFY_BACKOFF",
        description="seconds before the first retry",
    )
    backoff_max: float = Field(
        3600.0,
        validation_alias="SAGSFLOW_NOTIFY_BACKOFF_MAX",
        description="longest wait between retries",
    )
    batch_size: int = Field(50, description="outbox rows per pass")
    # A claimed row is left alone by other dispatchers this long; a send is cut off well before.
    lease: float = Field(300.0, description="seconds a claimed outbox row is left alone")

    @property
    def enabled(self) -> bool:
        return self.smtp_host is not None

    @property
    def mail_domain(self) -> str:
        return (self.mail_from or "sagsflow.invalid").rsplit("@", 1)[-1]

    @classmethod
    def _from_environment(cls, values: dict[str, Any]) -> dict[str, Any]:
        tls = values.get("smtp_tls")
        if isinstance(tls, str) and tls.lower() == "tls" and "smtp_port" not in values:
            values["smtp_port"] = IMPLICIT_TLS_PORT
        if "recipients_file" in values:
            # Read at start: a broken recipients file stops the start, not a mail.
            path = Path(values["recipients_file"]).expanduser()
            values["recipients_file"] = path
            values["recipients"] = load_recipients(path)
        return values

    @field_validator("smtp_port", "max_attempts", mode="before")
    @classmethod
    def _whole(cls, value: Any, info: ValidationInfo) -> Any:
        variable = cls.variable(info.field_name or "")
        return _whole_number(value, f"{variable} must be a whole number, not {value!r}")

    @field_validator("smtp_timeout", "interval", "backoff", "backoff_max", mode="before")
    @classmethod
    def _number(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                variable = cls.variable(info.field_name or "")
                raise ValueError(f"{variable} must be a number, not {value!r}") from None
        return value

    @field_validator("smtp_tls", mode="before")
    @classmethod
    def _tls(cls, value: Any) -> Any:
        mode = str(value).lower()
        if mode not in SMTP_TLS_MODES:
            raise ValueError(
                f"SAGSFLOW_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, not {mode!r}"
            )
        return mode

    @field_validator("platform_url", mode="before")
    @classmethod
    def _platform_url(cls, value: Any) -> Any:
        if value is None:
            return None
        url = str(value).rstrip("/")
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError(
                "SAGSFLOW_PLATFORM_URL must be an http(s) URL such as "
                "https://platform.example/sager"
            )
        return url

    @model_validator(mode="after")
    def _check(self) -> Self:
        # In the order of the settings' importance; the first problem is the one reported.
        if not 0 < self.smtp_port < 65536:
            raise ValueError(f"SAGSFLOW_SMTP_PORT must be 1-65535, not {self.smtp_port}")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError(
                "SAGSFLOW_SMTP_USERNAME and SAGSFLOW_SMTP_PASSWORD go together: set both or neither"
            )
        for name in ("smtp_timeout", "interval", "backoff", "backoff_max", "lease"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.variable(name)} must be a positive number of seconds")
        if self.max_attempts < 1:
            raise ValueError("SAGSFLOW_NOTIFY_MAX_ATTEMPTS must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.lease < 4 * self.smtp_timeout:
            raise ValueError(
                f"the claim lease ({self.lease:g} s) must be at least four SMTP timeouts "
                f"({self.smtp_timeout:g} s each): lower SAGSFLOW_SMTP_TIMEOUT"
            )
        if self.mail_from is not None:
            try:
                check_address(self.mail_from)
            except ValueError as exc:
                raise ValueError(f"SAGSFLOW_MAIL_FROM: {exc}") from exc
        if self.enabled:
            missing = [
                self.variable(name)
                for name in ("mail_from", "platform_url")
                if getattr(self, name) is None
            ]
            if self.recipients_file is None and not self.recipients.schools:
                missing.append(self.variable("recipients_file"))
            if missing:
                raise ValueError(
                    f"SAGSFLOW_SMTP_HOST is set, so {', '.join(missing)} must be set too"
                )
        return self


# --- the retention schedule -------------------------------------------------------------------


class RetentionSettings(EnvironmentSettings):
    """The worker's daily retention sweep (`workers.retention_schedule`).

    730 days (two years after closing) is a default, not a legal answer: the municipality's
    records management sets the period (journalisering, arkivlov, its own retention plan).
    """

    read_by: ClassVar[str] = WORKER

    retention_days: int = Field(
        DEFAULT_RETENTION_DAYS,
        validation_alias="SAGSFLOW_RETENTION_DAYS",
        description="days after closing that a case's personal data is kept",
    )
    dry_run: bool = Field(
        False,
        validation_alias="SAGSFLOW_RETENTION_DRY_RUN",
        description="the sweep only reports",
    )
    # None: this process does not manage the schedule (e.g. one deployment owns it).
    cron: str | None = Field(
        DEFAULT_CRON,
        validation_alias="SAGSFLOW_RETENTION_SCHEDULE",
        description="cron (Copenhagen time) of the sweep; off: leave the schedule alone",
    )

    @field_validator("retention_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> int:
        days = _whole_number(
            value, f"SAGSFLOW_RETENTION_DAYS must be a whole number of days, not {value!r}"
        )
        if isinstance(days, int) and days < 1:
            raise ValueError(f"SAGSFLOW_RETENTION_DAYS must be at least 1, not {days}")
        return days

    @field_validator("dry_run", mode="before")
    @classmethod
    def _dry_run(cls, value: Any) -> Any:
        if isinstance(value, str):
            flag = value.strip().lower()
            if flag not in _TRUE | _FALSE:
                raise ValueError(f"SAGSFLOW_RETENTION_DRY_RUN must be true or false, not {value!r}")
            return flag in _TRUE
        return value

    @field_validator("cron", mode="before")
    @classmethod
    def _cron(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _OFF:
            return None
        return value


# Every settings class, for the registry of environment variables (core.environment).
ALL_SETTINGS: tuple[type[EnvironmentSettings], ...] = (
    Settings,
    ApiSettings,
    NotifySettings,
    RetentionSettings,
)
