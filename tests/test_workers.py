"""Worker settings, logging, registration, and a real run stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

import pytest
import structlog
from temporalio.testing import WorkflowEnvironment

from core.logs import configure_logging, drop_personal_fields
from core.settings import Settings
from schemas.common import TaskStatus
from store import DEFAULT_DATABASE_URL, Store
from tests import storekit as kit
from tests.activity_probe_workflow import InboxProbeWorkflow
from tests.casekit import CaseRun, case_input
from workers.worker import build_worker, run_worker
from workflows.case import DigitalViolationCase


def test_settings_default_to_the_embedded_setup() -> None:
    settings = Settings.from_env({})
    assert settings == Settings(
        temporal_address="localhost:7233",
        temporal_namespace="default",
        task_queue="sagsflow-cases",
        database_url=DEFAULT_DATABASE_URL,
        log_format="console",
        log_level="INFO",
        metrics_address=None,
        cached_cases=250,
    )


def test_settings_come_from_the_environment_and_options_override_them() -> None:
    settings = Settings.from_env(
        {
            "TEMPORAL_ADDRESS": "temporal:7233",
            "TEMPORAL_NAMESPACE": "kommune",
            "SAGSFLOW_TASK_QUEUE": "cases-blue",
            "DATABASE_URL": "postgresql+asyncpg://sagsflow@db/sagsflow",
            "SAGSFLOW_LOG_FORMAT": "JSON",
            "SAGSFLOW_LOG_LEVEL": "debug",
            "SAGSFLOW_METRICS_ADDRESS": "0.0.0.0:9464",
            "SAGSFLOW_CACHED_CASES": "40",
        }
    )
    assert settings.cached_cases == 40
    assert (settings.temporal_address, settings.temporal_namespace) == ("temporal:7233", "kommune")
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    assert settings.metrics_address == "0.0.0.0:9464"
    overridden = settings.with_overrides(task_queue="cases-green", database_url=None)
    assert overridden.task_queue == "cases-green"
    assert overridden.database_url == settings.database_url


@pytest.mark.parametrize(
    "variable, value",
    [
        ("SAGSFLOW_LOG_FORMAT", "xml"),
        ("SAGSFLOW_LOG_LEVEL", "LOUD"),
        ("SAGSFLOW_CACHED_CASES", "0"),
        ("SAGSFLOW_CACHED_CASES", "many"),
    ],
)
def test_bad_settings_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: value})


def test_personal_fields_never_reach_a_log_line() -> None:
    event = {
        "event": "x",
        "case_number": "2026-1",
        "name": "A",
        "child_navn": "B",
        "Email": "c@d",
        "phone": "1",
        "parent_telefon": "2",
        "firstName": "D",
        "username": "e",
        "namespace": "default",
    }
    assert drop_personal_fields(None, "info", event) == {
        "event": "x",
        "case_number": "2026-1",
        "namespace": "default",
    }


def test_json_logs_are_one_object_a_line(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("json", "INFO")
    configure_logging("json", "INFO")  # again: still one handler, one line per event
    log = structlog.get_logger("sagsflow.test")
    log.info("task opened", case_number="2026-0042", task_id="assess.uncover-1", navn="Ida")
    log.debug("below the level")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "task opened"
    assert (record["case_number"], record["task_id"]) == ("2026-0042", "assess.uncover-1")
    assert (record["level"], record["logger"]) == ("info", "sagsflow.test")
    assert "navn" not in record and "Ida" not in lines[0]


@pytest.mark.slow
async def test_the_worker_registers_the_case_workflow(
    env: WorkflowEnvironment, sqlite_url: str, task_queue: str
) -> None:
    store = Store.from_url(sqlite_url)
    try:
        async with build_worker(env.client, store, task_queue) as worker:
            assert worker.task_queue == task_queue
    finally:
        await store.dispose()


@pytest.mark.slow
async def test_a_case_the_worker_no_longer_holds_in_memory_still_takes_its_next_step(
    env: WorkflowEnvironment, sqlite_url: str, task_queue: str
) -> None:
    """With room for one case in memory, a second case pushes the first out; the first is
    then replayed from its history when staff act on it, and goes on as before."""
    store = Store.from_url(sqlite_url)
    await store.create_schema()
    try:
        async with build_worker(env.client, store, task_queue, cached_cases=1):
            runs = []
            for _ in range(2):
                case = case_input(await env.get_current_time())
                handle = await env.client.start_workflow(
                    DigitalViolationCase.run,
                    case,
                    id=f"case-{case.case_number}",
                    task_queue=task_queue,
                )
                runs.append(CaseRun(env=env, handle=handle, store=store, case=case))
                await runs[-1].wait_open("assess.uncover")
            first = runs[0]
            done = await first.complete("assess.uncover")
            assert done.status == TaskStatus.DONE
            row = await first.wait_inbox("assess.uncover", status="done")
            assert row.status == "done"
            for run in runs:
                await run.handle.terminate("test finished")
    finally:
        await store.dispose()


@pytest.mark.slow
async def test_run_worker_serves_cases_and_stops_cleanly_on_sigterm(
    env: WorkflowEnvironment, tmp_path: Path, task_queue: str, restore_logging: None
) -> None:
    database = tmp_path / "worker.db"
    settings = Settings(
        temporal_address=env.client.service_client.config.target_host,
        temporal_namespace=env.client.namespace,
        task_queue=task_queue,
        database_url=f"sqlite+aiosqlite:///{database}",
    )
    running = asyncio.create_task(run_worker(settings, workflows=[InboxProbeWorkflow]))
    case_number = f"W-{uuid.uuid4().hex[:8]}"
    probe = kit.inbox_probe(case_number)
    try:
        # Completes only once run_worker has migrated the store and is polling.
        await asyncio.wait_for(
            env.client.execute_workflow(
                InboxProbeWorkflow.run,
                probe,
                id=kit.workflow_id(case_number),
                task_queue=task_queue,
            ),
            timeout=15,
        )
    except BaseException:
        running.cancel()
        raise
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(running, timeout=15)

    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    store = Store.from_url(settings.database_url)
    try:
        tasks = await store.list_tasks(workflow_id=kit.workflow_id(case_number))
    finally:
        await store.dispose()
    assert [(t.task_id, t.status) for t in tasks] == [("assess.uncover-1", "done")]
