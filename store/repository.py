"""`Store`: the repository the activities write through and the API reads from.

Writes are idempotent by the natural keys the workflow gives (workflow id + task id, workflow
id + seq, notification key), using INSERT … ON CONFLICT so that even two attempts of the same
activity racing each other leave exactly one row.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, and_, delete, func, insert, or_, select, true, update
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from schemas.activities import (
    CaseRecord,
    CloseTaskRequest,
    EffectBatch,
    NotificationRequest,
    OpenTaskRequest,
    StoreSync,
    TaskFlagsRequest,
    TimelineBatch,
)
from schemas.common import CaseStatus, StaffRole, TaskStatus
from schemas.retention import ANONYMISED_TEXT, RetentionCaseEntry
from store.batch import BatchStatements, Step, close_row, dialect_insert, notification_row
from store.engine import DEFAULT_DATABASE_URL, create_engine, sqlite_batch_writer
from store.migrate import upgrade_to_head
from store.models import (
    AccessLogRow,
    Base,
    CaseRow,
    OutboxRow,
    ParticipantRow,
    StaffRow,
    TaskRow,
    TimelineEventRow,
)
from store.types import NaiveDatetimeError

# Advisory lock key that serialises schema upgrades on PostgreSQL.
_MIGRATION_LOCK_ID = 0x5A65F10


# Alembic keeps the running migration's context in a module global, so two migrations in one
# process (two stores, threads or event loops) must not overlap; between processes the database
# locks below keep them apart.
_MIGRATING = threading.Lock()


@asynccontextmanager
async def _one_migration_in_this_process() -> AsyncIterator[None]:
    # Waited for in a thread, so no event loop blocks while another migration runs.
    acquiring = asyncio.get_running_loop().run_in_executor(None, _MIGRATING.acquire)
    try:
        await asyncio.shield(acquiring)
    except asyncio.CancelledError:
        acquiring.add_done_callback(lambda _: _MIGRATING.release())
        raise
    try:
        yield
    finally:
        _MIGRATING.release()


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time, and a waiting connection polls with sleeps of up to
        # 100 ms: twenty cases writing at once left some waiting seconds. Writers of this
        # process queue here instead, in order; PostgreSQL needs no such queue.
        self._write_turn: asyncio.Lock | contextlib.nullcontext[None] = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self._batch_writer = sqlite_batch_writer(engine)
        self._prepared = BatchStatements(engine.dialect.name)

    @classmethod
    def from_url(cls, url: str = DEFAULT_DATABASE_URL) -> Store:
        return cls(create_engine(url))

    async def create_schema(self) -> None:
        """Brings the database to the newest migration; a no-op when it is already there."""
        async with _one_migration_in_this_process():
            await self._upgrade()

    async def _upgrade(self) -> None:
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
        if self._batch_writer is not None:
            self._batch_writer.dispose()

    # --- writes (activities) -------------------------------------------------------------

    async def apply_effects(self, batch: EffectBatch) -> None:
        """Writes one workflow activation's effects in ONE transaction (see EffectBatch).

        Order inside the transaction follows the case: the case row, tasks opened, flags,
        tasks closed, timeline, outbox. Opening, the timeline and the case row are upserts (the
        last recorded attempt wins); closing keeps the first close's time and completer, and a
        notification key is written once.
        """
        prepared = self._prepared
        steps: list[Step] = []
        if batch.sync is not None:
            steps += [
                (statement, None)
                for statement in self._sync_statements(batch.workflow_id, batch.run_id, batch.sync)
            ]
        if batch.case is not None:
            steps.append(prepared.case(batch.case))
        steps += prepared.opened(batch.opened, batch.run_id)
        steps += [(s, None) for s in map(self._flags_update, batch.flags) if s is not None]
        steps += prepared.closed(batch.closed)
        steps += prepared.events(
            _event_rows(batch.workflow_id, batch.case_number, batch.events, batch.run_id)
        )
        steps += prepared.notifications(batch.notifications)
        with _unwrapped_naive_datetimes():
            async with self._write_turn:
                if self._batch_writer is not None:
                    await _to_the_end(asyncio.to_thread(_write_all, self._batch_writer, steps))
                    return
                async with self.engine.begin() as connection:
                    for statement, parameters in steps:
                        await connection.execute(statement, parameters)

    def _sync_statements(self, workflow_id: str, run_id: str | None, sync: StoreSync) -> list[Any]:
        """Rows brought in line with the run: each task's state as the run has it, tasks and
        timeline rows that only an earlier run wrote (after a reset point) removed."""
        statements: list[Any] = []
        for task in sync.tasks:
            values: dict[str, Any] = {
                "status": task.status.value,
                "due_at": task.due_at,
                "reminded": task.reminded,
                "escalated": task.escalated,
                "assignee": task.assignee,
                "run_id": run_id,
            }
            if task.status == TaskStatus.OPEN:
                # Open again in this run (a reset to before its completion).
                values |= {"closed_at": None, "completed_by": None}
            elif task.closed_at is not None:
                values |= {"closed_at": task.closed_at, "completed_by": task.completed_by}
            statements.append(
                update(TaskRow)
                .where(TaskRow.workflow_id == workflow_id, TaskRow.task_id == task.task_id)
                .values(values)
            )
        statements.append(
            delete(TaskRow).where(
                TaskRow.workflow_id == workflow_id,
                TaskRow.task_id.not_in([task.task_id for task in sync.tasks]),
            )
        )
        statements.append(
            delete(TimelineEventRow).where(
                TimelineEventRow.workflow_id == workflow_id,
                TimelineEventRow.seq > sync.timeline_length,
            )
        )
        # A notification already sent cannot be called back; one still waiting can.
        statements.append(
            delete(OutboxRow).where(
                OutboxRow.workflow_id == workflow_id,
                OutboxRow.sent_at.is_(None),
                OutboxRow.key.not_in(sync.notification_keys),
            )
        )
        return statements

    def _flags_update(self, request: TaskFlagsRequest) -> Any | None:
        changes = request.model_dump(
            include={"reminded", "escalated", "assignee"}, exclude_none=True
        )
        if not changes:
            return None
        return (
            update(TaskRow)
            .where(
                TaskRow.workflow_id == request.workflow_id,
                TaskRow.task_id == request.task_id,
                TaskRow.status == TaskStatus.OPEN.value,
            )
            .values(changes)
        )

    async def upsert_case(self, record: CaseRecord) -> None:
        statement, values = self._prepared.case(record)
        with _unwrapped_naive_datetimes():
            async with self.engine.begin() as connection:
                await connection.execute(statement, values)

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
        """Closes an open task; False when it is not open (already closed, or unknown).
        A retry must not overwrite the first close's time and completer."""
        statement = self._prepared.close_update.returning(TaskRow.id)
        return bool(await self._returning(statement, close_row(request)))

    async def update_task_flags(self, request: TaskFlagsRequest) -> bool:
        """Sets the given flags/assignee on an open task; False when no open task matched."""
        statement = self._flags_update(request)
        if statement is None:
            return False
        return bool(await self._execute_returning(statement.returning(TaskRow.id)))

    async def append_events(self, batch: TimelineBatch) -> int:
        """Appends timeline events; returns how many were new (seq not seen before). (The first
        core's activity; the lean core's batches overwrite instead.)"""
        if not batch.events:
            return 0
        rows = _event_rows(batch.workflow_id, batch.case_number, batch.events, None)
        for row in rows:
            del row["run_id"]
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
        statement = self._prepared.outbox_insert.returning(OutboxRow.id)
        return bool(await self._returning(statement, notification_row(request)))

    async def save_participant_names(
        self, workflow_id: str, case_number: str, names: Mapping[str, str]
    ) -> None:
        """Names behind pseudonyms (P1 → name), without contact details."""
        await self.save_participant_details(
            workflow_id, case_number, {pseudonym: (name, None) for pseudonym, name in names.items()}
        )

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

    async def task_states(self, workflow_id: str) -> list[Any]:
        """A case's tasks as an inbox list needs them (task id, key, role, status, due time),
        earliest deadline first: a cheap read for polling, without titles and guidance."""
        query = (
            select(TaskRow.task_id, TaskRow.key, TaskRow.role, TaskRow.status, TaskRow.due_at)
            .where(TaskRow.workflow_id == workflow_id)
            .order_by(TaskRow.due_at, TaskRow.id)
        )
        async with self.engine.connect() as connection:
            return list((await connection.execute(query)).all())

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

    # --- outbox delivery (the notification dispatcher) ----------------------------------

    async def claim_outbox(
        self, now: datetime, lease: timedelta, limit: int = 1
    ) -> list[OutboxRow]:
        """Claims up to `limit` rows that are due, oldest first, and counts the attempt.

        A claimed row is invisible to every other claim until `now + lease`, so two dispatchers
        never send the same row. One UPDATE … RETURNING: atomic on SQLite (one writer at a
        time) and on PostgreSQL, where the conditions are re-checked on a row another
        transaction just changed, and SKIP LOCKED lets the other dispatcher take the next row.
        """
        claimable = _claimable_outbox(now)
        chosen = (
            select(OutboxRow.id)
            .where(*claimable)
            .order_by(OutboxRow.created_at, OutboxRow.id)
            .limit(limit)
        )
        if self.engine.dialect.name == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True)
        # A CTE, evaluated once: as `id IN (subquery)` PostgreSQL may run the subquery again
        # for every row, and the LIMIT would no longer hold.
        candidates = chosen.cte("candidates")
        if self.engine.dialect.name == "postgresql":
            candidates = candidates.prefix_with("MATERIALIZED")
        statement = (
            update(OutboxRow)
            .where(OutboxRow.id == candidates.c.id, *claimable)
            .values(claimed_until=now + lease, attempts=OutboxRow.attempts + 1)
            .returning(OutboxRow)
            .execution_options(synchronize_session=False)
        )
        return list(await self._execute_returning(statement))

    async def mark_sent(self, outbox_id: int, at: datetime, note: str | None = None) -> bool:
        """Records a delivery and releases the claim; False when the row was already sent.

        `note` (or None) replaces last_error: e.g. that some of the recipients were refused.
        """
        statement = (
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id, OutboxRow.sent_at.is_(None))
            .values(sent_at=at, claimed_until=None, next_attempt_at=None, last_error=note)
            .returning(OutboxRow.id)
        )
        return bool(await self._execute_returning(statement))

    async def mark_failed(
        self, outbox_id: int, error: str, next_attempt_at: datetime | None
    ) -> bool:
        """Records a failed attempt and releases the claim; the row is tried again at
        `next_attempt_at`, or never (None: failed for good, until requeued)."""
        statement = (
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id, OutboxRow.sent_at.is_(None))
            .values(last_error=error, next_attempt_at=next_attempt_at, claimed_until=None)
            .returning(OutboxRow.id)
        )
        return bool(await self._execute_returning(statement))

    async def requeue_failed_outbox(self, now: datetime) -> int:
        """Gives every row that failed for good a fresh set of attempts (e.g. after the
        recipients were configured); returns how many."""
        statement = (
            update(OutboxRow)
            .where(
                OutboxRow.sent_at.is_(None),
                OutboxRow.last_error.is_not(None),
                OutboxRow.next_attempt_at.is_(None),
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
            )
            .values(attempts=0, next_attempt_at=now)
            .returning(OutboxRow.id)
        )
        return len(await self._execute_returning(statement))

    async def list_unsent_outbox(self, after_id: int = 0, limit: int = 100) -> list[OutboxRow]:
        """Rows not sent yet with an id above `after_id`, in id order (to page through)."""
        query = (
            select(OutboxRow)
            .where(OutboxRow.sent_at.is_(None), OutboxRow.id > after_id)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        return await self._all(query)

    async def get_task(self, workflow_id: str, task_id: str) -> TaskRow | None:
        query = select(TaskRow).where(
            TaskRow.workflow_id == workflow_id, TaskRow.task_id == task_id
        )
        return await self._first(query)

    # --- plumbing ------------------------------------------------------------------------

    def _insert(self, model: type[Base]) -> Any:
        return dialect_insert(self.engine.dialect.name, model)

    async def _execute(self, statement: Any) -> None:
        with _unwrapped_naive_datetimes():
            async with self._sessions.begin() as session:
                await session.execute(statement)

    async def _execute_returning(self, statement: Any) -> Sequence[Any]:
        with _unwrapped_naive_datetimes():
            async with self._sessions.begin() as session:
                return (await session.execute(statement)).scalars().all()

    async def _returning(self, statement: Any, parameters: dict[str, Any]) -> Sequence[Any]:
        """A prepared statement's RETURNING values for one row of parameters."""
        with _unwrapped_naive_datetimes():
            async with self.engine.begin() as connection:
                return (await connection.execute(statement, parameters)).scalars().all()

    async def _first(self, query: Select[Any]) -> Any:
        async with self._sessions() as session:
            return (await session.execute(query)).scalars().first()

    async def _all(self, query: Select[Any]) -> list[Any]:
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars().all())

    # --- HTTP API: access log, participants' details, inbox, readiness -------------------

    async def record_access(
        self,
        *,
        at: datetime,
        actor_id: str,
        actor_roles: Iterable[str],
        action: str,
        case_number: str | None,
        purpose: str,
        outcome: str,
        detail: str | None = None,
    ) -> int:
        """Appends one access-log entry and returns its id; raises if it cannot be written."""
        statement = (
            insert(AccessLogRow)
            .values(
                at=at,
                actor_id=actor_id,
                actor_roles=",".join(sorted(actor_roles)),
                action=action,
                case_number=case_number,
                purpose=purpose,
                outcome=outcome,
                detail=detail,
            )
            .returning(AccessLogRow.id)
        )
        [entry_id] = await self._execute_returning(statement)
        return int(entry_id)

    async def remember_staff(
        self, staff_id: str, roles: Collection[str], schools: Collection[str]
    ) -> None:
        """Records (or updates) a member of staff in the directory: who tasks may go to."""
        values = {
            "id": staff_id,
            "roles": ",".join(sorted(roles)),
            "schools": ",".join(sorted(schools)),
            "seen_at": datetime.now(UTC),
        }
        insert_ = self._insert(StaffRow).values(values)
        await self._execute(
            insert_.on_conflict_do_update(
                index_elements=[StaffRow.id],
                set_={
                    "roles": insert_.excluded.roles,
                    "schools": insert_.excluded.schools,
                    "seen_at": insert_.excluded.seen_at,
                },
            )
        )

    async def staff_member(self, staff_id: str) -> StaffRow | None:
        return await self._first(select(StaffRow).where(StaffRow.id == staff_id))

    async def list_access(self, case_number: str) -> list[AccessLogRow]:
        """Every access-log entry about one case, oldest first (for the data subject)."""
        query = (
            select(AccessLogRow)
            .where(AccessLogRow.case_number == case_number)
            .order_by(AccessLogRow.at, AccessLogRow.id)
        )
        return await self._all(query)

    async def save_participant_details(
        self,
        workflow_id: str,
        case_number: str,
        details: Mapping[str, tuple[str, str | None]],
    ) -> None:
        """Name and contact details behind pseudonyms (P1 → (name, contact)); replaces both."""
        if not details:
            return
        now = datetime.now(UTC)
        insert_ = self._insert(ParticipantRow).values(
            [
                {
                    "workflow_id": workflow_id,
                    "case_number": case_number,
                    "pseudonym": pseudonym,
                    "name": name,
                    "contact": contact,
                    "updated_at": now,
                }
                for pseudonym, (name, contact) in details.items()
            ]
        )
        statement = insert_.on_conflict_do_update(
            index_elements=[ParticipantRow.workflow_id, ParticipantRow.pseudonym],
            set_={
                "name": insert_.excluded.name,
                "contact": insert_.excluded.contact,
                "updated_at": insert_.excluded.updated_at,
            },
        )
        await self._execute(statement)

    async def participant_rows(self, workflow_id: str) -> list[ParticipantRow]:
        query = (
            select(ParticipantRow)
            .where(ParticipantRow.workflow_id == workflow_id)
            .order_by(ParticipantRow.pseudonym)
        )
        return await self._all(query)

    async def inbox(
        self,
        *,
        roles: Collection[str] | None,
        schools: Collection[str] | None,
        assignee: str | None = None,
        everywhere_roles: Collection[str] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[TaskRow]:
        """Open tasks, earliest deadline first: of `roles` (None: any) at `schools` (None: any),
        of `everywhere_roles` at any school, and those assigned to `assignee` at `schools`."""
        at_schools = true() if schools is None else TaskRow.school_id.in_(list(schools))
        mine = and_(true() if roles is None else TaskRow.role.in_(list(roles)), at_schools)
        visible = [mine]
        if everywhere_roles:
            visible.append(TaskRow.role.in_(list(everywhere_roles)))
        if assignee is not None:
            visible.append(and_(TaskRow.assignee == assignee, at_schools))
        query = (
            select(TaskRow)
            .where(TaskRow.status == TaskStatus.OPEN.value, or_(*visible))
            .order_by(TaskRow.due_at, TaskRow.id)
            .limit(limit)
            .offset(offset)
        )
        return await self._all(query)

    async def ping(self) -> None:
        """Raises unless the database answers (readiness)."""
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    # --- retention (the scheduled sweep) -------------------------------------------------

    async def apply_retention(
        self, cutoff: datetime, *, dry_run: bool, at: datetime | None = None
    ) -> list[RetentionCaseEntry]:
        """Removes the personal data of every case that ended (closed or withdrawn) before
        `cutoff` and is not anonymised yet; returns what was removed, case by case.

        Removed: participants (names, contact details); free texts of the timeline that may
        name someone (replaced by ANONYMISED_TEXT); staff ids and written reasons on every
        event; the tasks' guidance (it holds the drafted note with the facts), assignee and
        completer; the case's outbox rows, sent or not. Kept: the `cases` row (number, school,
        dates, route, severity, status), marked with `anonymised_at = at` — the statistics —
        and event kinds, times and roles, task keys, titles, statuses and deadlines.

        NOT touched: `access_log`. It is the record of who read or did what to a case, which the
        data subject is entitled to see and which is kept under its own rules; it holds ids
        only, never names or texts.

        One transaction: all of it or nothing. A case is done once marked, so a second run (or
        a retried activity) changes nothing. With `dry_run` the same report, nothing changed.
        """
        at = at or datetime.now(UTC)
        with _unwrapped_naive_datetimes():
            return await self._apply_retention(cutoff, dry_run, at)

    async def _apply_retention(
        self, cutoff: datetime, dry_run: bool, at: datetime
    ) -> list[RetentionCaseEntry]:
        async with self.engine.begin() as connection:
            if not dry_run and connection.dialect.name == "sqlite":
                # Take the write lock before reading: two sweeps at once wait for each other
                # instead of failing on a stale read.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            due = (
                select(
                    CaseRow.workflow_id,
                    CaseRow.case_number,
                    CaseRow.school_id,
                    CaseRow.status,
                    CaseRow.closed_at,
                )
                .where(
                    CaseRow.status.in_(_ENDED_STATUSES),
                    CaseRow.closed_at < cutoff,
                    CaseRow.anonymised_at.is_(None),
                )
                .order_by(CaseRow.closed_at, CaseRow.id)
            )
            if connection.dialect.name == "postgresql" and not dry_run:
                # A second sweep waits here, then finds these cases marked and skips them.
                due = due.with_for_update()
            cases = (await connection.execute(due)).all()
            ids = [case.workflow_id for case in cases]
            counts: dict[str, dict[str, int]] = {wid: {} for wid in ids}
            for chunk in _chunks(ids):
                for name, query in _retention_counts(chunk).items():
                    for workflow_id, count in (await connection.execute(query)).all():
                        counts[workflow_id][name] = count
                if not dry_run:
                    for statement in _retention_changes(chunk, at):
                        await connection.execute(statement)
        return [
            RetentionCaseEntry(
                case_number=case.case_number,
                school_id=case.school_id,
                status=case.status,
                closed_at=case.closed_at,
                **{name: counts[case.workflow_id].get(name, 0) for name in _RETENTION_COUNTS},
            )
            for case in cases
        ]


