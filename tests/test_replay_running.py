"""`python -m workers.replay`: running cases' real histories replayed against new code before a
deploy — a compatible change passes, an incompatible one is reported, nothing is changed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tests.test_dev_server import dev_server
from workers import replay


@activity.defn(name="replay_probe_step")
async def replay_probe_step(step: str) -> str:
    return step


@workflow.defn(name="ReplayProbe", sandboxed=False)
class ReplayProbeV1:
    def __init__(self) -> None:
        self.done = False
        self.waiting = False

    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity(
            replay_probe_step, "assess", start_to_close_timeout=timedelta(seconds=10)
        )
        self.waiting = True
        await workflow.wait_condition(lambda: self.done)  # a long-running case
        return "closed"

    @workflow.signal
    def close(self) -> None:
        self.done = True

    @workflow.query
    def is_waiting(self) -> bool:
        return self.waiting


@workflow.defn(name="ReplayProbe", sandboxed=False)
class ReplayProbePatched(ReplayProbeV1):
    """A safe change: the new step only for cases that reach it after the deploy."""

    @workflow.run
    async def run(self) -> str:
        if workflow.patched("document-step"):
            await workflow.execute_activity(
                replay_probe_step, "document", start_to_close_timeout=timedelta(seconds=10)
            )
        await workflow.execute_activity(
            replay_probe_step, "assess", start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.wait_condition(lambda: self.done)
        return "closed"


@workflow.defn(name="ReplayProbe", sandboxed=False)
class ReplayProbeBroken(ReplayProbeV1):
    """An unsafe change: a timer where running cases had an activity."""

    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(seconds=1))
        await workflow.wait_condition(lambda: self.done)
        return "closed"


QUERY = "WorkflowType='ReplayProbe' AND ExecutionStatus='Running'"


async def start_running_cases(client: Client, task_queue: str, count: int) -> list[str]:
    ids = [f"case-R-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    async with Worker(client, task_queue=task_queue, workflows=[ReplayProbeV1],
                      activities=[replay_probe_step]):
        for workflow_id in ids:
            handle = await client.start_workflow(
                ReplayProbeV1.run, id=workflow_id, task_queue=task_queue
            )
            # Past the activity, waiting: what a running case looks like.
            for _ in range(100):
                if await handle.query(ReplayProbeV1.is_waiting):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the probe's activity did not complete")
    return ids


@pytest.fixture
async def dev_client(tmp_path: Path) -> AsyncIterator[Client]:
    # Visibility queries (list_workflows) need a real server, not the time-skipping one.
    async with dev_server(tmp_path, headless=True, search_attributes=[]) as server:
        yield await Client.connect(server.address, namespace=server.namespace)


async def test_replay_reports_breaking_changes_and_passes_patched_ones(
    dev_client: Client, task_queue: str
) -> None:
    ids = await start_running_cases(dev_client, task_queue, 2)
    query = f"{QUERY} AND TaskQueue='{task_queue}'"
    for _ in range(100):  # visibility is eventually consistent
        if (await dev_client.count_workflows(query)).count == len(ids):
            break
        await asyncio.sleep(0.05)
    same = await replay.replay_running(dev_client, query, workflows=[ReplayProbeV1])
    assert (same.replayed, same.ok) == (2, True)
    patched = await replay.replay_running(dev_client, query, workflows=[ReplayProbePatched])
    assert (patched.replayed, patched.ok) == (2, True)
    broken = await replay.replay_running(dev_client, query, workflows=[ReplayProbeBroken])
    assert broken.replayed == 2
    assert set(broken.failures) == set(ids)
    assert all("nondetermin" in failure.lower() for failure in broken.failures.values())
    for workflow_id in ids:  # replay changed nothing: the cases still run
        description = await dev_client.get_workflow_handle(workflow_id).describe()
        assert description.status is not None and description.status.name == "RUNNING"


def test_the_default_query_is_every_running_case() -> None:
    assert replay.DEFAULT_QUERY == (
        "WorkflowType='DigitalViolationCase' AND ExecutionStatus='Running'"
    )
    names = [w.__temporal_workflow_definition.name for w in replay.default_workflows()]  # type: ignore[attr-defined]
    assert "DigitalViolationCase" in names


def test_the_command_line_has_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        replay.main(["--help"])
    assert exit_info.value.code == 0
    assert "--query" in capsys.readouterr().out
