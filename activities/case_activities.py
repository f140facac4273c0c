"""The case workflow's activities. The workflow decides; these only record and notify.

Logs carry ids only (case number, workflow id, task id), never decision texts or names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.note import render_note
from procedure.loader import ProcedureError, UnknownProcedureVersion, load_procedure
from procedure.models import Procedure
from schemas.activities import (
    CaseRecord,
    CloseTaskRequest,
    EffectBatch,
    LoadProcedureRequest,
    NoteFacts,
    NotificationRequest,
    OpenTaskRequest,
    TaskFlagsRequest,
    TimelineBatch,
)
from schemas.common import case_number_of
from store import NaiveDatetimeError, Store

log = structlog.get_logger("sagsflow.activities")


class CaseActivities:
    def __init__(self, store: Store, procedure_path: Path | None = None) -> None:
        self.store = store
        self.procedure_path = procedure_path

    def all(self) -> list[Callable[..., Any]]:
        """The bound activities, for `Worker(activities=...)`."""
        return [
            self.load_procedure,
            self.record_case,
            self.open_task,
            self.close_task,
            self.update_task,
            self.append_timeline,
            self.enqueue_notification,
            self.draft_note,
            self.apply_effects,
        ]

    @activity.defn(name="load_procedure")
    async def load_procedure(self, request: LoadProcedureRequest) -> Procedure:
        try:
            # Reads a file and builds a holiday calendar: keep it off the event loop.
            procedure = await asyncio.to_thread(
                load_procedure, request.year, self.procedure_path, request.version or None
            )
        except UnknownProcedureVersion as exc:
            raise ApplicationError(
                str(exc), type="UnknownProcedureVersion", non_retryable=True
            ) from exc
        except ProcedureError as exc:
            if isinstance(exc.__cause__, OSError):
                # A missing or unreadable file is fixed by deploying it: retrying then works.
                raise ApplicationError(str(exc), type="ProcedureUnavailable") from exc
            raise ApplicationError(str(exc), type="InvalidProcedure", non_retryable=True) from exc
        if request.version and request.version != procedure.spec.version:
            raise ApplicationError(
                f"procedure version {request.version!r} is not available; "
                f"this worker has {procedure.spec.version!r}",
                type="UnknownProcedureVersion",
                non_retryable=True,
            )
        _log_done(
            "load_procedure",
            case_number_of(activity.info().workflow_id),
            version=procedure.spec.version,
            year=request.year,
        )
        return procedure

    @activity.defn(name="record_case")
    async def record_case(self, record: CaseRecord) -> None:
        with _rejecting_naive_datetimes():
            await self.store.upsert_case(record)
        _log_done("record_case", record.case_number, phase=record.phase, status=record.status)

    @activity.defn(name="open_task")
    async def open_task(self, request: OpenTaskRequest) -> None:
        with _rejecting_naive_datetimes():
            inserted = await self.store.open_task(request)
        _log_done("open_task", request.case_number, task_id=request.task_id, inserted=inserted)

    @activity.defn(name="close_task")
    async def close_task(self, request: CloseTaskRequest) -> None:
        with _rejecting_naive_datetimes():
            closed = await self.store.close_task(request)
        _log_done(
            "close_task",
            case_number_of(request.workflow_id),
            task_id=request.task_id,
            status=request.status,
            closed=closed,
        )

    @activity.defn(name="update_task")
    async def update_task(self, request: TaskFlagsRequest) -> None:
        updated = await self.store.update_task_flags(request)
        _log_done(
            "update_task",
            case_number_of(request.workflow_id),
            task_id=request.task_id,
            updated=updated,
        )

    @activity.defn(name="append_timeline")
    async def append_timeline(self, batch: TimelineBatch) -> None:
        with _rejecting_naive_datetimes():
            appended = await self.store.append_events(batch)
        _log_done(
            "append_timeline",
            batch.case_number,
            seqs=[event.seq for event in batch.events],
            appended=appended,
        )

    @activity.defn(name="enqueue_notification")
    async def enqueue_notification(self, request: NotificationRequest) -> None:
        with _rejecting_naive_datetimes():
            queued = await self.store.enqueue_notification(request)
        _log_done(
            "enqueue_notification",
            request.case_number,
            task_id=request.task_id,
            kind=request.kind,
            queued=queued,
        )

    @activity.defn(name="apply_effects")
    async def apply_effects(self, batch: EffectBatch) -> None:
        """One workflow activation's effects, in one store transaction (run as a local
        activity: a short write, answered inside the workflow task that decided it)."""
        with _rejecting_naive_datetimes():
            await self.store.apply_effects(batch)
        _log_done(
            "apply_effects",
            batch.case_number,
            seq=batch.seq,
            opened=[r.task_id for r in batch.opened],
            closed=[r.task_id for r in batch.closed],
            events=len(batch.events),
            notifications=len(batch.notifications),
        )

    @activity.defn(name="draft_note")
    async def draft_note(self, facts: NoteFacts) -> str:
        note = render_note(facts)
        _log_done("draft_note", facts.case_number)
        return note


def _log_done(name: str, case_number: str | None, **ids: Any) -> None:
    info = activity.info()
    log.info(
        "activity done",
        activity=name,
        case_number=case_number,
        workflow_id=info.workflow_id,
        attempt=info.attempt,
        **ids,
    )


@contextmanager
def _rejecting_naive_datetimes() -> Iterator[None]:
    # Retrying cannot give a naive datetime a time zone: fail once, visibly, in the UI.
    try:
        yield
    except NaiveDatetimeError as exc:
        raise ApplicationError(str(exc), type="InvalidActivityInput", non_retryable=True) from exc
