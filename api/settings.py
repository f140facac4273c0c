"""HTTP API configuration, read from the environment (twelve-factor style).

Temporal and the store are configured as for the worker (`workers.settings.Settings`); this
holds what only the API needs: where it listens and how it authenticates staff.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

AuthMode = Literal["tokens", "oidc"]
AUTH_MODES: tuple[AuthMode, ...] = ("tokens", "oidc")
DEFAULT_TOKENS_FILE = Path("data/tokens.yaml")
DEFAULT_PURPOSE = "sagsbehandling"
# The Temporal Web UI of `sagsflow dev` / `temporal server start-dev` (default UI port 8233).
DEFAULT_CODEC_CORS_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")
DEFAULT_MAX_BODY_BYTES = 256 * 1024
LIMIT_FIELDS = (
    "max_body_bytes", "notes_per_hour", "notes_total", "incidents_per_hour", "incidents_total",
    "press_inquiries_per_hour", "press_inquiries_total",
)

# The environment variable behind each setting.
ENVIRONMENT_VARIABLES = {
    "auth": "SAGSFLOW_AUTH",
    "tokens_file": "SAGSFLOW_TOKENS_FILE",
    "oidc_issuer": "SAGSFLOW_OIDC_ISSUER",
    "oidc_audience": "SAGSFLOW_OIDC_AUDIENCE",
    "oidc_jwks_url": "SAGSFLOW_OIDC_JWKS_URL",
    "oidc_roles_claim": "SAGSFLOW_OIDC_ROLES_CLAIM",
    "oidc_schools_claim": "SAGSFLOW_OIDC_SCHOOLS_CLAIM",
    "oidc_staff_id_claim": "SAGSFLOW_OIDC_STAFF_ID_CLAIM",
    "oidc_name_claim": "SAGSFLOW_OIDC_NAME_CLAIM",
    "host": "SAGSFLOW_API_HOST",
    "port": "SAGSFLOW_API_PORT",
    "default_purpose": "SAGSFLOW_DEFAULT_PURPOSE",
    "page_token_secret": "SAGSFLOW_PAGE_TOKEN_SECRET",
    "codec_cors_origins": "SAGSFLOW_CODEC_CORS_ORIGINS",
}


@dataclass(frozen=True)
class ApiSettings:
    auth: AuthMode = "tokens"
    tokens_file: Path = DEFAULT_TOKENS_FILE
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    # Claim names; a dotted name reaches into nested claims (e.g. "realm_access.roles").
    oidc_roles_claim: str = "roles"
    oidc_schools_claim: str = "schools"
    oidc_staff_id_claim: str = "sub"
    oidc_name_claim: str = "name"
    host: str = "127.0.0.1"
    port: int = 8000
    # What the access log records when a request names no purpose (header X-Purpose).
    default_purpose: str = DEFAULT_PURPOSE
    # Seals the case list's page tokens; shared by all API processes behind one address.
    # Empty: a random secret per process.
    page_token_secret: str | None = dataclasses.field(default=None, repr=False)
    # Origins of the Temporal Web UI that may call the codec server (/codec) from a browser.
    codec_cors_origins: tuple[str, ...] = DEFAULT_CODEC_CORS_ORIGINS
    # Bounded work (issue 11); set in code (create_app's settings), not from the environment.
    # A request body larger than this is refused with 413 before it is read (the largest real
    # body, a case with 30 participants, names and contact details, stays under ~130 KiB even
    # with every letter JSON-escaped).
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Free messages to one case: at most so many per sliding hour (429 with Retry-After) and
    # in all (422: the case takes no more of them).
    notes_per_hour: int = 30
    notes_total: int = 5000
    incidents_per_hour: int = 10
    incidents_total: int = 200
    press_inquiries_per_hour: int = 10
    press_inquiries_total: int = 200

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ValueError(
                f"SAGSFLOW_AUTH must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}"
            )
        if self.auth == "oidc":
            missing = [
                ENVIRONMENT_VARIABLES[name]
                for name in ("oidc_issuer", "oidc_audience", "oidc_jwks_url")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"SAGSFLOW_AUTH=oidc needs {', '.join(missing)}")
        if not 0 < int(self.port) < 65536:
            raise ValueError(f"SAGSFLOW_API_PORT must be a port number, not {self.port!r}")
        object.__setattr__(self, "port", int(self.port))
        for name in LIMIT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive whole number, not {value!r}")
        object.__setattr__(self, "tokens_file", Path(self.tokens_file).expanduser())
        origins = self.codec_cors_origins
        if isinstance(origins, str):
            origins = tuple(o.strip() for o in origins.split(",") if o.strip())
        origins = tuple(origins)
        for origin in origins:
            if origin == "*" or not origin.startswith(("http://", "https://")) or (
                origin.rstrip("/") != origin
            ):
                raise ValueError(
                    "SAGSFLOW_CODEC_CORS_ORIGINS must list origins like http://127.0.0.1:8233 "
                    f"(scheme, host and port; no '*', no trailing slash), not {origin!r}"
                )
        object.__setattr__(self, "codec_cors_origins", origins)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[variable].strip()
            for field, variable in ENVIRONMENT_VARIABLES.items()
            if environ.get(variable, "").strip()
        }
        if "auth" in values:
            values["auth"] = cast(AuthMode, values["auth"].lower())
        if "codec_cors_origins" in values:
            values["codec_cors_origins"] = tuple(
                origin.strip() for origin in values["codec_cors_origins"].split(",")
                if origin.strip()
            )
        if "port" in values:
            try:
                values["port"] = int(values["port"])
            except ValueError as exc:
                raise ValueError(
                    f"SAGSFLOW_API_PORT must be a port number, not {values['port']!r}"
                ) from exc
        return cls(**values)

    def with_overrides(self, **changes: Any) -> ApiSettings:
        """A copy with the given values; None means "keep" (an option left out on the CLI)."""
        return dataclasses.replace(
            self, **{name: value for name, value in changes.items() if value is not None}
        )
