"""Prometheus metrics of the HTTP API, served at `/metrics`, and one log line per request.

- `sagsflow_http_requests_total{method, route, status}` and
  `sagsflow_http_request_duration_seconds{method, route}`: labelled by the route *template*
  (`/api/v1/cases/{case_number}`), never by a case number, id or query, so the label set stays
  small and holds nothing about a person.
- `sagsflow_open_tasks{role}` and `sagsflow_overdue_tasks{role}` (open and past the deadline):
  counted in the store's inbox when Prometheus scrapes, so every API process reports the same.
  `sagsflow_store_up` is 0 when that count failed (the task gauges then keep their last value).
- `sagsflow_cases_not_progressing`: running cases whose workflow tasks keep failing (a poison
  message, non-determinism after a deploy, a worker without a payload key), counted in
  Temporal's visibility by the system search attribute `TemporalReportedProblems` when
  Prometheus scrapes. Temporal sets it only with the dynamic config value
  `system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute` (compose:
  deploy/temporal/dynamicconfig/sagsflow.yaml; `sagsflow dev` passes it). Alert rule:
  deploy/prometheus/alerts.yml. `sagsflow_temporal_up` is 0 when that count failed.

The worker's metrics (the Temporal SDK's `temporal_*`) are on its own endpoint
(SAGSFLOW_METRICS_ADDRESS). `/metrics` needs no token: keep it off the public side of the
reverse proxy.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import case, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.models import TaskId
from api.tokens import Unauthenticated
from schemas.common import CaseNumber, StaffRole, TaskStatus
from store import Store, TaskRow

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"
# Liveness probes and scrapes every few seconds: logged at debug, not info.
QUIET_ROUTES = frozenset({METRICS_PATH, "/api/v1/health", "/api/v1/ready"})
# Path parameters that identify a case or task and carry nothing personal: logged as context.
# Path parameters worth a log line, each logged only when it is a valid value of its contract
# type: whatever else a client puts in a URL (a name typed where the case number belongs) stays
# out of the logs.
LOGGED_PATH_PARAMETERS: dict[str, TypeAdapter[str]] = {
    "case_number": TypeAdapter(CaseNumber),
    "task_id": TypeAdapter(TaskId),
}
# A scrape must answer within Prometheus' scrape timeout (10 s by default).
TEMPORAL_COUNT_TIMEOUT_SECONDS = 5.0
# Seconds; from a cached read (5 ms) to a slow Temporal update (10 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

log = structlog.get_logger("sagsflow.api")


class ApiMetrics:
    """The API's metrics in a registry of their own (one per app, so tests can make many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sagsflow_http_requests",
            "HTTP requests answered, by route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sagsflow_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.open_tasks = Gauge(
            "sagsflow_open_tasks",
            "Open tasks in the inbox, by role.",
            ["role"],
            registry=self.registry,
        )
        self.overdue_tasks = Gauge(
            "sagsflow_overdue_tasks",
            "Open tasks past their deadline, by role.",
            ["role"],
            registry=self.registry,
        )
        self.store_up = Gauge(
            "sagsflow_store_up",
            "1 when the task counts could be read from the store.",
            registry=self.registry,
        )
        self.cases_not_progressing = Gauge(
            "sagsflow_cases_not_progressing",
            "Running cases whose workflow tasks keep failing (Temporal's "
            "TemporalReportedProblems): they take no decisions until operators repair them.",
            registry=self.registry,
        )
        self.temporal_up = Gauge(
            "sagsflow_temporal_up",
            "1 when the count of cases not progressing could be read from Temporal.",
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def refresh_tasks(self, store: Store, now: datetime | None = None) -> None:
        counts = await count_tasks(store, now or datetime.now(UTC))
        # Every role is reported, 0 included: a dashboard shows 0, not "no data".
        for role in {*(r.value for r in StaffRole), *counts}:
            open_count, overdue = counts.get(role, (0, 0))
            self.open_tasks.labels(role).set(open_count)
            self.overdue_tasks.labels(role).set(overdue)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition in the format the scraper asks for (text 0.0.4 or OpenMetrics)."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


async def count_tasks(store: Store, now: datetime) -> dict[str, tuple[int, int]]:
    """role → (open tasks, of which overdue), from the inbox table."""
    overdue = func.coalesce(func.sum(case((TaskRow.due_at < now, 1), else_=0)), 0)
    query = (
        select(TaskRow.role, func.count(), overdue)
        .where(TaskRow.status == TaskStatus.OPEN.value)
        .group_by(TaskRow.role)
    )
    async with store.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return {role: (int(open_count), int(late)) for role, open_count, late in rows}


class RequestObserver:
    """ASGI middleware: times each HTTP request, counts it, and logs it without personal data."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(method, route, status, seconds)
            ids = {
                name: value
                for name, value in (scope.get("path_params") or {}).items()
                if name in LOGGED_PATH_PARAMETERS and _valid(LOGGED_PATH_PARAMETERS[name], value)
            }
            emit = log.debug if route in QUIET_ROUTES else log.info
            emit(
                "http request",
                method=method,
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 1),
                **ids,
            )


def _valid(adapter: TypeAdapter[str], value: object) -> bool:
    try:
        adapter.validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def route_template(scope: Scope) -> str:
    """The matched route's path template; the raw path never (it holds case numbers)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not template:
        return UNMATCHED
    return f"{scope.get('root_path', '')}{template}"


async def _refused_scrape(request: Request) -> Response | None:
    """/metrics tells how many tasks are open and overdue per role: not for everyone. The
    scraper sends SAGSFLOW_METRICS_TOKEN as its bearer token, or (none configured) an
    operator's token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    configured = request.app.state.settings.metrics_token
    if scheme.lower() == "bearer" and token:
        if configured:
            if hmac.compare_digest(token.encode(), configured.encode()):
                return None
        else:
            try:
                staff = await request.app.state.authenticator.authenticate(token)
            except Unauthenticated:
                staff = None
            if staff is not None and staff.is_operator:
                return None
    return Response(
        "Metrikker kræver et token / Metrics require a bearer token",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer", "Content-Type": "text/plain; charset=utf-8"},
    )


def install_metrics(app: FastAPI) -> ApiMetrics:
    """Adds the request observer and `GET /metrics` (outside /api/v1 and the OpenAPI document)."""
    metrics = ApiMetrics()
    app.state.metrics = metrics
    app.add_middleware(RequestObserver, metrics=metrics)

    @app.get(METRICS_PATH, include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        refused = await _refused_scrape(request)
        if refused is not None:
            return refused
        store: Any = getattr(request.app.state, "store", None)
        if store is not None:
            try:
                await metrics.refresh_tasks(store)
                metrics.store_up.set(1)
            except Exception:  # noqa: BLE001 - a scrape must answer even when the store does not
                log.warning("task metrics unavailable: the store did not answer")
                metrics.store_up.set(0)
        service: Any = getattr(request.app.state, "service", None)
        if service is not None:
            try:
                metrics.cases_not_progressing.set(
                    await asyncio.wait_for(
                        service.count_not_progressing(), TEMPORAL_COUNT_TIMEOUT_SECONDS
                    )
                )
                metrics.temporal_up.set(1)
            except Exception:  # noqa: BLE001 - a scrape must answer even when Temporal does not
                log.warning("case metrics unavailable: Temporal did not answer")
                metrics.temporal_up.set(0)
        body, content_type = metrics.render(request.headers.get("accept", ""))
        return Response(body, headers={"Content-Type": content_type})

    return metrics
