"""Every environment variable a sagsflow process reads: its name, default and meaning.

The settings modules read their own variables (`workers.settings`, `api.settings`,
`workers.notify_config`, `workers.retention_schedule`, `core.codec`, `core.temporal_tls`,
`core.tracing`, `procedure.loader`); this is the one list of all of them, for the
configuration reference (`docs/configuration.md`) and for checking deployments: a variable a
deployment sets that is not listed here is read by nobody. Tests keep the list, the code and
the documentation in step.
"""

from __future__ import annotations

from dataclasses import dataclass

WORKER = "worker"
API = "api"
BOTH = "worker, api"


@dataclass(frozen=True)
class Variable:
    name: str
    default: str  # as documented; "" when unset means "off" or "none"
    meaning: str
    read_by: str = BOTH
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    # Temporal: the same names the `temporal` CLI reads.
    Variable("TEMPORAL_ADDRESS", "localhost:7233", "Temporal frontend host:port"),
    Variable("TEMPORAL_NAMESPACE", "default", "Temporal namespace"),
    Variable("TEMPORAL_API_KEY", "", "API key (Temporal Cloud); turns TLS on", secret=True),
    Variable(
        "TEMPORAL_TLS", "", "true/false: TLS to the frontend (default: on when a key, "
        "certificate or API key is set)"
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
    Variable("SAGSFLOW_TASK_QUEUE", "sagsflow-cases", "task queue of the case workflows"),
    # The store.
    Variable("DATABASE_URL", "sqlite+aiosqlite:///./data/sagsflow.db", "the store", secret=True),
    Variable("SAGSFLOW_PROCEDURE_FILE", "packaged procedure/card.yaml", "the card data", WORKER),
    # Payload encryption (core.codec).
    Variable("SAGSFLOW_PAYLOAD_KEYS_FILE", "./data/payload-keys.json if it exists",
             "JSON keys file: {\"active\": id, \"keys\": {id: base64}}", secret=True),
    Variable("SAGSFLOW_PAYLOAD_KEYS", "", "keys inline: id=base64,id=base64", secret=True),
    Variable("SAGSFLOW_PAYLOAD_KEY_ACTIVE", "the last key listed",
             "key id that seals new payloads (with SAGSFLOW_PAYLOAD_KEYS)"),
    # Logs, metrics, traces.
    Variable("SAGSFLOW_LOG_FORMAT", "console", "console or json"),
    Variable("SAGSFLOW_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING, ERROR"),
    Variable("SAGSFLOW_METRICS_ADDRESS", "",
             "host:port of the Temporal SDK's Prometheus endpoint (the worker's /metrics)"),
    Variable("SAGSFLOW_OTEL_ENABLED", "false", "OpenTelemetry tracing through Temporal"),
    Variable("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318",
             "OTLP/HTTP collector (read by the OpenTelemetry SDK)"),
    Variable("OTEL_SERVICE_NAME", "sagsflow", "service name on the spans"),
    # HTTP API (api.settings).
    Variable("SAGSFLOW_API_HOST", "127.0.0.1", "address the API listens on", API),
    Variable("SAGSFLOW_API_PORT", "8000", "port the API listens on", API),
    Variable("SAGSFLOW_AUTH", "tokens", "tokens (tokens file) or oidc", API),
    Variable("SAGSFLOW_TOKENS_FILE", "./data/tokens.yaml", "bearer tokens → staff", API),
    Variable("SAGSFLOW_OIDC_ISSUER", "", "OIDC issuer (iss)", API),
    Variable("SAGSFLOW_OIDC_AUDIENCE", "", "OIDC audience (aud)", API),
    Variable("SAGSFLOW_OIDC_JWKS_URL", "", "the identity provider's JWKS URL", API),
    Variable("SAGSFLOW_OIDC_ROLES_CLAIM", "roles", "claim with the staff roles", API),
    Variable("SAGSFLOW_OIDC_SCHOOLS_CLAIM", "schools", "claim with the school ids", API),
    Variable("SAGSFLOW_OIDC_STAFF_ID_CLAIM", "sub", "claim with the staff id", API),
    Variable("SAGSFLOW_OIDC_NAME_CLAIM", "name", "claim with the display name", API),
    Variable("SAGSFLOW_DEFAULT_PURPOSE", "sagsbehandling",
             "access-log purpose when a request sends no X-Purpose", API),
    Variable("SAGSFLOW_PAGE_TOKEN_SECRET", "random per process",
             "seals page tokens; the same for every API process", API, secret=True),
    Variable("SAGSFLOW_CODEC_CORS_ORIGINS", "http://127.0.0.1:8233,http://localhost:8233",
             "Web UI origins that may call the codec server (/codec)", API),
    # Notifications (workers.notify_config).
    Variable("SAGSFLOW_SMTP_HOST", "", "SMTP server; unset: the outbox is only logged", WORKER),
    Variable("SAGSFLOW_SMTP_PORT", "587 (465 with tls)", "SMTP port", WORKER),
    Variable("SAGSFLOW_SMTP_USERNAME", "", "SMTP user", WORKER),
    Variable("SAGSFLOW_SMTP_PASSWORD", "", "SMTP password", WORKER, secret=True),
    Variable("SAGSFLOW_SMTP_TLS", "starttls", "starttls, tls or none", WORKER),
    Variable("SAGSFLOW_SMTP_TIMEOUT", "30", "seconds per SMTP command", WORKER),
    Variable("SAGSFLOW_MAIL_FROM", "", "sender address", WORKER),
    Variable("SAGSFLOW_PLATFORM_URL", "", "base of the case links in mails", WORKER),
    Variable("SAGSFLOW_RECIPIENTS_FILE", "", "YAML: school and role → addresses", WORKER),
    Variable("SAGSFLOW_NOTIFY_INTERVAL", "10", "seconds between two looks at the outbox",
             WORKER),
    Variable("SAGSFLOW_NOTIFY_MAX_ATTEMPTS", "10", "sending attempts per mail", WORKER),
    Variable("SAGSFLOW_NOTIFY_BACKOFF", "30", "seconds before the first retry", WORKER),
    Variable("SAGSFLOW_NOTIFY_BACKOFF_MAX", "3600", "longest wait between retries", WORKER),
    # Retention (workers.retention_schedule).
    Variable("SAGSFLOW_RETENTION_DAYS", "730",
             "days after closing that a case's personal data is kept", WORKER),
    Variable("SAGSFLOW_RETENTION_DRY_RUN", "false", "the sweep only reports", WORKER),
    Variable("SAGSFLOW_RETENTION_SCHEDULE", "15 2 * * *",
             "cron (Copenhagen time) of the sweep; off: leave the schedule alone", WORKER),
)

NAMES: frozenset[str] = frozenset(variable.name for variable in VARIABLES)
