"""The crash window: an update delivered together with the event that opens its task.

In the field a worker was killed after it had opened a task in memory (and answered a query
showing it) but before that workflow task was recorded; staff completed the task; the retried
workflow task then carried both the activity result that opens the task and the update. The
SDK accepted the update there, but on every later replay it delivers the update *first*, before
the task exists, and the handler refused what it had accepted: the case no longer replayed.

Here the same history is made on purpose, deterministically: the workflow worker is down
while the activity that leads to `assess.evaluate` completes and the update for that task
arrives, so that both reach the case in one activation. The validator is the only thing made
lenient (a validator that saw the task in the lost workflow task accepted it just so); the
handler is the real one. The history must then replay against the real workflow class.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.common import RawValue
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities import CaseActivities
from core.codec import worker_data_converter
from core.devserver import DevServer
from driver.decisions import INTERNAL_ROUTE_TO_TREAT
from schemas.activities import CloseTaskRequest
from schemas.case import CaseInput
from schemas.common import TaskStatus
from schemas.snapshot import CaseOutcome
from store import Store
from tests.casekit import TEACHER, CaseRun, case_input, decision, save_history
from workflows.case import DigitalViolationCase
from workflows.legacy_v1 import LegacyCase

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow


@workflow.defn(name="DigitalViolationCase", sandboxed=False)
class AcceptedInTheLostTask(DigitalViolationCase):
    """The real case, whose validator accepts as one that saw the task in memory did."""

    @workflow.run
    async def run(self, case: CaseInput) -> CaseOutcome:
        return await super().run(case)

    @workflow.update(name="submit_task")
    async def submit_task(self, raw: RawValue) -> Any:
        result = super().submit_task(raw)
        return await result if inspect.isawaitable(result) else result

    @submit_task.validator
    def _accept_as_seen(self, raw: RawValue) -> None:
        return None


@workflow.defn(name="DigitalViolationCase", sandboxed=False)
class AcceptedInTheLostTaskOfTheFirstCore(AcceptedInTheLostTask):
    """The same, for a case of the first core (started before the lean core existed)."""

    @workflow.run
    async def run(self, case: CaseInput) -> CaseOutcome:
        return await super().run(case)

    def _chosen(self) -> Any:
        if self._core is None:
            self._core = LegacyCase(self._input)  # no marker: as a case of an older build
        return self._core


class HeldCloseTask:
    """The store's activities, with the closing of one task held until released."""

    def __init__(self, store: Store, held: str) -> None:
        self._real = CaseActivities(store)
        self._held = held
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    def all(self) -> list[Any]:
        real = [a for a in self._real.all() if getattr(a, "__name__", "") != "close_task"]
        return [*real, self.close_task]

    @activity.defn(name="close_task")
    async def close_task(self, request: CloseTaskRequest) -> None:
        if request.task_id == self._held:
            self.entered.set()
            await self.release.wait()
        await self._real.close_task(request)


def workflow_worker(env: WorkflowEnvironment, task_queue: str, **options: Any) -> Worker:
    # No cache: every workflow task is replayed from its history, as after a crash.
    options.setdefault("workflows", [AcceptedInTheLostTaskOfTheFirstCore])
    return Worker(env.client, task_queue=task_queue, max_cached_workflows=0, **options)


