"""Prometheus metrics: the API's `/metrics` (requests, latencies, open and overdue tasks from
the store) and the worker's SDK endpoint (SAGSFLOW_METRICS_ADDRESS)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.logs import configure_logging
from core.settings import ApiSettings, Settings
from schemas.common import StaffRole, TaskStatus
from store import Store
from tests import storekit as kit
from tests.activity_probe_workflow import InboxProbeWorkflow
from tests.apikit import OPERATOR, TEACHER, write_tokens
from tests.test_dev_server import free_port
from workers.worker import run_worker

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

CASE = "M-2026-0042"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) → value, parsed as Prometheus would."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(parsed: dict, name: str, **labels: str) -> float:
    return parsed[(name, frozenset(labels.items()))]


@pytest.fixture
async def store(store: Store) -> Store:
    """The shared SQLite store (tests/conftest.py) with known inbox rows, relative to now."""
    opened = store
    now = datetime.now(UTC)

    async def task(task_id: str, role: StaffRole, due_in: timedelta, case: str = CASE) -> None:
        request = kit.open_task(case, task_id, role=role)
        await opened.open_task(
            request.model_copy(
                update={"opened_at": now - timedelta(days=3), "due_at": now + due_in}
            )
        )

    await task("assess.uncover-1", StaffRole.CASE_OWNER, -timedelta(hours=1))  # overdue
    await task("document.note-1", StaffRole.CASE_OWNER, timedelta(days=2))
    await task("assess.involve_leadership-1", StaffRole.LEADERSHIP, timedelta(hours=5))
    await task("treat.press-1", StaffRole.COMMUNICATIONS, -timedelta(days=2))  # overdue
    await task("assess.uncover-1", StaffRole.CASE_OWNER, -timedelta(days=1), case="M-2")
    # Closed after its deadline: neither open nor overdue.
    await task("treat.help-1", StaffRole.TK, -timedelta(days=1))
    await opened.close_task(
        kit.close_task(CASE, "treat.help-1").model_copy(
            update={"status": TaskStatus.DONE, "closed_at": now}
        )
    )
    return opened


@pytest.fixture
async def http(store: Store, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    tokens = tmp_path / "tokens.yaml"
    write_tokens(tokens)
    app = create_app(ApiSettings(tokens_file=tokens), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def test_api_metrics_count_requests_by_route_template_never_by_case(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/api/v1/health")).status_code == 200
    assert (await http.get("/api/v1/health")).status_code == 200
    assert (await http.get(f"/api/v1/cases/{CASE}")).status_code == 401  # no token
    assert (await http.get("/no/such/page")).status_code == 404

    response = await http.get("/metrics", headers=OPERATOR.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    openmetrics = await http.get(
        "/metrics", headers={"Accept": "application/openmetrics-text", **OPERATOR.headers}
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    text = response.text
    parsed = samples(text)
    assert (
        value(
            parsed,
            "sagsflow_http_requests_total",
            method="GET",
            route="/api/v1/health",
            status="200",
        )
        == 2
    )
    assert (
        value(
            parsed,
            "sagsflow_http_requests_total",
            method="GET",
            route="/api/v1/cases/{case_number}",
            status="401",
        )
        == 1
    )
    assert (
        value(
            parsed, "sagsflow_http_requests_total", method="GET", route="<unmatched>", status="404"
        )
        == 1
    )
    assert (
        value(
            parsed,
            "sagsflow_http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/health",
        )
        == 2
    )
    assert (
        value(
            parsed,
            "sagsflow_http_request_duration_seconds_bucket",
            method="GET",
            route="/api/v1/health",
            le="+Inf",
        )
        == 2
    )
    assert CASE not in text and "/no/such/page" not in text


async def test_api_metrics_report_open_and_overdue_tasks_from_the_store(
    http: httpx.AsyncClient,
) -> None:
    parsed = samples((await http.get("/metrics", headers=OPERATOR.headers)).text)
    open_tasks = {role: value(parsed, "sagsflow_open_tasks", role=role.value) for role in StaffRole}
    overdue = {role: value(parsed, "sagsflow_overdue_tasks", role=role.value) for role in StaffRole}
    assert open_tasks[StaffRole.CASE_OWNER] == 3
    assert overdue[StaffRole.CASE_OWNER] == 2
    assert (open_tasks[StaffRole.LEADERSHIP], overdue[StaffRole.LEADERSHIP]) == (1, 0)
    assert (open_tasks[StaffRole.COMMUNICATIONS], overdue[StaffRole.COMMUNICATIONS]) == (1, 1)
    assert (open_tasks[StaffRole.TK], overdue[StaffRole.TK]) == (0, 0)  # closed: not counted
    assert value(parsed, "sagsflow_store_up") == 1


async def test_metrics_are_outside_the_api_and_its_openapi_document(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/api/v1/openapi.json")).json()
    assert "/metrics" not in document["paths"]
    assert (await http.get("/api/v1/metrics")).status_code == 404


async def test_a_failing_store_still_answers_the_scrape(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*_: object) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr("api.metrics.count_tasks", down)
    response = await http.get("/metrics", headers=OPERATOR.headers)
    assert response.status_code == 200
    parsed = samples(response.text)
    assert value(parsed, "sagsflow_store_up") == 0


async def test_each_request_is_logged_with_its_route_and_case_but_no_address(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("json", "INFO")
    await http.get(f"/api/v1/cases/{CASE}")  # 401: no token, still one line
    await http.get("/api/v1/health")  # quiet: debug only
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    requests = [line for line in lines if line["event"] == "http request"]
    assert len(requests) == 1, requests
    logged = requests[0]
    assert logged["route"] == "/api/v1/cases/{case_number}"
    assert logged["case_number"] == CASE
    assert logged["method"] == "GET" and isinstance(logged["status"], int)
    assert "duration_ms" in logged
    assert not {"client", "path", "url", "query"} & set(logged)


async def test_a_name_typed_into_a_url_is_not_logged(
    http: httpx.AsyncClient, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("json", "INFO")
    await http.get("/api/v1/cases/Astrid Testesen")
    await http.get("/api/v1/cases/Astrid-Testesen/tasks/Astrid Testesen/complete")
    await http.post("/api/v1/cases/Åse-Ørum/withdraw", json={})
    # The API's own lines (the test's HTTP client logs its URLs too: not the API's doing).
    ours = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and json.loads(line)["logger"].startswith("sagsflow")
    ]
    assert len([line for line in ours if '"http request"' in line]) == 3, ours
    output = "\n".join(ours)
    assert "Astrid Testesen" not in output and "Testesen" not in output.replace(
        "Astrid-Testesen", ""
    )
    assert "Åse" not in output and "\\u00c5se" not in output
    # A well-formed case number is still logged: it is what operators search for.
    assert '"case_number": "Astrid-Testesen"' in output


# --- the worker's endpoint --------------------------------------------------------------------


async def test_the_worker_serves_the_sdk_metrics(
    env: WorkflowEnvironment, tmp_path: Path, task_queue: str, restore_logging: None
) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(
        temporal_address=env.client.service_client.config.target_host,
        temporal_namespace=env.client.namespace,
        task_queue=task_queue,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
        metrics_address=address,
    )
    running = asyncio.create_task(run_worker(settings, workflows=[InboxProbeWorkflow]))
    case_number = f"W-{uuid.uuid4().hex[:8]}"
    probe = kit.inbox_probe(case_number)
    try:
        await asyncio.wait_for(
            env.client.execute_workflow(
                InboxProbeWorkflow.run,
                probe,
                id=kit.workflow_id(case_number),
                task_queue=task_queue,
            ),
            timeout=20,
        )
        # The client learns of the result a moment before the worker has counted the workflow
        # task that completed it: scrape until the counts are in (a few seconds at most).
        for _ in range(50):
            text = await asyncio.to_thread(_scrape, f"http://{address}/metrics")
            names = _sample_names(text)
            if "temporal_workflow_completed" in names:
                break
            await asyncio.sleep(0.1)
    finally:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(running, timeout=20)
    assert list(text_string_to_metric_families(text))  # Prometheus text, parseable
    for expected in (
        "temporal_worker_start",
        "temporal_request",
        "temporal_workflow_completed",
        "temporal_workflow_task_execution_latency_bucket",
        "temporal_activity_execution_latency_bucket",
        "temporal_worker_task_slots_available",
    ):
        assert expected in names, f"{expected} missing from the worker's /metrics"
    assert f'task_queue="{task_queue}"' in text
    assert case_number not in text  # workflow ids are not labels


def _sample_names(text: str) -> set[str]:
    """The sample names as exposed (and stored by Prometheus): the SDK's counters have no
    _total."""
    return {
        re.split(r"[{ ]", line, maxsplit=1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def _scrape(url: str) -> str:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


async def test_metrics_need_an_operators_token_or_the_scrape_token(
    http: httpx.AsyncClient, store: Store, tmp_path: Path
) -> None:
    """Issue 15, finding 6: /metrics (open and overdue tasks per role) answered anyone."""
    for headers in ({}, TEACHER.headers, {"Authorization": "Bearer wrong"}):
        refused = await http.get("/metrics", headers=headers)
        assert refused.status_code == 401 and "sagsflow_open_tasks" not in refused.text
    assert (await http.get("/metrics", headers=OPERATOR.headers)).status_code == 200
    tokens = tmp_path / "scrape-tokens.yaml"
    write_tokens(tokens)
    scraped = create_app(
        ApiSettings(tokens_file=tokens, metrics_token="prom-" + "x" * 32), store=store
    )
    transport = httpx.ASGITransport(app=scraped)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await client.get("/metrics", headers=OPERATOR.headers)).status_code == 401
        ok = await client.get("/metrics", headers={"Authorization": "Bearer prom-" + "x" * 32})
        assert ok.status_code == 200 and "sagsflow_open_tasks" in ok.text
