"""`python -m workers.replay`: running cases' real histories replayed against new code before a
deploy — a compatible change passes, an incompatible one is reported, nothing is changed."""

from __future__ import annotations

import asyncio
import re
import shlex
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from tests.conftest import binary
from tests.test_dev_server import DevServer
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
    async with Worker(
        client, task_queue=task_queue, workflows=[ReplayProbeV1], activities=[replay_probe_step]
    ):
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
async def dev_client(dev_temporal: DevServer) -> Client:
    """A client of the shared dev server (tests/conftest.py): visibility queries
    (list_workflows) need a real server, not the time-skipping one. Every query here keeps to
    the test's own task queue."""
    return await Client.connect(dev_temporal.address, namespace=dev_temporal.namespace)


@pytest.mark.slow
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


# ------------------------------------------------------------------ stuck cases (issue 9)


@workflow.defn(name="ReplayProbe", sandboxed=False)
class ReplayProbePoisoned(ReplayProbeV1):
    """Code that cannot handle one message: every workflow task after it fails."""

    @workflow.run
    async def run(self) -> str:
        await workflow.execute_activity(
            replay_probe_step, "assess", start_to_close_timeout=timedelta(seconds=10)
        )
        self.waiting = True
        await workflow.wait_condition(lambda: self.done)
        return "closed"

    @workflow.signal
    def note(self, text: str) -> None:
        if text == "poison":
            raise RuntimeError("poison message: this note cannot be handled")


async def wait_stuck(client: Client, workflow_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        described = await handle.describe()
        if described.raw_description.pending_workflow_task.attempt > 1:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{workflow_id} never got stuck")


async def poisoned_case(client: Client, task_queue: str) -> str:
    """A running case, past its activity, that then got a message its code cannot handle."""
    workflow_id = f"case-P-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        ReplayProbePoisoned.run, id=workflow_id, task_queue=task_queue
    )
    for _ in range(100):
        if await handle.query(ReplayProbeV1.is_waiting):
            break
        await asyncio.sleep(0.05)
    await handle.signal(ReplayProbePoisoned.note, "a good note")
    await handle.signal(ReplayProbePoisoned.note, "poison")
    await wait_stuck(client, workflow_id)
    return workflow_id


@pytest.mark.slow
async def test_the_gate_reports_running_cases_whose_workflow_task_fails(
    dev_client: Client, task_queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy = (await start_running_cases(dev_client, task_queue, 1))[0]
    async with Worker(
        dev_client,
        task_queue=task_queue,
        workflows=[ReplayProbePoisoned],
        activities=[replay_probe_step],
    ):
        stuck = await poisoned_case(dev_client, task_queue)
        query = f"{QUERY} AND TaskQueue='{task_queue}'"
        for _ in range(100):
            if (await dev_client.count_workflows(query)).count == 2:
                break
            await asyncio.sleep(0.05)
        # The failing workflow task is not in the replayable history: replay alone passes.
        report = await replay.replay_running(dev_client, query, workflows=[ReplayProbePoisoned])
        assert (report.replayed, report.failures) == (2, {})
        assert not report.ok
        assert set(report.stuck) == {stuck} and healthy not in report.stuck
        assert "poison message: this note cannot be handled" in report.stuck[stuck]
        assert replay.print_report(report) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("STUCK")] == [
        f"STUCK {stuck}: {report.stuck[stuck]}"
    ]
    assert lines[-1] == "replayed 2 workflow(s): 1 stuck"


RUNBOOK = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def runbook_reset_command(workflow_id: str) -> list[str]:
    """The runbook's reset for a poison message, for this workflow id (without `temporal`)."""
    found = re.search(
        r"`(temporal workflow reset [^`]*--reapply-exclude Signal[^`]*)`",
        RUNBOOK.read_text(encoding="utf-8"),
    )
    assert found, "docs/operations.md lacks the reset for a poison message"
    words = shlex.split(found.group(1).replace("case-2026-0042", workflow_id))
    assert words[:3] == ["temporal", "workflow", "reset"]
    return words[1:]


async def temporal_cli(client: Client, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        binary("temporal"),
        *args,
        "--address",
        client.service_client.config.target_host,
        "--namespace",
        client.namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    return output.decode()


@pytest.mark.slow
async def test_the_runbooks_reset_repairs_a_case_stuck_on_a_poison_message(
    dev_client: Client, task_queue: str
) -> None:
    # The code is not fixed (the message itself is the problem): the worker keeps it.
    async with Worker(
        dev_client,
        task_queue=task_queue,
        workflows=[ReplayProbePoisoned],
        activities=[replay_probe_step],
    ):
        workflow_id = await poisoned_case(dev_client, task_queue)

        # Resetting to the last workflow task re-applies the poison message: still stuck.
        await temporal_cli(
            dev_client,
            "workflow",
            "reset",
            "--workflow-id",
            workflow_id,
            "--type",
            "LastWorkflowTask",
            "--reason",
            "runbook test",
        )
        await wait_stuck(dev_client, workflow_id)

        # The repair exactly as docs/operations.md ("Stuck cases") writes it.
        await temporal_cli(dev_client, *runbook_reset_command(workflow_id))
        handle = dev_client.get_workflow_handle(workflow_id)
        await handle.signal(ReplayProbeV1.close)
        assert await asyncio.wait_for(handle.result(), 30) == "closed"
