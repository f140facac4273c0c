"""Test kit for driving whole cases: realistic inputs, good decisions, and a driver that
waits for a task to open before acting, as a member of staff would."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from driver.decisions import COMMS, LEADER, ROLE_ACTORS, TEACHER, case_input, completion, decision
from procedure import rules
from schemas.case import CaseInput
from schemas.common import Actor, TaskStatus
from schemas.snapshot import CaseSnapshot, TaskView
from store import Store
from tests.fakes import MemoryRecords, fake_worker
from workers.worker import build_worker
from workflows.case import DigitalViolationCase

# The catalogue lives in driver/ (shared with `sagsflow demo`, the fault suite and bench/);
# these names stay here so the tests read as before.
__all__ = [
    "COMMS",
    "LEADER",
    "ROLE_ACTORS",
    "TEACHER",
    "ON_FAKES_AND_STORE",
    "CaseRun",
    "case_input",
    "decision",
    "eventually",
    "running_case",
    "save_history",
    "summary",
]

# A whole-case test on the fake activities (fast) and again end to end on the real activities
# and a SQLite store (slow): the `case_store` fixture (tests/conftest.py) is one or the other.
ON_FAKES_AND_STORE = pytest.mark.parametrize(
    "case_store", ["fakes", pytest.param("sqlite", marks=pytest.mark.slow)], indirect=True
)

T = TypeVar("T")
POLL_SECONDS = 0.05
WAIT_SECONDS = 15.0


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    what: str | Callable[[T], str],
    timeout: float = WAIT_SECONDS,
    interval: float = POLL_SECONDS,
) -> T:
    """Polls `probe()` until `done(value)` holds and returns that value.

    After `timeout` seconds: AssertionError "timed out waiting for <what>", where `what` may be
    a function of the last value seen (to show what was there instead).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if loop.time() > deadline:
            described = what(value) if callable(what) else what
            raise AssertionError(f"timed out waiting for {described}")
        await asyncio.sleep(interval)


@dataclass
class CaseRun:
    env: WorkflowEnvironment
    handle: WorkflowHandle
    store: Store | MemoryRecords  # the real store, or what the fake activities recorded
    case: CaseInput

    async def snapshot(self) -> CaseSnapshot:
        return await self.handle.query(DigitalViolationCase.snapshot)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def wait_for(
        self,
        predicate: Callable[[CaseSnapshot], bool],
        what: str,
        timeout: float = WAIT_SECONDS,
    ) -> CaseSnapshot:
        return await eventually(
            self.snapshot, predicate, lambda snap: f"{what}; snapshot: {summary(snap)}", timeout
        )

    async def wait_open(self, key: str) -> TaskView:
        snap = await self.wait_for(
            lambda s: any(t.key == key for t in s.open_tasks), f"task {key} to open"
        )
        return next(t for t in snap.open_tasks if t.key == key)

    async def wait_inbox(self, task_id: str, status: str = "open") -> Any:
        """The inbox row of a task, once the store shows it in the given status."""

        async def row() -> Any:
            rows = await self.store.list_tasks(workflow_id=self.handle.id)
            return next((r for r in rows if r.task_id == task_id), None)

        return await eventually(
            row,
            lambda r: r is not None and r.status == status,
            lambda r: (
                f"inbox row {task_id} with status {status} "
                f"(it is {'missing' if r is None else r.status})"
            ),
        )

    async def _submit(self, case_number: str, payload: Any) -> TaskView:
        return await self.handle.execute_update(DigitalViolationCase.submit_task, payload)

    async def wait_for_outbox(self, predicate: Callable[[Any], bool]) -> Any:
        """The first outbox row of this case matching `predicate`, once it is written."""

        async def matching() -> list[Any]:
            return [
                r for r in await self.store.list_outbox(workflow_id=self.handle.id) if predicate(r)
            ]

        return (await eventually(matching, bool, "a matching outbox row"))[0]

    async def complete(
        self,
        key: str,
        reason: str | None = None,
        actor: Actor | None = None,
        view: TaskView | None = None,
        **overrides: Any,
    ) -> TaskView:
        """Complete `view`, or the first open task of `key`, with the catalogue's decision."""
        view = view or await self.wait_open(key)
        # At every step the inbox agrees with the case: the task's row is open, for the same
        # role and due time as the snapshot says.
        row = await self.wait_inbox(view.task_id)
        assert (row.key, row.role, row.due_at) == (view.key, view.role, view.due_at), (
            f"inbox row {row.task_id}: {(row.key, row.role, row.due_at)} != snapshot "
            f"{(view.key, view.role, view.due_at)}"
        )
        payload = completion(
            key,
            view.task_id,
            view.role,
            decision(key, await self.now(), **overrides),
            actor=actor,
            reason=reason,
        )
        done = await self._submit(self.case.case_number, payload)
        await self.wait_inbox(view.task_id, status="done")
        return done

    async def new_incident(self, description: str, by: Actor | None = None) -> None:
        """A `new_incident` signal that re-opens assessment."""
        await self.handle.signal(
            "new_incident",
            {
                "reported_by": (by or TEACHER).model_dump(mode="json"),
                "description": description,
                "reopen_assessment": True,
            },
        )

    async def inform_custody(self) -> list[TaskView]:
        """Every child's custody task of the round (one per victim and known offender), done."""
        return [
            await self.complete("assess.involve_custody") for _ in rules.custody_children(self.case)
        ]

    async def complete_all(self, *keys: str) -> None:
        for key in keys:
            await self.complete(key)

    async def wait_phase(self, phase: str) -> CaseSnapshot:
        return await self.wait_for(lambda s: s.phase.value == phase, f"phase {phase}")

    async def wait_done(self, key: str) -> CaseSnapshot:
        return await self.wait_for(
            lambda s: any(t.key == key and t.status == TaskStatus.DONE for t in s.done_tasks),
            f"task {key} done",
        )