# Retention: statuses of a case that has ended, and the timeline events whose text is written
# by people (or names staff) rather than generated from the card.
_ENDED_STATUSES = (CaseStatus.CLOSED.value, CaseStatus.WITHDRAWN.value)
_FREE_TEXT_EVENTS = ("note_added", "new_incident", "rejected", "task_reassigned")
_RETENTION_COUNTS = (
    "participants_deleted",
    "timeline_texts_anonymised",
    "timeline_identities_removed",
    "tasks_cleared",
    "outbox_deleted",
)
# Well below SQLite's limit on bound parameters in one statement.
_CHUNK = 500


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _retention_counts(ids: list[str]) -> dict[str, Select[Any]]:
    def per_case(column: Any, *where: Any) -> Select[Any]:
        return select(column, func.count()).where(column.in_(ids), *where).group_by(column)

    return {
        "participants_deleted": per_case(ParticipantRow.workflow_id),
        "timeline_texts_anonymised": per_case(
            TimelineEventRow.workflow_id, TimelineEventRow.kind.in_(_FREE_TEXT_EVENTS)
        ),
        "timeline_identities_removed": per_case(
            TimelineEventRow.workflow_id,
            or_(TimelineEventRow.actor_id.is_not(None), TimelineEventRow.reason.is_not(None)),
        ),
        "tasks_cleared": per_case(TaskRow.workflow_id),
        "outbox_deleted": per_case(OutboxRow.workflow_id),
    }