async def test_an_update_delivered_with_the_timer_that_opens_its_task_replays(
    dev_temporal: DevServer, store: Store, task_queue: str
) -> None:
    """The lean core, on the real dev server and the demo card, with the REAL workflow class:
    the evaluation timer fires while no worker runs, and staff's completion of the evaluation
    (whose inbox row a lost workflow task may already have written) arrives before any worker
    has seen the timer. The update is accepted and the task completed, not refused."""
    client = await dev_temporal.connect(data_converter=pydantic_data_converter)
    env = WorkflowEnvironment.from_client(client)
    case = case_input(datetime.now(UTC)).model_copy(update={"procedure_version": "demo"})
    lean = {"workflows": [DigitalViolationCase], "activities": CaseActivities(store).all()}

    def worker() -> Worker:
        return Worker(client, task_queue=task_queue, max_cached_workflows=0, **lean)

    async with worker():
        handle = await client.start_workflow(
            DigitalViolationCase.run,
            case,
            id=f"case-{case.case_number}",
            task_queue=task_queue,
        )
        run = CaseRun(env=env, handle=handle, store=store, case=case)
        await run.complete_all(*INTERNAL_ROUTE_TO_TREAT)
        snap = await run.wait_for(lambda s: s.next_timer is not None, "the evaluation timer")
        assert snap.next_timer is not None
        evaluation_at = snap.next_timer.at
    # No worker: the timer fires in the server, and the completion is sent meanwhile.
    await asyncio.sleep((evaluation_at - datetime.now(UTC)).total_seconds() + 1.0)
    completion = {
        "task_key": "close.evaluate",
        "task_id": "close.evaluate",
        "actor": TEACHER.model_dump(mode="json"),
        "decision": decision("close.evaluate", datetime.now(UTC)),
    }
    update = asyncio.create_task(
        handle.execute_update(DigitalViolationCase.submit_task, completion)
    )
    await asyncio.sleep(1.0)
    async with worker():
        try:
            done = await asyncio.wait_for(update, 20)
            assert done.task_id == "close.evaluate" and done.status == TaskStatus.DONE
            # Read-your-writes: the store shows it done when the update returns.
            [row] = [
                r
                for r in await store.list_tasks(workflow_id=handle.id)
                if r.task_id == "close.evaluate"
            ]
            assert row.status == "done"
        finally:
            history = await handle.fetch_history()
            await handle.terminate("test finished")

    accepted = next(
        i
        for i, e in enumerate(history.events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        and "close.evaluate" in str(e)
    )
    before = [e.event_type for e in history.events[:accepted]]
    fired = max(i for i, t in enumerate(before) if t == EventType.EVENT_TYPE_TIMER_FIRED)
    assert before[fired + 1 :].count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1

    await save_history(handle, "lean_update_with_the_timer_opening_its_task")
    replayer = Replayer(
        workflows=[DigitalViolationCase],
        data_converter=worker_data_converter(pydantic_data_converter),
    )
    await replayer.replay_workflow(WorkflowHistory(handle.id, history.events))


async def test_an_update_delivered_with_the_event_that_opens_its_task_replays(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    held = HeldCloseTask(store, held="assess.uncover")
    case = case_input(await env.get_current_time())
    async with Worker(env.client, task_queue=task_queue, activities=held.all()):
        first = workflow_worker(env, task_queue)
        async with first:
            handle = await env.client.start_workflow(
                DigitalViolationCase.run,
                case,
                id=f"case-{case.case_number}",
                task_queue=task_queue,
            )
            run = CaseRun(env=env, handle=handle, store=store, case=case)
            await run.wait_inbox("assess.uncover")
            await asyncio.wait_for(
                handle.execute_update(
                    DigitalViolationCase.submit_task,
                    {
                        "task_key": "assess.uncover",
                        "task_id": "assess.uncover",
                        "actor": TEACHER.model_dump(mode="json"),
                        "decision": decision("assess.uncover", await run.now()),
                    },
                ),
                20,
            )
            await asyncio.wait_for(held.entered.wait(), 15)
        # The workflow worker is gone; the uncover task's closing completes, and staff's
        # completion of the next task arrives, before any worker has seen either.
        held.release.set()
        await run.wait_inbox("assess.uncover", status="done")
        completion = {
            "task_key": "assess.evaluate",
            "task_id": "assess.evaluate",
            "actor": TEACHER.model_dump(mode="json"),
            "decision": decision("assess.evaluate", await run.now()),
        }
        update = asyncio.create_task(
            handle.execute_update(DigitalViolationCase.submit_task, completion)
        )
        await asyncio.sleep(1.0)
        async with workflow_worker(env, task_queue):
            try:
                done = await asyncio.wait_for(update, 20)
                assert done.task_id == "assess.evaluate" and done.status == TaskStatus.DONE
                await run.wait_inbox("assess.evaluate", status="done")
            finally:
                # Before the worker stops: a workflow task failing on every retry would keep
                # its shutdown waiting.
                history = await handle.fetch_history()
                await handle.terminate("test finished")

    # The history has the shape of the field's: the update was accepted in the workflow task
    # that also carried the activity result opening its task.
    accepted = next(
        i
        for i, e in enumerate(history.events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        and "assess.evaluate" in str(e)
    )
    before = [e.event_type for e in history.events[:accepted]]
    last_result = max(
        i for i, t in enumerate(before) if t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    )
    between = before[last_result + 1 :]
    assert between.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1, between

    await save_history(handle, "update_with_the_event_opening_its_task")
    replayer = Replayer(
        workflows=[DigitalViolationCase],
        data_converter=worker_data_converter(pydantic_data_converter),
    )
    await replayer.replay_workflow(WorkflowHistory(handle.id, history.events))