def summary(snap: CaseSnapshot) -> str:
    return (
        f"phase={snap.phase} status={snap.status} open={[t.task_id for t in snap.open_tasks]} "
        f"done={[t.task_id for t in snap.done_tasks]} timer={snap.next_timer} "
        f"rejected={[e.reason for e in snap.timeline if e.kind == 'rejected']}"
    )


@contextlib.asynccontextmanager
async def running_case(
    env: WorkflowEnvironment,
    store: Store | MemoryRecords,
    task_queue: str,
    case: CaseInput,
    procedure_path: Path | None = None,
) -> AsyncIterator[CaseRun]:
    """The case on a worker of its own: the production worker and activities on a real
    `Store`, or the fake activities (tests/fakes.py) on `MemoryRecords`."""
    if isinstance(store, MemoryRecords):
        worker = fake_worker(env.client, store, task_queue, procedure_path=procedure_path)
    else:
        worker = build_worker(env.client, store, task_queue, procedure_path=procedure_path)
    async with worker:
        handle = await env.client.start_workflow(
            DigitalViolationCase.run,
            case,
            id=f"case-{case.case_number}",
            task_queue=task_queue,
        )
        run = CaseRun(env=env, handle=handle, store=store, case=case)
        try:
            yield run
        finally:
            await _terminate_when_idle(env, handle)


async def _terminate_when_idle(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    """End a test's case once no activity is in flight.

    The time-skipping server keeps time locked for an activity that completes after its
    workflow was terminated, which would stall every later test's time skip.
    """
    request = DescribeWorkflowExecutionRequest(
        namespace=env.client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
    )

    async def describe() -> Any:
        # The raw call: the SDK's describe() cannot decode the test server's null for an unset
        # Datetime search attribute.
        return await env.client.workflow_service.describe_workflow_execution(request)

    def running(described: Any) -> bool:
        return described.workflow_execution_info.status == 1  # RUNNING

    with contextlib.suppress(AssertionError):  # still busy after 10 s: terminated all the same
        described = await eventually(
            describe,
            lambda d: not running(d) or not d.pending_activities,
            "an idle case",
            timeout=10,
        )
        if not running(described):
            return
    with contextlib.suppress(RPCError):
        await handle.terminate("test finished")


async def save_history(handle: WorkflowHandle, name: str) -> None:
    """Record a finished case's history for the replay tests (SAGSFLOW_RECORD_HISTORIES=1)."""
    if os.environ.get("SAGSFLOW_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    target = Path(__file__).parent / "histories" / f"{name}.json"
    target.write_text(history.to_json())