def _retention_changes(ids: list[str], at: datetime) -> list[Any]:
    return [
        delete(ParticipantRow).where(ParticipantRow.workflow_id.in_(ids)),
        update(TimelineEventRow)
        .where(TimelineEventRow.workflow_id.in_(ids), TimelineEventRow.kind.in_(_FREE_TEXT_EVENTS))
        .values(text=ANONYMISED_TEXT),
        update(TimelineEventRow)
        .where(TimelineEventRow.workflow_id.in_(ids))
        .values(actor_id=None, reason=None),
        update(TaskRow)
        .where(TaskRow.workflow_id.in_(ids))
        .values(guidance=ANONYMISED_TEXT, assignee=None, completed_by=None),
        delete(OutboxRow).where(OutboxRow.workflow_id.in_(ids)),
        update(CaseRow)
        .where(CaseRow.workflow_id.in_(ids), CaseRow.anonymised_at.is_(None))
        .values(anonymised_at=at),
    ]


def _claimable_outbox(now: datetime) -> tuple[Any, ...]:
    """Not sent, not claimed by a live dispatcher, and due: new (no error yet) or its retry
    time has come. A row with an error and no retry time has failed for good."""
    return (
        OutboxRow.sent_at.is_(None),
        or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
        or_(
            and_(OutboxRow.next_attempt_at.is_(None), OutboxRow.last_error.is_(None)),
            OutboxRow.next_attempt_at <= now,
        ),
    )


