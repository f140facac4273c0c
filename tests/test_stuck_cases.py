"""Issue 9, "Never stuck", on the REAL dev server, worker and API: staff act only on tasks the
case has recorded (inbox rows), a case whose workflow task keeps failing is answered honestly
(503, one line from the CLI) and counted by `sagsflow_cases_not_progressing`."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from core.codec import data_converter
from service.cases import CaseNotProgressing, CaseService
from store import Store, TaskRow
from tests.apikit import (
    LEADER,
    OPERATOR,
    TEACHER,
    ApiPlatform,
    new_case_body,
    platform,  # noqa: F401 - the module's platform fixture
)
from tests.casekit import case_input, decision
from tests.clikit import Zygote

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

NOT_PROCESSED_DA = "behandles ikke lige nu – drift er underrettet"
NOT_PROCESSED_EN = "is not being processed – operators are alerted"


@workflow.defn(name="DigitalViolationCase", sandboxed=False)
class BrokenCase:
    """A deployed bug: every workflow task of the case fails (a poison input, say)."""

    @workflow.run
    async def run(self, case: dict[str, Any]) -> None:
        raise RuntimeError("poison: this case's workflow task always fails")


@pytest.fixture
async def http(platform: ApiPlatform) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture
async def client(platform: ApiPlatform) -> Client:  # noqa: F811
    return await Client.connect(platform.address, data_converter=data_converter(None))


async def call(
    http: httpx.AsyncClient, user: Any, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    return await http.request(method, f"/api/v1{path}", headers=user.headers, **kwargs)


async def sagsflow(cli: Zygote, platform: ApiPlatform, *args: str) -> tuple[int, str, str]:  # noqa: F811
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": platform.address,
        "DATABASE_URL": f"sqlite+aiosqlite:///{platform.data_dir / 'sagsflow.db'}",
    }
    env.pop("COLUMNS", None)
    ran = await cli.run(args, env, timeout=90)
    return ran.code, ran.stdout, ran.stderr


async def wait_inbox_row(platform: ApiPlatform, workflow_id: str, task_id: str) -> None:  # noqa: F811
    assert platform.store is not None
    for _ in range(200):
        if await platform.run(platform.store.get_task(workflow_id, task_id)) is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{task_id} never reached the inbox")


async def delete_inbox_row(store: Store, workflow_id: str, task_id: str) -> None:
    async with store.engine.begin() as connection:
        await connection.execute(
            delete(TaskRow).where(TaskRow.workflow_id == workflow_id, TaskRow.task_id == task_id)
        )


async def wait_attempt(handle: WorkflowHandle, attempt: int) -> None:
    """Until the case's pending workflow task is at this attempt or later."""
    for _ in range(300):
        described = await handle.describe()
        if described.raw_description.pending_workflow_task.attempt >= attempt:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the broken case's workflow task never reached attempt {attempt}")


@asynccontextmanager
async def stuck_case(client: Client) -> AsyncIterator[tuple[str, WorkflowHandle]]:
    """A case (school, search attributes as usual) whose every workflow task fails; it is
    terminated afterwards, so the next test starts with no stuck case."""
    task_queue = f"broken-{uuid.uuid4().hex[:8]}"
    case = case_input(datetime.now(UTC))
    async with Worker(client, task_queue=task_queue, workflows=[BrokenCase]):
        handle = await CaseService(client, None, task_queue).open_case(case)
        try:
            await wait_attempt(handle, 2)
            yield case.case_number, handle
        finally:
            await handle.terminate("test over")


