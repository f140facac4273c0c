"""The Temporal client as every sagsflow process makes it: one place for the data converter.

Payload keys (`core.codec`) come from `SAGSFLOW_PAYLOAD_KEYS_FILE`, or
`SAGSFLOW_PAYLOAD_KEYS` with `SAGSFLOW_PAYLOAD_KEY_ACTIVE`. When neither variable is set at all,
`./data/payload-keys.json` is used if it exists — the file `sagsflow dev` makes — just as
`DATABASE_URL` and `SAGSFLOW_TOKENS_FILE` default to `./data/`. Setting a variable to the
empty string turns encryption off explicitly (and the look-up with it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from temporalio.client import Client

from core.codec import PayloadKeys, data_converter
from core.settings import Settings
from core.telemetry import sdk_runtime
from core.temporal_tls import tls_and_api_key
from core.tracing import tracing_interceptors

DEFAULT_PAYLOAD_KEYS_FILE = Path("data/payload-keys.json")
PAYLOAD_KEY_VARIABLES = ("SAGSFLOW_PAYLOAD_KEYS_FILE", "SAGSFLOW_PAYLOAD_KEYS")

log = logging.getLogger("sagsflow.connection")


def configured_payload_keys(environ: Mapping[str, str] | None = None) -> PayloadKeys | None:
    """The payload keys of this process, or None when encryption is off.

    Raises PayloadKeyError (a ValueError) when the configuration is broken: a process must
    not start with keys it cannot use.
    """
    environ = os.environ if environ is None else environ
    if any(variable in environ for variable in PAYLOAD_KEY_VARIABLES):
        return PayloadKeys.from_env(environ)
    if DEFAULT_PAYLOAD_KEYS_FILE.is_file():
        return PayloadKeys.from_file(DEFAULT_PAYLOAD_KEYS_FILE)
    return None


def encryption_is_unconfigured(environ: Mapping[str, str] | None = None) -> bool:
    """No key variable set at all and no default file: encryption off by omission."""
    environ = os.environ if environ is None else environ
    return not any(variable in environ for variable in PAYLOAD_KEY_VARIABLES) and not (
        DEFAULT_PAYLOAD_KEYS_FILE.is_file()
    )


async def connect_client(settings: Settings) -> Client:
    # Keys first: a broken key configuration stops the process before anything connects.
    keys = configured_payload_keys()
    if keys is None and encryption_is_unconfigured():
        log.warning(
            "payload encryption is off: set SAGSFLOW_PAYLOAD_KEYS_FILE "
            "(workflow inputs, signals and results reach Temporal as plaintext)"
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(keys),
        runtime=sdk_runtime(settings.metrics_address),
        interceptors=tracing_interceptors(),
        **tls_and_api_key(),
    )
