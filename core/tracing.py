"""OpenTelemetry tracing through Temporal's interceptor: off unless SAGSFLOW_OTEL_ENABLED=true.

When on, every client call (start, signal, update, query) and every workflow and activity run
becomes a span, linked across processes through Temporal headers, exported over OTLP/HTTP to
OTEL_EXPORTER_OTLP_ENDPOINT (the SDK's standard variables apply; default
http://localhost:4318) under the service name OTEL_SERVICE_NAME (default `sagsflow`).

Spans carry workflow types, ids and task queues — `case-<case number>`, never a name: payloads
are not attributes. Needs the `tracing` extra (`pip install 'sagsflow[tracing]'`; the container
image has it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from temporalio.client import Interceptor

ENABLED = "SAGSFLOW_OTEL_ENABLED"
SERVICE_NAME = "OTEL_SERVICE_NAME"
ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"  # read by the OTLP exporter itself
VARIABLES = (ENABLED, SERVICE_NAME, ENDPOINT)
DEFAULT_SERVICE_NAME = "sagsflow"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

log = structlog.get_logger("sagsflow.tracing")

# One tracer provider per process: the API and a worker in one process (`sagsflow dev`) share it.
_lock = threading.Lock()
_tracer: Any = None


class TracingUnavailable(ValueError):
    """Tracing is switched on but the OpenTelemetry packages are not installed."""


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    flag = environ.get(ENABLED, "").strip().lower()
    if flag and flag not in _TRUE | _FALSE:
        raise ValueError(f"{ENABLED} must be true or false, not {flag!r}")
    return flag in _TRUE


def tracing_interceptors(
    environ: Mapping[str, str] | None = None, *, exporter: Any = None
) -> list[Interceptor]:
    """The client interceptors for tracing: `[]` when off, else one TracingInterceptor.

    Pass them to `Client.connect(interceptors=...)`: a worker made from that client traces
    its workflows and activities too. `exporter` replaces the OTLP exporter (tests).
    """
    environ = os.environ if environ is None else environ
    if not tracing_enabled(environ):
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise TracingUnavailable(
            f"{ENABLED}=true needs OpenTelemetry: pip install 'sagsflow[tracing]'"
        ) from exc
    return [TracingInterceptor(tracer=_shared_tracer(environ, exporter))]


def _shared_tracer(environ: Mapping[str, str], exporter: Any) -> Any:
    global _tracer
    with _lock:
        if _tracer is None or exporter is not None:
            _tracer = _new_tracer(environ, exporter)
        return _tracer


def _new_tracer(environ: Mapping[str, str], exporter: Any) -> Any:
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise TracingUnavailable(
            f"{ENABLED}=true needs the OpenTelemetry SDK: pip install 'sagsflow[tracing]'"
        ) from exc
    service = environ.get(SERVICE_NAME, "").strip() or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise TracingUnavailable(
                f"{ENABLED}=true needs the OTLP exporter: pip install 'sagsflow[tracing]'"
            ) from exc
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("tracing on", service=service, endpoint=environ.get(ENDPOINT) or "default")
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("sagsflow")
