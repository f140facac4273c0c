"""An effect batch as prepared statements: each kind of row has ONE statement, built once per
store, and a batch passes only parameters (several rows of a kind in one executemany).

Building and compiling a fresh upsert for every row cost the worker more CPU than SQLite spent
writing it; the statements here are compiled once and then reused from SQLAlchemy's cache.
Order inside the transaction follows the case: the case row, tasks opened, flags, tasks
closed, timeline, outbox (Store.apply_effects).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

from schemas.activities import CaseRecord, CloseTaskRequest, NotificationRequest, OpenTaskRequest
from schemas.common import TaskStatus
from store.models import Base, CaseRow, OutboxRow, TaskRow, TimelineEventRow

# A statement and its parameters: one dict for one row, a list for executemany.
Step = tuple[Any, dict[str, Any] | list[dict[str, Any]] | None]

CASE_CHANGING = ("phase", "status", "route", "severity", "closed_at", "updated_at")
TASK_CHANGING = ("title", "guidance", "role", "opened_at", "due_at", "run_id")
EVENT_CHANGING = ("at", "kind", "text", "actor_id", "actor_role", "task_id", "reason", "run_id")


def dialect_insert(dialect: str, model: type[Base]) -> Any:
    # Both dialects' Insert offer on_conflict_do_nothing/do_update with the same signature.
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"idempotent inserts are not implemented for {dialect}")


class BatchStatements:
    """The statements of Store.apply_effects for one dialect."""

    def __init__(self, dialect: str) -> None:
        case = dialect_insert(dialect, CaseRow)
        self.case_upsert = case.on_conflict_do_update(
            index_elements=[CaseRow.workflow_id],
            set_={column: case.excluded[column] for column in CASE_CHANGING},
        )
        # Opening again (a retried batch, a reset) refreshes an open task, never a closed one.
        task = dialect_insert(dialect, TaskRow)
        self.task_upsert = task.on_conflict_do_update(
            index_elements=[TaskRow.workflow_id, TaskRow.task_id],
            set_={column: task.excluded[column] for column in TASK_CHANGING},
            where=TaskRow.status == TaskStatus.OPEN.value,
        )
        # Closing keeps the first close's time and completer: only an open task is closed.
        self.close_update = (
            update(TaskRow)
            .where(
                TaskRow.workflow_id == bindparam("b_workflow_id"),
                TaskRow.task_id == bindparam("b_task_id"),
                TaskRow.status == TaskStatus.OPEN.value,
            )
            .values(
                status=bindparam("b_status"),
                closed_at=bindparam("b_closed_at"),
                completed_by=bindparam("b_completed_by"),
            )
        )
        events = dialect_insert(dialect, TimelineEventRow)
        self.events_upsert = events.on_conflict_do_update(
            index_elements=[TimelineEventRow.workflow_id, TimelineEventRow.seq],
            set_={column: events.excluded[column] for column in EVENT_CHANGING},
        )
        # A notification key is written once.
        self.outbox_insert = dialect_insert(dialect, OutboxRow).on_conflict_do_nothing(
            index_elements=[OutboxRow.key]
        )

    def case(self, record: CaseRecord) -> Step:
        return self.case_upsert, record.model_dump(mode="python") | {
            "updated_at": datetime.now(UTC)
        }

    def opened(self, requests: Sequence[OpenTaskRequest], run_id: str | None) -> list[Step]:
        if not requests:
            return []
        rows = [
            request.model_dump(mode="python") | {"status": TaskStatus.OPEN.value, "run_id": run_id}
            for request in requests
        ]
        return [(self.task_upsert, rows)]

    def closed(self, requests: Sequence[CloseTaskRequest]) -> list[Step]:
        return [(self.close_update, [close_row(r) for r in requests])] if requests else []

    def events(self, rows: list[dict[str, Any]]) -> list[Step]:
        return [(self.events_upsert, rows)] if rows else []

    def notifications(self, requests: Sequence[NotificationRequest]) -> list[Step]:
        return [(self.outbox_insert, [notification_row(r) for r in requests])] if requests else []


def close_row(request: CloseTaskRequest) -> dict[str, Any]:
    """The parameters of BatchStatements.close_update for one task."""
    return {
        "b_workflow_id": request.workflow_id,
        "b_task_id": request.task_id,
        "b_status": request.status.value,
        "b_closed_at": request.closed_at,
        "b_completed_by": request.completed_by,
    }


def notification_row(request: NotificationRequest) -> dict[str, Any]:
    """The outbox row of one notification."""
    return request.model_dump(mode="python") | {
        "kind": request.kind.value,
        "role": request.role.value,
    }
