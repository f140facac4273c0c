"""Test kit for driving whole cases: realistic inputs, good decisions, and a driver that
waits for a task to open before acting, as a member of staff would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from schemas.case import CaseInput, Participant
from schemas.common import Actor, ParticipantRole, StaffRole, TaskStatus, ViolationType
from schemas.snapshot import CaseSnapshot, TaskView
from store import Store
from workers.worker import build_worker
from workflows.case import DigitalViolationCase

TEACHER = Actor(id="lhj", role=StaffRole.CASE_OWNER)
LEADER = Actor(id="skoleleder1", role=StaffRole.LEADERSHIP)
COMMS = Actor(id="komm1", role=StaffRole.COMMUNICATIONS)
ROLE_ACTORS = {
    StaffRole.CASE_OWNER: TEACHER,
    StaffRole.LEADERSHIP: LEADER,
    StaffRole.COMMUNICATIONS: COMMS,
    StaffRole.TK: Actor(id="tk1", role=StaffRole.TK),
}


def case_input(
    reported_at: datetime,
    *,
    offender_known: bool = True,
    offender_age: int = 15,
    same_school: bool = False,
    violation_types: list[ViolationType] | None = None,
    parents_suspected: bool = False,
) -> CaseInput:
    participants = [
        Participant(pseudonym="P1", role=ParticipantRole.VICTIM, age=14, same_school=True),
        Participant(pseudonym="P3", role=ParticipantRole.WITNESS, age=14, same_school=True),
    ]
    if offender_known:
        participants.append(
            Participant(
                pseudonym="P2",
                role=ParticipantRole.OFFENDER,
                age=offender_age,
                same_school=same_school,
            )
        )
    return CaseInput(
        case_number=f"2026-{uuid.uuid4().hex[:8].upper()}",
        school_id="vibeke-skolen",
        opened_by=TEACHER,
        reported_at=reported_at,
        violation_types=violation_types or [ViolationType.HARASSMENT],
        participants=participants,
        offender_known=offender_known,
        parents_suspected=parents_suspected,
    )


def decision(key: str, now: datetime, **overrides: Any) -> dict[str, Any]:
    """A complete, sensible decision for each task, as the platform would send it (JSON)."""
    base: dict[str, dict[str, Any]] = {
        "assess.uncover": {
            "what": "P2 har delt krænkende beskeder om P1 i en klassegruppe",
            "where": "Snapchat, klassegruppe 7.b",
            "when_occurred": (now - timedelta(days=2)).isoformat(),
            "involved": ["P1", "P2"],
            "sexual_material_of_minor": False,
            "material_online": False,
        },
        "assess.evaluate": {
            "severity": "medium", "route": "internal", "underretning": False, "ssp": False,
        },
        "assess.involve_leadership": {"course_agreed": True},
        "assess.involve_tk": {"tk_contacted": True},
        "assess.involve_custody": {"custody_holders_informed": True, "for_participants": ["P1"]},
        "document.preserve": {
            "evidence": [{
                "kind": "screenshot", "held_by": "family", "secured_at": now.isoformat(),
                "usernames_noted": True, "times_noted": True,
            }],
            "staff_devices_clear": True,
        },
        "document.note": {"text": "Godkendt notat om forløbet."},
        "stop.cooperate": {
            "actors": ["parents", "students", "ssp_teacher"], "material_deleted": True,
            "further_measures": ["class_announcement"],
        },
        "stop.police_handover": {"police_took_over": True, "school_contact_kept": True},
        "stop.unknown_offender": {"removal_guidance_given": True, "sletdet_referred": True},
        "stop.action_plan": {"plan_written": True, "summary": "Handlingsplan for 7.b"},
        "report.police": {"recommended_to_family": True, "filed": "yes"},
        "report.insurance": {"guidance_given": True},
        "report.underretning": {"submitted_at": now.isoformat()},
        "report.underretning_receipt": {"received_at": now.isoformat()},
        "report.underretning_follow_up": {"municipality_contacted": True},
        "treat.help": {"tk_contacted": True, "victim_help": ["tk"]},
        "treat.surroundings": {
            "inform_classmates": True, "inform_parents": True, "inform_school": False,
        },
        "treat.same_school": {"measures": "Forskudte pauser og fast voksen"},
        "treat.press": {"statement": "declined"},
        "close.evaluate": {
            "worked": "Hurtig inddragelse af forældre", "did_not_work": "Sen kontakt til TK",
            "family_asked": True, "note": "Evalueringsnotat.",
        },
        "close.follow_up": {
            "rumours": False, "class_problems": False, "help_received": True, "outcome": "close",
        },
    }
    return {"task": key, **base[key], **overrides}


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
        deadline = asyncio.get_running_loop().time() + 15
        while True:
            rows = [r for r in await self.store.list_tasks(workflow_id=self.handle.id)
                    if r.task_id == task_id and r.status == status]
            if rows:
                return rows[0]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no inbox row {task_id} with status {status}")
            await asyncio.sleep(0.05)

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
        completion = {
            "task_key": key,
            "task_id": view.task_id,
            "actor": (actor or ROLE_ACTORS[view.role]).model_dump(mode="json"),
            "decision": decision(key, await self.now(), **overrides),
        }
        if reason:
            completion["reason"] = reason
        done = await self.handle.execute_update(DigitalViolationCase.submit_task, completion)
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