def not_progressing_gauge(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sagsflow_cases_not_progressing":
                return sample.value
    raise AssertionError("sagsflow_cases_not_progressing is not exposed")


async def wait_gauge(http: httpx.AsyncClient, expected: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        response = await http.get("/metrics", headers=OPERATOR.headers)
        assert response.status_code == 200
        seen = not_progressing_gauge(response.text)
        if seen == expected:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"sagsflow_cases_not_progressing stayed {seen}, expected {expected}")


# ------------------------------------------------------------------ staff act on recorded state


async def test_a_task_the_case_has_not_recorded_is_refused_and_nothing_reaches_the_case(
    http: httpx.AsyncClient,
    platform: ApiPlatform,  # noqa: F811
    sagsflow_cli: Zygote,
) -> None:
    body = new_case_body()
    number = body["case_number"]
    workflow_id = f"case-{number}"
    assert (await call(http, TEACHER, "POST", "/cases", json=body)).status_code == 201
    await wait_inbox_row(platform, workflow_id, "assess.uncover")
    # What a query can show while the workflow task that opened the task is lost (a worker
    # crashing mid-task): the task is open in the snapshot, but not recorded in the inbox.
    assert platform.store is not None
    await platform.run(delete_inbox_row(platform.store, workflow_id, "assess.uncover"))
    snapshot = (await call(http, TEACHER, "GET", f"/cases/{number}")).json()
    assert "assess.uncover" in {task["task_id"] for task in snapshot["open_tasks"]}

    completed = await call(
        http,
        TEACHER,
        "POST",
        f"/cases/{number}/tasks/assess.uncover/complete",
        json={"decision": decision("assess.uncover", datetime.now(UTC))},
    )
    assert completed.status_code == 422, completed.text
    assert completed.json()["detail"] == (
        "Opgaven 'assess.uncover' er ikke åben endnu / Task 'assess.uncover' is not open yet"
    )
    reassigned = await call(
        http,
        LEADER,
        "POST",
        f"/cases/{number}/tasks/assess.uncover/reassign",
        json={"assignee": "kontaktlaerer7b"},
    )
    assert reassigned.status_code == 422, reassigned.text
    assert "ikke åben endnu" in reassigned.json()["detail"]
    code, _, stderr = await sagsflow(
        sagsflow_cli,
        platform,
        "task",
        "complete",
        number,
        "assess.uncover",
        "--actor",
        "lhj",
        "--role",
        "case_owner",
        "--decision",
        '{"what": "x", "where": "y", "involved": ["P1"]}',
    )
    assert code == 1
    assert "ikke åben endnu" in stderr and "is not open yet" in stderr

    # Nothing reached the case: the task is still open, nothing done, nothing reassigned.
    await asyncio.sleep(1)
    after = (await call(http, TEACHER, "GET", f"/cases/{number}")).json()
    assert "assess.uncover" in {task["task_id"] for task in after["open_tasks"]}
    assert after["done_tasks"] == []
    assert all(task["assignee"] is None for task in after["open_tasks"])
    assert not [e for e in after["timeline"] if e["kind"] in ("task_reassigned", "task_completed")]


# ------------------------------------------------------------------ honest answers


async def test_a_case_whose_workflow_task_fails_gets_503_and_one_line_from_the_cli(
    http: httpx.AsyncClient,
    platform: ApiPlatform,
    client: Client,  # noqa: F811
    sagsflow_cli: Zygote,
) -> None:
    async with stuck_case(client) as (number, handle):
        # Failed once, retried: no worker answers its query, and the caller's own limit
        # (QUERY_TIMEOUT_SECONDS, 20 s; 1 s here) ends the wait with the same answer.
        with pytest.raises(CaseNotProgressing):
            await CaseService(client, None).snapshot(number, timeout=1.0)

        # Failed twice in a row: the case counts as not progressing, and every caller is told
        # so at once from the case's description, without waiting for a query.
        await wait_attempt(handle, 3)
        started = time.monotonic()
        page = await call(http, TEACHER, "GET", f"/cases/{number}")
        assert time.monotonic() - started < 5, "answered by waiting for the query"
        assert page.status_code == 503, page.text
        assert page.json()["detail"] == (
            f"Sagen {number} {NOT_PROCESSED_DA} / The case {number} {NOT_PROCESSED_EN}"
        )
        assert int(page.headers["Retry-After"]) > 0
        completed = await call(
            http,
            TEACHER,
            "POST",
            f"/cases/{number}/tasks/assess.uncover/complete",
            json={"decision": decision("assess.uncover", datetime.now(UTC))},
        )
        assert completed.status_code == 503, completed.text
        assert NOT_PROCESSED_DA in completed.json()["detail"]
        assert "Retry-After" in completed.headers
        note = await call(
            http, TEACHER, "POST", f"/cases/{number}/timeline/notes", json={"text": "Ny oplysning"}
        )
        assert note.status_code == 503, note.text

        for args in (
            ("case", "show", number),
            (
                "task",
                "complete",
                number,
                "assess.uncover",
                "--actor",
                "lhj",
                "--role",
                "case_owner",
                "--decision",
                '{"what": "x", "where": "y", "involved": ["P1"]}',
            ),
        ):
            code, stdout, stderr = await sagsflow(sagsflow_cli, platform, *args)
            assert code == 1, (args, stdout, stderr)
            assert stderr.strip().splitlines() == [
                f"Sagen {number} {NOT_PROCESSED_DA} / The case {number} {NOT_PROCESSED_EN}"
            ], (args, stderr)


async def test_an_ended_case_gets_409(http: httpx.AsyncClient) -> None:
    body = new_case_body()
    number = body["case_number"]
    assert (await call(http, TEACHER, "POST", "/cases", json=body)).status_code == 201
    withdrawn = await call(
        http, LEADER, "POST", f"/cases/{number}/withdraw", json={"reason": "Grundløs"}
    )
    assert withdrawn.status_code == 202
    for _ in range(100):
        snapshot = (await call(http, OPERATOR, "GET", f"/cases/{number}")).json()
        if snapshot["status"] == "withdrawn":
            break
        await asyncio.sleep(0.2)
    completed = await call(
        http,
        TEACHER,
        "POST",
        f"/cases/{number}/tasks/assess.uncover/complete",
        json={"decision": decision("assess.uncover", datetime.now(UTC))},
    )
    assert completed.status_code == 409, completed.text
    assert "afsluttet" in completed.json()["detail"]


# ------------------------------------------------------------------ metric


async def test_a_case_with_a_failing_workflow_task_sets_the_gauge(
    http: httpx.AsyncClient,
    client: Client,
) -> None:
    await wait_gauge(http, 0)
    async with stuck_case(client):
        await wait_gauge(http, 1)
    await wait_gauge(http, 0)  # terminated: no longer running, no longer counted
