"""The Temporal SDK runtime of a sagsflow process: its logs and its Prometheus metrics.

The SDK's core (Rust) writes its own warnings straight to stderr by default, as coloured text:
one non-JSON line in a JSON log stream breaks the production log pipeline. Here they are
forwarded to the Python logger `temporalio.core` instead, so `core.logs` renders them like
every other line (JSON in production, with the personal-data filter).

One runtime per metrics address and process: the API and a worker in one process share it,
and a Prometheus port is bound once.
"""

from __future__ import annotations

import functools
import logging

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

CORE_LOGGER = "temporalio.core"


@functools.cache
def sdk_runtime(metrics_address: str | None = None) -> Runtime:
    """The runtime for `Client.connect(runtime=...)`: core logs forwarded to Python logging,
    and a Prometheus endpoint at `metrics_address` (host:port) when one is given."""
    logs = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )
    metrics = PrometheusConfig(bind_address=metrics_address) if metrics_address else None
    return Runtime(telemetry=TelemetryConfig(logging=logs, metrics=metrics))
