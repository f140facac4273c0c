"""Every environment variable a sagsflow process reads: its name, default and meaning.

The settings classes (`core.settings`: `Settings`, `ApiSettings`, `NotifySettings`,
`RetentionSettings`) name their variables in their fields, with the default and a description;
they are taken from there. The few variables read elsewhere are listed here by hand: the
Temporal TLS options (`core.temporal_tls`), the payload keys (`core.codec`), tracing
(`core.tracing`) and the card (`procedure.loader`). Together this is the one list of all of
them, for the configuration reference (`docs/configuration.md`) and for checking deployments: a
variable a deployment sets that is not listed here is read by nobody. Tests keep the list, the
code and the documentation in step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.settings import ALL_SETTINGS, BOTH, WORKER, EnvironmentSettings, extra


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as documented; "" when unset means "off" or "none"
    meaning: str
    read_by: str = BOTH
    secret: bool = False


def _documented(default: Any) -> str:
    """A field's default as the documentation shows it."""
    if default is None:
        return ""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, tuple):
        return ",".join(str(item) for item in default)
    if isinstance(default, Path) and not default.is_absolute():
        return f"./{default}"
    return str(default)


def from_settings(settings: type[EnvironmentSettings]) -> Iterator[Variable]:
    """The variables of one settings class, from its fields."""
    for name, variable in settings.variables().items():
        field = settings.model_fields[name]
        marks = extra(field)
        yield Variable(
            variable,
            marks.get("documented_default", _documented(field.default)),
            field.description or "",
            marks.get("read_by", settings.read_by),
            bool(marks.get("secret", False)),
        )


_SETTINGS = tuple(variable for settings in ALL_SETTINGS for variable in from_settings(settings))
_ELSEWHERE = (
    # Temporal TLS: the same names the `temporal` CLI reads (core.temporal_tls).
    Variable("TEMPORAL_API_KEY", "", "API key (Temporal Cloud); turns TLS on", secret=True),
    Variable(
        "TEMPORAL_TLS",
        "",
        "true/false: TLS to the frontend (default: on when a key, certificate or API key is set)",
    ),
    Variable("TEMPORAL_TLS_CLIENT_CERT_PATH", "", "client certificate (PEM) for mTLS"),
    Variable("TEMPORAL_TLS_CLIENT_CERT_DATA", "", "the client certificate itself (PEM)"),
    Variable("TEMPORAL_TLS_CLIENT_KEY_PATH", "", "private key (PEM) of the client certificate"),
    Variable(
        "TEMPORAL_TLS_CLIENT_KEY_DATA", "", "the client private key itself (PEM)", secret=True
    ),
    Variable("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "", "CA (PEM) that signed the server's cert"),
    Variable("TEMPORAL_TLS_SERVER_CA_CERT_DATA", "", "the server CA itself (PEM)"),
    Variable("TEMPORAL_TLS_SERVER_NAME", "", "server name (SNI) to verify the frontend as"),
    # The card (procedure.loader).
    Variable("SAGSFLOW_PROCEDURE_FILE", "packaged procedure/card.yaml", "the card data", WORKER),
    # Payload encryption (core.codec).
    Variable(
        "SAGSFLOW_PAYLOAD_KEYS_FILE",
        "./data/payload-keys.json if it exists",
        'JSON keys file: {"active": id, "keys": {id: base64}}',
        secret=True,
    ),
    Variable("SAGSFLOW_PAYLOAD_KEYS", "", "keys inline: id=base64,id=base64", secret=True),
    Variable(
        "SAGSFLOW_PAYLOAD_KEY_ACTIVE",
        "the last key listed",
        "key id that seals new payloads (with SAGSFLOW_PAYLOAD_KEYS)",
    ),
    # Traces (core.tracing).
    Variable("SAGSFLOW_OTEL_ENABLED", "false", "OpenTelemetry tracing through Temporal"),
    Variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://localhost:4318",
        "OTLP/HTTP collector (read by the OpenTelemetry SDK)",
    ),
    Variable("OTEL_SERVICE_NAME", "sagsflow", "service name on the spans"),
)

VARIABLES: tuple[Variable, ...] = _SETTINGS + _ELSEWHERE
NAMES: frozenset[str] = frozenset(variable.name for variable in VARIABLES)