async def _to_the_end(write: Awaitable[None]) -> None:
    """Awaits a write on its thread; if the caller is cancelled (the activity timed out), still
    waits for the thread before giving up its turn: a thread cannot be stopped, and a batch it
    committed after the retry or the next batch would overwrite newer rows with older ones."""
    running = asyncio.ensure_future(write)
    try:
        await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await running
        raise


def _write_all(engine: Engine, steps: Sequence[Step]) -> None:
    with engine.begin() as connection:
        for statement, parameters in steps:
            connection.execute(statement, parameters)


@contextmanager
def _unwrapped_naive_datetimes() -> Iterator[None]:
    # SQLAlchemy wraps errors of bind processing in StatementError; callers want ours.
    try:
        yield
    except StatementError as exc:
        if isinstance(exc.orig, NaiveDatetimeError):
            raise exc.orig from exc
        raise


def _event_rows(
    workflow_id: str, case_number: str, events: Sequence[Any], run_id: str | None
) -> list[dict[str, Any]]:
    return [
        {
            "workflow_id": workflow_id,
            "case_number": case_number,
            "seq": event.seq,
            "at": event.at,
            "kind": event.kind.value,
            "text": event.text,
            "actor_id": event.actor.id if event.actor else None,
            "actor_role": event.actor.role.value if event.actor else None,
            "task_id": event.task_id,
            "reason": event.reason,
            "run_id": run_id,
        }
        for event in events
    ]
