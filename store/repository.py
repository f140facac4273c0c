"""`Store`: the repository the activities write through and the API reads from.

Writes are idempotent by the natural keys the workflow gives (workflow id + task id, workflow
id + seq, notification key), using INSERT … ON CONFLICT so that even two attempts of the same
activity racing each other leave exactly one row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from schemas.activities import (
    CaseRecord,
    CloseTaskRequest,
    NotificationRequest,
    OpenTaskRequest,
    TaskFlagsRequest,
    TimelineBatch,
)
from schemas.common import StaffRole, TaskStatus
from store.engine import DEFAULT_DATABASE_URL, create_engine
from store.migrate import upgrade_to_head
from store.models import Base, CaseRow, OutboxRow, ParticipantRow, TaskRow, TimelineEventRow
from store.types import NaiveDatetimeError

# Advisory lock key that serialises schema upgrades on PostgreSQL.
_MIGRATION_LOCK_ID = 0x5A65F10


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str = DEFAULT_DATABASE_URL) -> Store:
        return cls(create_engine(url))

    async def create_schema(self) -> None:
        """Brings the database to the newest migration; a no-op when it is already there."""
        async with self.engine.begin() as connection:
            # Two processes starting at once (worker and API) must not both create the tables:
            # the first takes a lock, the second waits and then finds the schema at head.
            if connection.dialect.name == "postgresql":
                await connection.exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"
                )
            else:
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            await connection.run_sync(upgrade_to_head)

    async def dispose(self) -> None:
        await self.engine.dispose()

    # --- writes (activities) -------------------------------------------------------------

    async def upsert_case(self, record: CaseRecord) -> None:
        values = record.model_dump(mode="python") | {"updated_at": datetime.now(UTC)}
        insert = self._insert(CaseRow).values(values)
        changing = ("phase", "status", "route", "severity", "closed_at", "updated_at")
        statement = insert.on_conflict_do_update(
            index_elements=[CaseRow.workflow_id],
            set_={column: insert.excluded[column] for column in changing},
        )
        await self._execute(statement)

    async def open_task(self, request: OpenTaskRequest) -> bool:
        """Adds the task to the inbox; False when it was already there."""
        values = request.model_dump(mode="python") | {"status": TaskStatus.OPEN.value}
        statement = (
            self._insert(TaskRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=[TaskRow.workflow_id, TaskRow.task_id])
            .returning(TaskRow.id)
        )
        return bool(await self._execute_returning(statement))

    async def close_task(self, request: CloseTaskRequest) -> bool:
        """Closes an open task; False when it is not open (already closed, or unknown)."""
        statement = (
            update(TaskRow)
            .where(
                TaskRow.workflow_id == request.workflow_id,
                TaskRow.task_id == request.task_id,
                # A retry must not overwrite the first close's time and completer.
                TaskRow.status == TaskStatus.OPEN.value,
            )
            .values(
                status=request.status.value,
                closed_at=request.closed_at,
                completed_by=request.completed_by,
            )
            .returning(TaskRow.id)
        )
        return bool(await self._execute_returning(statement))

    async def update_task_flags(self, request: TaskFlagsRequest) -> bool:
        """Sets the given flags/assignee on an open task; False when no open task matched."""
        changes = request.model_dump(
            include={"reminded", "escalated", "assignee"}, exclude_none=True
        )
        if not changes:
            return False
        statement = (
            update(TaskRow)
            .where(
                TaskRow.workflow_id == request.workflow_id,
                TaskRow.task_id == request.task_id,
                TaskRow.status == TaskStatus.OPEN.value,
            )
            .values(changes)
            .returning(TaskRow.id)
        )
        return bool(await self._execute_returning(statement))

    async def append_events(self, batch: TimelineBatch) -> int:
        """Appends timeline events; returns how many were new (seq not seen before)."""
        if not batch.events:
            return 0
        rows = [
            {
                "workflow_id": batch.workflow_id,
                "case_number": batch.case_number,
                "seq": event.seq,
                "at": event.at,
                "kind": event.kind.value,
                "text": event.text,
                "actor_id": event.actor.id if event.actor else None,
                "actor_role": event.actor.role.value if event.actor else None,
                "task_id": event.task_id,
                "reason": event.reason,
            }
            for event in batch.events
        ]
        statement = (
            self._insert(TimelineEventRow)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=[TimelineEventRow.workflow_id, TimelineEventRow.seq]
            )
            .returning(TimelineEventRow.id)
        )
        return len(await self._execute_returning(statement))

    async def enqueue_notification(self, request: NotificationRequest) -> bool:
        """Puts a notification in the outbox; False when its key was already there."""
        values = request.model_dump(mode="python")
        values["kind"] = request.kind.value
        values["role"] = request.role.value
        statement = (
            self._insert(OutboxRow)
            .values(values)
            .on_conflict_do_nothing(index_elements=[OutboxRow.key])
            .returning(OutboxRow.id)
        )
        return bool(await self._execute_returning(statement))

    async def save_participant_names(
        self, workflow_id: str, case_number: str, names: dict[str, str]
    ) -> None:
        """Names behind pseudonyms (P1 → name); saving again replaces a name."""
        if not names:
            return
        now = datetime.now(UTC)
        insert = self._insert(ParticipantRow).values([
            {"workflow_id": workflow_id, "case_number": case_number, "pseudonym": pseudonym,
             "name": name, "updated_at": now}
            for pseudonym, name in names.items()
        ])
        statement = insert.on_conflict_do_update(
            index_elements=[ParticipantRow.workflow_id, ParticipantRow.pseudonym],
            set_={"name": insert.excluded.name, "updated_at": insert.excluded.updated_at},
        )
        await self._execute(statement)

    # --- reads (API, CLI, tests) ---------------------------------------------------------

    async def participant_names(self, workflow_id: str) -> dict[str, str]:
        query = (
            select(ParticipantRow)
            .where(ParticipantRow.workflow_id == workflow_id)
            .order_by(ParticipantRow.pseudonym)
        )
        return {row.pseudonym: row.name for row in await self._all(query)}

    async def get_case(self, workflow_id: str) -> CaseRow | None:
        return await self._first(select(CaseRow).where(CaseRow.workflow_id == workflow_id))

    async def list_tasks(
        self,
        workflow_id: str | None = None,
        status: TaskStatus | str | None = None,
        role: StaffRole | str | None = None,
        school_id: str | None = None,
    ) -> list[TaskRow]:
        """Inbox rows matching every filter given, earliest deadline first."""
        query = select(TaskRow)
        if workflow_id is not None:
            query = query.where(TaskRow.workflow_id == workflow_id)
        if status is not None:
            query = query.where(TaskRow.status == str(status))
        if role is not None:
            query = query.where(TaskRow.role == str(role))
        if school_id is not None:
            query = query.where(TaskRow.school_id == school_id)
        return await self._all(query.order_by(TaskRow.due_at, TaskRow.id))

    async def list_events(self, workflow_id: str) -> list[TimelineEventRow]:
        query = (
            select(TimelineEventRow)
            .where(TimelineEventRow.workflow_id == workflow_id)
            .order_by(TimelineEventRow.seq)
        )
        return await self._all(query)

    async def list_outbox(self, workflow_id: str | None = None) -> list[OutboxRow]:
        query = select(OutboxRow)
        if workflow_id is not None:
            query = query.where(OutboxRow.workflow_id == workflow_id)
        return await self._all(query.order_by(OutboxRow.created_at, OutboxRow.id))

    # --- plumbing ------------------------------------------------------------------------

    def _insert(self, model: type[Base]) -> Any:
        # Both dialects' Insert offer on_conflict_do_nothing/do_update with the same signature.
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(model)
        if dialect == "sqlite":
            return sqlite.insert(model)
        raise NotImplementedError(f"idempotent inserts are not implemented for {dialect}")

    async def _execute(self, statement: Any) -> None:
        with _unwrapped_naive_datetimes():
            async with self._sessions.begin() as session:
                await session.execute(statement)

    async def _execute_returning(self, statement: Any) -> Sequence[Any]:
        with _unwrapped_naive_datetimes():
            async with self._sessions.begin() as session:
                return (await session.execute(statement)).scalars().all()

    async def _first(self, query: Select[Any]) -> Any:
        async with self._sessions() as session:
            return (await session.execute(query)).scalars().first()

    async def _all(self, query: Select[Any]) -> list[Any]:
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars().all())


@contextmanager
def _unwrapped_naive_datetimes() -> Iterator[None]:
    # SQLAlchemy wraps errors of bind processing in StatementError; callers want ours.
    try:
        yield
    except StatementError as exc:
        if isinstance(exc.orig, NaiveDatetimeError):
            raise exc.orig from exc
        raise
