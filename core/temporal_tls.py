"""TLS and API-key settings for the Temporal connection: a cluster with mTLS, or Temporal Cloud.

The variables are the ones the `temporal` CLI and every Temporal SDK read, so one environment
configures sagsflow and the operator's CLI alike:

| variable | meaning |
|---|---|
| TEMPORAL_API_KEY | API key (Temporal Cloud); sent as a bearer token, turns TLS on |
| TEMPORAL_TLS | `true`/`false`; default: on when any setting below or an API key is set |
| TEMPORAL_TLS_CLIENT_CERT_PATH / _DATA | client certificate (PEM) for mTLS |
| TEMPORAL_TLS_CLIENT_KEY_PATH / _DATA | its private key (PEM) |
| TEMPORAL_TLS_SERVER_CA_CERT_PATH / _DATA | the server's CA (default: the system's roots) |
| TEMPORAL_TLS_SERVER_NAME | name to verify the server's certificate against (SNI) |

Nothing set: a plain connection, as to `sagsflow dev`'s server or a cluster inside one network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from temporalio.service import TLSConfig

API_KEY = "TEMPORAL_API_KEY"
TLS = "TEMPORAL_TLS"
CLIENT_CERT = "TEMPORAL_TLS_CLIENT_CERT"
CLIENT_KEY = "TEMPORAL_TLS_CLIENT_KEY"
SERVER_CA = "TEMPORAL_TLS_SERVER_CA_CERT"
SERVER_NAME = "TEMPORAL_TLS_SERVER_NAME"
# Every variable read here, in full.
VARIABLES = (
    API_KEY,
    TLS,
    *(
        f"{stem}_{form}"
        for stem in (CLIENT_CERT, CLIENT_KEY, SERVER_CA)
        for form in ("PATH", "DATA")
    ),
    SERVER_NAME,
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class TemporalTlsError(ValueError):
    """The TLS or API-key settings are contradictory or name a file that cannot be read."""


def tls_and_api_key(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for `Client.connect`: `tls` and `api_key`, only those that are set."""
    environ = os.environ if environ is None else environ

    def value(name: str) -> str | None:
        return environ.get(name, "").strip() or None

    flag = value(TLS)
    if flag is not None and flag.lower() not in _TRUE | _FALSE:
        raise TemporalTlsError(f"{TLS} must be true or false, not {flag!r}")
    client_cert = _pem(environ, CLIENT_CERT)
    client_key = _pem(environ, CLIENT_KEY)
    server_ca = _pem(environ, SERVER_CA)
    server_name = value(SERVER_NAME)
    api_key = value(API_KEY)
    if (client_cert is None) != (client_key is None):
        raise TemporalTlsError(
            f"{CLIENT_CERT}_PATH and {CLIENT_KEY}_PATH (or _DATA) go together: set both or neither"
        )
    details = any(item is not None for item in (client_cert, server_ca, server_name))
    if flag is not None and flag.lower() in _FALSE:
        if details:
            raise TemporalTlsError(
                f"{TLS}=false contradicts the TLS certificate settings: remove one of them"
            )
        tls: bool | TLSConfig | None = False
    elif details:
        tls = TLSConfig(
            server_root_ca_cert=server_ca,
            domain=server_name,
            client_cert=client_cert,
            client_private_key=client_key,
        )
    elif flag is not None or api_key is not None:
        tls = True  # the system's trusted roots, as Temporal Cloud needs
    else:
        tls = None
    arguments: dict[str, Any] = {}
    if tls is not None:
        arguments["tls"] = tls
    if api_key is not None:
        arguments["api_key"] = api_key
    return arguments


def _pem(environ: Mapping[str, str], stem: str) -> bytes | None:
    """A PEM from `<stem>_PATH` (a file) or `<stem>_DATA` (the text itself)."""
    path = environ.get(f"{stem}_PATH", "").strip()
    data = environ.get(f"{stem}_DATA", "").strip()
    if path and data:
        raise TemporalTlsError(f"set {stem}_PATH or {stem}_DATA, not both")
    if data:
        return data.encode("utf-8")
    if not path:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise TemporalTlsError(
            f"{stem}_PATH {path}: cannot be read: {exc.strerror or exc}"
        ) from exc
