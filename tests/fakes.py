"""In-memory fakes of the case activities: the fast tier of the workflow tests.

As in temporalio's samples, fake activity functions are registered under the real activities'
names (`@activity.defn(name="apply_effects")` …), so the real `DigitalViolationCase` runs
unchanged on the time-skipping server while nothing touches a database. `MemoryRecords` keeps
what the case handed to the store and answers the read calls the tests make of a `Store`
(list_tasks, get_task, get_case, list_events, list_outbox) with the write rules of
store/repository.py: opening and the timeline are upserts, a task closes once, flags change
open tasks only, a notification key is written once, and a batch's `sync` brings the rows in
line with the run. Whether a real database keeps those rules is for tests/test_store.py and the
end-to-end tests on the real store (marked `slow`).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from procedure.loader import ProcedureError, UnknownProcedureVersion, load_procedure
from procedure.models import Procedure
from schemas.activities import EffectBatch, LoadProcedureRequest, StoreSync
from schemas.common import TaskStatus
from workers.worker import worker_client
from workflows.case import DigitalViolationCase

# The activities the case workflow calls; a call to any other fails the test (not registered).
FAKED = ("load_procedure", "apply_effects")


@dataclass
class CaseRecordRow:
    workflow_id: str
    case_number: str
    school_id: str
    phase: str
    status: str
    route: str
    severity: str
    opened_at: datetime
    closed_at: datetime | None


@dataclass
class TaskRecordRow:
    id: int
    workflow_id: str
    case_number: str
    school_id: str
    task_id: str
    key: str
    title: str
    guidance: str
    role: str
    assignee: str | None
    status: str
    opened_at: datetime
    due_at: datetime
    closed_at: datetime | None = None
    completed_by: str | None = None
    reminded: bool = False
    escalated: bool = False
    run_id: str | None = None


@dataclass
class EventRecordRow:
    workflow_id: str
    case_number: str
    seq: int
    at: datetime
    kind: str
    text: str
    actor_id: str | None
    actor_role: str | None
    task_id: str | None
    reason: str | None
    run_id: str | None


@dataclass
class OutboxRecordRow:
    id: int
    key: str
    workflow_id: str
    case_number: str
    school_id: str
    kind: str
    role: str
    assignee: str | None
    task_id: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None = None


@dataclass
class MemoryRecords:
    """What the case wrote through `apply_effects`, kept in memory."""

    cases: dict[str, CaseRecordRow] = field(default_factory=dict)
    tasks: dict[tuple[str, str], TaskRecordRow] = field(default_factory=dict)
    events: dict[tuple[str, int], EventRecordRow] = field(default_factory=dict)
    outbox: dict[str, OutboxRecordRow] = field(default_factory=dict)
    batches: list[EffectBatch] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- the fake activities --------------------------------------------------------------

    def activities(self, procedure_path: Path | None = None) -> list[Callable[..., Any]]:
        """Fakes of the case activities, for `Worker(activities=...)`."""

        @activity.defn(name="load_procedure")
        async def fake_load_procedure(request: LoadProcedureRequest) -> Procedure:
            return await asyncio.to_thread(
                _procedure, request.year, procedure_path, request.version or None
            )

        @activity.defn(name="apply_effects")
        async def fake_apply_effects(batch: EffectBatch) -> None:
            self.apply(batch)

        return [fake_load_procedure, fake_apply_effects]

    def apply(self, batch: EffectBatch) -> None:
        """store/repository.py's apply_effects, on the dictionaries (one activation's batch)."""
        if _has_naive_datetime(batch):
            # As the real activity: retrying cannot give a datetime a time zone.
            raise ApplicationError(
                "naive datetime in the batch", type="InvalidActivityInput", non_retryable=True
            )
        self.batches.append(batch)
        workflow_id, run_id = batch.workflow_id, batch.run_id
        if batch.sync is not None:
            self._sync(workflow_id, run_id, batch.sync)
        if batch.case is not None:
            record = batch.case
            self.cases[workflow_id] = CaseRecordRow(
                workflow_id=workflow_id,
                case_number=record.case_number,
                school_id=record.school_id,
                phase=record.phase.value,
                status=record.status.value,
                route=record.route.value,
                severity=record.severity.value,
                opened_at=_utc(record.opened_at),
                closed_at=_utc(record.closed_at),
            )
        for request in batch.opened:
            row = self.tasks.get((workflow_id, request.task_id))
            if row is None:
                self.tasks[(workflow_id, request.task_id)] = TaskRecordRow(
                    id=next(self._ids),
                    workflow_id=workflow_id,
                    case_number=request.case_number,
                    school_id=request.school_id,
                    task_id=request.task_id,
                    key=request.key,
                    title=request.title,
                    guidance=request.guidance,
                    role=request.role.value,
                    assignee=request.assignee,
                    status=TaskStatus.OPEN.value,
                    opened_at=_utc(request.opened_at),
                    due_at=_utc(request.due_at),
                    run_id=run_id,
                )
            elif row.status == TaskStatus.OPEN:
                row.title, row.guidance, row.role = (
                    request.title,
                    request.guidance,
                    request.role.value,
                )
                row.opened_at, row.due_at = _utc(request.opened_at), _utc(request.due_at)
                row.run_id = run_id
        for flags in batch.flags:
            row = self.tasks.get((flags.workflow_id, flags.task_id))
            if row is not None and row.status == TaskStatus.OPEN:
                changes = flags.model_dump(
                    include={"reminded", "escalated", "assignee"}, exclude_none=True
                )
                for name, value in changes.items():
                    setattr(row, name, value)
        for closing in batch.closed:
            row = self.tasks.get((closing.workflow_id, closing.task_id))
            if row is not None and row.status == TaskStatus.OPEN:
                row.status = closing.status.value
                row.closed_at = _utc(closing.closed_at)
                row.completed_by = closing.completed_by
        for event in batch.events:
            self.events[(workflow_id, event.seq)] = EventRecordRow(
                workflow_id=workflow_id,
                case_number=batch.case_number,
                seq=event.seq,
                at=_utc(event.at),
                kind=event.kind.value,
                text=event.text,
                actor_id=event.actor.id if event.actor else None,
                actor_role=event.actor.role.value if event.actor else None,
                task_id=event.task_id,
                reason=event.reason,
                run_id=run_id,
            )
        for note in batch.notifications:
            if note.key not in self.outbox:
                self.outbox[note.key] = OutboxRecordRow(
                    id=next(self._ids),
                    key=note.key,
                    workflow_id=note.workflow_id,
                    case_number=note.case_number,
                    school_id=note.school_id,
                    kind=note.kind.value,
                    role=note.role.value,
                    assignee=note.assignee,
                    task_id=note.task_id,
                    subject=note.subject,
                    body=note.body,
                    created_at=_utc(note.created_at),
                )

    def _sync(self, workflow_id: str, run_id: str | None, sync: StoreSync) -> None:
        kept = {task.task_id for task in sync.tasks}
        for task in sync.tasks:
            row = self.tasks.get((workflow_id, task.task_id))
            if row is None:
                continue
            row.status, row.due_at = task.status.value, _utc(task.due_at)
            row.reminded, row.escalated = task.reminded, task.escalated
            row.assignee = task.assignee
            row.run_id = run_id
            if task.status == TaskStatus.OPEN:
                row.closed_at, row.completed_by = None, None
            elif task.closed_at is not None:
                row.closed_at, row.completed_by = _utc(task.closed_at), task.completed_by
        for key in [k for k in self.tasks if k[0] == workflow_id and k[1] not in kept]:
            del self.tasks[key]
        for key in [k for k in self.events if k[0] == workflow_id and k[1] > sync.timeline_length]:
            del self.events[key]
        for key in [
            k
            for k, row in self.outbox.items()
            if row.workflow_id == workflow_id
            and row.sent_at is None
            and k not in sync.notification_keys
        ]:
            del self.outbox[key]

    # -- the Store's read calls -----------------------------------------------------------

    async def get_case(self, workflow_id: str) -> CaseRecordRow | None:
        return self.cases.get(workflow_id)

    async def get_task(self, workflow_id: str, task_id: str) -> TaskRecordRow | None:
        return self.tasks.get((workflow_id, task_id))

    async def list_tasks(
        self,
        workflow_id: str | None = None,
        status: str | None = None,
        role: str | None = None,
        school_id: str | None = None,
    ) -> list[TaskRecordRow]:
        rows = [
            row
            for row in self.tasks.values()
            if (workflow_id is None or row.workflow_id == workflow_id)
            and (status is None or row.status == str(status))
            and (role is None or row.role == str(role))
            and (school_id is None or row.school_id == school_id)
        ]
        return sorted(rows, key=lambda row: (row.due_at, row.id))

    async def list_events(self, workflow_id: str) -> list[EventRecordRow]:
        return sorted(
            (row for (wf, _), row in self.events.items() if wf == workflow_id),
            key=lambda row: row.seq,
        )

    async def list_outbox(self, workflow_id: str | None = None) -> list[OutboxRecordRow]:
        rows = [
            row
            for row in self.outbox.values()
            if workflow_id is None or row.workflow_id == workflow_id
        ]
        return sorted(rows, key=lambda row: (row.created_at, row.id))


def fake_worker(
    client: Client,
    records: MemoryRecords,
    task_queue: str,
    *,
    procedure_path: Path | None = None,
) -> Worker:
    """The case workflow on the fake activities; the client and data converter as
    workers.worker.build_worker gives them (a message the worker cannot open is a refusal)."""
    return Worker(
        worker_client(client),
        task_queue=task_queue,
        workflows=[DigitalViolationCase],
        activities=records.activities(procedure_path),
    )


@functools.lru_cache(maxsize=16)
def _procedure(year: int, path: Path | None, version: str | None) -> Procedure:
    """The card, read once per process (year, file, version): tests share it, read-only."""
    try:
        procedure = load_procedure(year, path, version)
    except UnknownProcedureVersion as exc:
        raise ApplicationError(
            str(exc), type="UnknownProcedureVersion", non_retryable=True
        ) from exc
    except ProcedureError as exc:
        raise ApplicationError(str(exc), type="InvalidProcedure", non_retryable=True) from exc
    if version and version != procedure.spec.version:
        raise ApplicationError(
            f"procedure version {version!r} is not available",
            type="UnknownProcedureVersion",
            non_retryable=True,
        )
    return procedure


def _utc(moment: datetime | None) -> datetime | None:
    """As the store's UtcDateTime column reads it back."""
    return moment.astimezone(UTC) if moment is not None else None


def _has_naive_datetime(value: Any) -> bool:
    if isinstance(value, datetime):
        return value.tzinfo is None
    if isinstance(value, BaseModel):
        return any(_has_naive_datetime(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, list | tuple):
        return any(_has_naive_datetime(item) for item in value)
    if isinstance(value, dict):
        return any(_has_naive_datetime(item) for item in value.values())
    return False
