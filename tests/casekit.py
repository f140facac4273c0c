"""Test kit for driving whole cases: realistic inputs, good decisions, and a driver that
waits for a task to open before acting, as a member of staff would."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from driver.decisions import COMMS, LEADER, ROLE_ACTORS, TEACHER, case_input, completion, decision
from driver.staff import Staff, StoreInbox
from schemas.case import CaseInput
from schemas.common import Actor, TaskStatus
from schemas.snapshot import CaseSnapshot, TaskView
from store import Store
from workers.worker import build_worker
from workflows.case import DigitalViolationCase

# The catalogue lives in driver/ (shared with `sagsflow demo`, the fault suite and bench/);
# these names stay here so the tests read as before.
__all__ = [
    "COMMS", "LEADER", "ROLE_ACTORS", "TEACHER", "CaseRun", "case_input", "decision",
    "running_case", "save_history", "summary",
]


@dataclass
class CaseRun:
    env: WorkflowEnvironment
    handle: WorkflowHandle
    store: Store
    case: CaseInput

    async def snapshot(self) -> CaseSnapshot:
        return await self.handle.query(DigitalViolationCase.snapshot)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def wait_for(self, predicate, what: str, timeout: float = 15.0) -> CaseSnapshot:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            snap = await self.snapshot()
            if predicate(snap):
                return snap
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; snapshot: {summary(snap)}")
            await asyncio.sleep(0.05)

    async def wait_open(self, key: str) -> TaskView:
        snap = await self.wait_for(
            lambda s: any(t.key == key for t in s.open_tasks), f"task {key} to open"
        )
        return next(t for t in snap.open_tasks if t.key == key)

    async def wait_inbox(self, task_id: str, status: str = "open") -> Any:
        """The inbox row of a task, once the store shows it in the given status."""
        staff = Staff(StoreInbox(self.store), submit=self._submit, poll_seconds=0.05,
                      max_poll_seconds=0.05, wait_seconds=15)
        return await staff.wait_status(self.handle.id, task_id, status)

    async def _submit(self, case_number: str, payload: Any) -> TaskView:
        return await self.handle.execute_update(DigitalViolationCase.submit_task, payload)

    async def wait_for_outbox(self, predicate) -> Any:
        """The first outbox row of this case matching `predicate`, once it is written."""
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            rows = [r for r in await self.store.list_outbox(workflow_id=self.handle.id)
                    if predicate(r)]
            if rows:
                return rows[0]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("no matching outbox row")
            await asyncio.sleep(0.05)

    async def complete(
        self, key: str, reason: str | None = None, actor: Actor | None = None, **overrides: Any
    ) -> TaskView:
        view = await self.wait_open(key)
        # At every step the inbox agrees with the case: the task's row is open, for the same
        # role and due time as the snapshot says.
        row = await self.wait_inbox(view.task_id)
        assert (row.key, row.role, row.due_at) == (view.key, view.role, view.due_at), (
            f"inbox row {row.task_id}: {(row.key, row.role, row.due_at)} != snapshot "
            f"{(view.key, view.role, view.due_at)}"
        )
        payload = completion(
            key, view.task_id, view.role, decision(key, await self.now(), **overrides),
            actor=actor, reason=reason,
        )
        done = await self._submit(self.case.case_number, payload)
        await self.wait_inbox(view.task_id, status="done")
        return done

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
    env: WorkflowEnvironment, store: Store, task_queue: str, case: CaseInput,
    procedure_path: Path | None = None,
) -> AsyncIterator[CaseRun]:
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
    for _ in range(200):
        # The raw call: the SDK's describe() cannot decode the test server's null for an unset
        # Datetime search attribute.
        described = await env.client.workflow_service.describe_workflow_execution(request)
        if described.workflow_execution_info.status != 1:  # not RUNNING
            return
        if not described.pending_activities:
            break
        await asyncio.sleep(0.05)
    with contextlib.suppress(RPCError):
        await handle.terminate("test finished")


async def save_history(handle: WorkflowHandle, name: str) -> None:
    """Record a finished case's history for the replay tests (SAGSFLOW_RECORD_HISTORIES=1)."""
    if os.environ.get("SAGSFLOW_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    target = Path(__file__).parent / "histories" / f"{name}.json"
    target.write_text(history.to_json())
