"""The store on both databases: migrations, idempotent writes, aware datetimes, inbox queries."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from schemas.activities import EffectBatch, StoreSync, TaskState
from schemas.common import Phase, StaffRole, TaskStatus
from store import NaiveDatetimeError, Store
from store.migrate import alembic_config
from store.models import Base
from tests import storekit as kit

TABLES = {"cases", "tasks", "timeline_events", "outbox"}

pytestmark = [pytest.mark.slow, pytest.mark.databases("sqlite", "postgresql")]


def _schema_state(connection: Connection) -> tuple[set[str], str | None, list[object]]:
    tables = set(inspect(connection).get_table_names())
    context = MigrationContext.configure(connection)
    return tables, context.get_current_revision(), compare_metadata(context, Base.metadata)


async def test_create_schema_on_an_empty_database_matches_the_models(database_url: str) -> None:
    store = Store.from_url(database_url)
    try:
        await store.create_schema()
        await store.create_schema()  # already at head: nothing to do, no error
        async with store.engine.connect() as connection:
            tables, revision, differences = await connection.run_sync(_schema_state)
    finally:
        await store.dispose()
    assert TABLES | {"alembic_version"} <= tables
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert differences == [], "the migrations and the models disagree"


def test_the_alembic_command_migrates_an_empty_postgresql_database_to_the_models(
    postgres_url: str,
) -> None:
    """What a developer runs (README of alembic.ini): `alembic upgrade head` with DATABASE_URL,
    then `alembic check`, which autogenerates against the models and must find nothing."""
    root = Path(__file__).parent.parent
    alembic = str(Path(sys.executable).parent / "alembic")
    env = {**os.environ, "DATABASE_URL": postgres_url}

    def run(*command: str) -> str:
        result = subprocess.run(
            [alembic, *command],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    run("upgrade", "head")
    assert "No new upgrade operations detected" in run("check")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"{head} (head)" in run("current")


async def test_concurrent_schema_creation_is_safe(database_url: str) -> None:
    stores = [Store.from_url(database_url) for _ in range(3)]
    try:
        # All three to the end, even if one fails: none may run on into the next test.
        results = await asyncio.gather(
            *(store.create_schema() for store in stores), return_exceptions=True
        )
        assert results == [None] * 3
        assert await stores[0].list_tasks() == []
    finally:
        for store in stores:
            await store.dispose()


async def test_processes_starting_at_once_on_a_new_database_all_migrate_it(
    database_url: str,
) -> None:
    """Worker, API and a CLI starting together on an empty database, as after a deploy: each
    process migrates on start; the database's own lock lets one create the tables, the others
    find them at head."""
    script = (
        "import asyncio, sys; from store import Store; "
        "asyncio.run(Store.from_url(sys.argv[1]).create_schema())"
    )
    root = Path(__file__).parent.parent
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            database_url,
            cwd=root,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in ("worker", "api", "cli")
    ]
    outputs = await asyncio.gather(*(p.communicate() for p in processes))
    assert [p.returncode for p in processes] == [0] * 3, [o[0].decode()[-2000:] for o in outputs]
    store = Store.from_url(database_url)
    try:
        async with store.engine.connect() as connection:
            tables, revision, differences = await connection.run_sync(_schema_state)
    finally:
        await store.dispose()
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert differences == []


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    store = Store.from_url(sqlite_url)
    try:
        async with store.engine.connect() as connection:
            journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await store.dispose()
    assert journal == "wal"
    assert timeout and timeout >= 5000


async def test_default_sqlite_file_gets_its_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store.from_url()
    try:
        await store.create_schema()
    finally:
        await store.dispose()
    assert (tmp_path / "data" / "sagsflow.db").is_file()


async def test_opening_a_task_twice_leaves_one_row(store: Store) -> None:
    request = kit.open_task("2026-0001")
    assert await store.open_task(request) is True
    assert await store.open_task(request) is False
    tasks = await store.list_tasks(workflow_id=request.workflow_id)
    assert [(t.task_id, t.status, t.reminded, t.escalated) for t in tasks] == [
        ("assess.uncover-1", "open", False, False)
    ]


async def test_concurrent_retries_leave_one_row_each(store: Store) -> None:
    case = "2026-0002"
    attempts = 5
    results = await asyncio.gather(
        *(store.open_task(kit.open_task(case)) for _ in range(attempts)),
        *(store.append_events(kit.timeline(case)) for _ in range(attempts)),
        *(store.enqueue_notification(kit.notification(case)) for _ in range(attempts)),
        *(store.upsert_case(kit.case_record(case)) for _ in range(attempts)),
    )
    opened, appended, queued = (
        results[:attempts],
        results[attempts : 2 * attempts],
        results[2 * attempts : 3 * attempts],
    )
    assert sorted(opened) == [False] * (attempts - 1) + [True]
    assert sorted(appended) == [0] * (attempts - 1) + [3]
    assert sorted(queued) == [False] * (attempts - 1) + [True]
    workflow = kit.workflow_id(case)
    assert len(await store.list_tasks(workflow_id=workflow)) == 1
    assert [e.seq for e in await store.list_events(workflow)] == [1, 2, 3]
    assert len(await store.list_outbox(workflow)) == 1
    assert (await store.get_case(workflow)) is not None


async def test_appending_events_is_idempotent_by_seq(store: Store) -> None:
    case = "2026-0003"
    assert await store.append_events(kit.timeline(case, range(1, 4))) == 3
    assert await store.append_events(kit.timeline(case, range(1, 4))) == 0
    assert await store.append_events(kit.timeline(case, range(3, 6))) == 2
    events = await store.list_events(kit.workflow_id(case))
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    first = events[0]
    assert (first.kind, first.actor_id, first.actor_role) == ("note_added", "ab", "case_owner")
    assert await store.list_events(kit.workflow_id("2026-9999")) == []


async def test_enqueueing_a_notification_twice_leaves_one_row(store: Store) -> None:
    request = kit.notification("2026-0004")
    assert await store.enqueue_notification(request) is True
    assert await store.enqueue_notification(request) is False
    rows = await store.list_outbox()
    assert [(r.key, r.kind, r.role, r.sent_at, r.attempts) for r in rows] == [
        (request.key, "task_opened", "case_owner", None, 0)
    ]


async def test_upserting_a_case_updates_where_it_stands(store: Store) -> None:
    case = "2026-0005"
    await store.upsert_case(kit.case_record(case, Phase.ASSESS))
    first = await store.get_case(kit.workflow_id(case))
    await store.upsert_case(kit.case_record(case, Phase.DOCUMENT))
    second = await store.get_case(kit.workflow_id(case))
    assert first is not None and second is not None
    assert (first.id, first.phase) == (second.id, "assess")
    assert second.phase == "document"
    assert second.updated_at >= first.updated_at
    assert await store.get_case(kit.workflow_id("2026-9999")) is None


async def test_closing_a_task_keeps_the_first_close(store: Store) -> None:
    case = "2026-0006"
    await store.open_task(kit.open_task(case))
    assert await store.update_task_flags(kit.reminded(case)) is True
    close = kit.close_task(case)
    assert await store.close_task(close) is True
    later = close.model_copy(update={"closed_at": close.closed_at + timedelta(hours=1)})
    assert await store.close_task(later) is False
    assert await store.update_task_flags(kit.reminded(case)) is False  # closed: inbox unchanged
    [task] = await store.list_tasks(workflow_id=kit.workflow_id(case))
    assert (task.status, task.closed_at, task.completed_by, task.reminded) == (
        "done",
        close.closed_at,
        "ab",
        True,
    )


async def test_datetimes_are_stored_aware_and_read_back_in_utc(store: Store) -> None:
    copenhagen = datetime(2026, 7, 1, 14, 5, 6, 789_000, tzinfo=ZoneInfo("Europe/Copenhagen"))
    request = kit.open_task("2026-0007").model_copy(
        update={"opened_at": copenhagen, "due_at": copenhagen + timedelta(days=2)}
    )
    await store.open_task(request)
    [task] = await store.list_tasks(workflow_id=request.workflow_id)
    assert task.opened_at == copenhagen
    assert task.opened_at.tzinfo is UTC and task.due_at.tzinfo is UTC
    assert task.opened_at.hour == 12  # 14:05 summer time in Copenhagen is 12:05 UTC
    assert task.due_at == copenhagen + timedelta(days=2)
    assert task.closed_at is None


async def test_naive_datetimes_are_rejected(store: Store) -> None:
    naive = kit.open_task("2026-0008").model_copy(update={"due_at": datetime(2026, 3, 3, 9, 0)})
    with pytest.raises(NaiveDatetimeError):
        await store.open_task(naive)
    assert await store.list_tasks(workflow_id=naive.workflow_id) == []


async def test_inbox_lists_by_deadline_and_filters(store: Store) -> None:
    case_a, case_b = "2026-0010", "2026-0011"
    await store.open_task(kit.open_task(case_a, "assess.uncover-1", due_in=timedelta(days=3)))
    await store.open_task(
        kit.open_task(
            case_a,
            "assess.involve_leadership-1",
            due_in=timedelta(hours=2),
            role=StaffRole.LEADERSHIP,
        )
    )
    await store.open_task(
        kit.open_task(case_b, "assess.uncover-1", due_in=timedelta(days=1), school_id="ny-skole")
    )
    await store.close_task(kit.close_task(case_b, "assess.uncover-1"))

    everything = await store.list_tasks()
    assert [(t.case_number, t.task_id) for t in everything] == [
        (case_a, "assess.involve_leadership-1"),
        (case_b, "assess.uncover-1"),
        (case_a, "assess.uncover-1"),
    ]
    open_ones = await store.list_tasks(status=TaskStatus.OPEN)
    assert [t.task_id for t in open_ones] == ["assess.involve_leadership-1", "assess.uncover-1"]
    assert [t.task_id for t in await store.list_tasks(role=StaffRole.LEADERSHIP)] == [
        "assess.involve_leadership-1"
    ]
    assert [t.case_number for t in await store.list_tasks(school_id="ny-skole")] == [case_b]
    assert [t.task_id for t in await store.list_tasks(workflow_id=kit.workflow_id(case_a))] == [
        "assess.involve_leadership-1",
        "assess.uncover-1",
    ]
    assert await store.list_tasks(status="done", school_id=kit.SCHOOL) == []


async def test_task_states_are_a_case_inbox_by_deadline_with_aware_times(store: Store) -> None:
    case_a, case_b = "2026-0012", "2026-0013"
    await store.open_task(kit.open_task(case_a, "assess.uncover-1", due_in=timedelta(days=3)))
    await store.open_task(
        kit.open_task(case_a, "assess.involve_tk-1", due_in=timedelta(hours=2), role=StaffRole.TK)
    )
    await store.open_task(kit.open_task(case_b, "assess.uncover-1", due_in=timedelta(days=1)))
    await store.close_task(kit.close_task(case_a, "assess.uncover-1"))

    states = await store.task_states(kit.workflow_id(case_a))
    assert [(s.task_id, s.key, s.role, s.status) for s in states] == [
        ("assess.involve_tk-1", "assess.involve_tk", "tk", "open"),
        ("assess.uncover-1", "assess.uncover", "case_owner", "done"),
    ]
    full = await store.list_tasks(workflow_id=kit.workflow_id(case_a))
    assert [s.due_at for s in states] == [t.due_at for t in full]
    assert all(s.due_at.tzinfo is not None for s in states)


async def test_participant_names_are_kept_per_case_and_can_be_corrected(store: Store) -> None:
    await store.save_participant_names("case-A", "A", {"P1": "Anna Jensen", "P2": "Bo Holm"})
    await store.save_participant_names("case-B", "B", {"P1": "Carl Berg"})
    await store.save_participant_names("case-A", "A", {"P2": "Bo Holm-Nielsen"})
    assert await store.participant_names("case-A") == {"P1": "Anna Jensen", "P2": "Bo Holm-Nielsen"}
    assert await store.participant_names("case-B") == {"P1": "Carl Berg"}
    assert await store.participant_names("case-C") == {}


def effect_batch(case_number: str, seq: int = 1, **items: Any) -> EffectBatch:
    return EffectBatch(
        workflow_id=kit.workflow_id(case_number), case_number=case_number, seq=seq, **items
    )


async def test_an_effect_batch_is_one_transaction_and_applying_it_again_changes_nothing(
    store: Store,
) -> None:
    case = "2026-0010"
    batch = effect_batch(
        case,
        case=kit.case_record(case),
        opened=[kit.open_task(case)],
        flags=[kit.reminded(case)],
        events=kit.timeline(case).events,
        notifications=[kit.notification(case)],
    )
    await store.apply_effects(batch)
    await store.apply_effects(batch)  # a retried attempt
    workflow = kit.workflow_id(case)
    [task] = await store.list_tasks(workflow_id=workflow)
    assert (task.task_id, task.status, task.reminded) == ("assess.uncover-1", "open", True)
    assert [e.seq for e in await store.list_events(workflow)] == [1, 2, 3]
    assert len(await store.list_outbox(workflow)) == 1
    assert (await store.get_case(workflow)) is not None

    # The next batch closes the task; one with a bad item writes none of its items.
    closing = effect_batch(
        case, 2, closed=[kit.close_task(case)], events=kit.timeline(case, range(4, 5)).events
    )
    broken = closing.model_copy(
        update={"events": [closing.events[0].model_copy(update={"at": datetime(2026, 3, 3, 9, 0)})]}
    )
    with pytest.raises(NaiveDatetimeError):
        await store.apply_effects(broken)
    [task] = await store.list_tasks(workflow_id=workflow)
    assert task.status == "open"  # the close in the same batch was rolled back
    await store.apply_effects(closing)
    [task] = await store.list_tasks(workflow_id=workflow)
    assert task.status == "done"
    assert [e.seq for e in await store.list_events(workflow)] == [1, 2, 3, 4]


async def test_a_recomputed_batch_overwrites_what_a_lost_attempt_wrote(store: Store) -> None:
    """A local activity can run in a workflow task that is then lost; the attempt that is
    recorded may number the timeline differently. The store ends as the recorded one says."""
    case = "2026-0011"
    lost = kit.timeline(case, range(1, 3)).events
    await store.apply_effects(effect_batch(case, events=lost, opened=[kit.open_task(case)]))
    recorded_events = [e.model_copy(update={"text": f"recorded {e.seq}"}) for e in lost]
    later_due = kit.open_task(case).model_copy(
        update={"due_at": kit.open_task(case).due_at + timedelta(minutes=1)}
    )
    await store.apply_effects(effect_batch(case, events=recorded_events, opened=[later_due]))
    events = await store.list_events(kit.workflow_id(case))
    assert [e.text for e in events] == ["recorded 1", "recorded 2"]
    [task] = await store.list_tasks(workflow_id=kit.workflow_id(case))
    assert task.due_at == later_due.due_at


async def test_a_sync_brings_the_store_in_line_with_the_run(store: Store) -> None:
    """After a reset (or a lost workflow task), the run's first live write carries the whole
    case: rows only an earlier run wrote go, closed tasks take the run's state and times."""
    case = "2026-0012"
    workflow = kit.workflow_id(case)
    kept, dropped = kit.open_task(case, "assess.uncover"), kit.open_task(case, "assess.evaluate")
    await store.apply_effects(
        effect_batch(
            case,
            opened=[kept, dropped],
            events=kit.timeline(case, range(1, 6)).events,
            notifications=[kit.notification(case, "assess.evaluate"), kit.notification(case)],
        )
    )
    await store.close_task(kit.close_task(case, "assess.uncover"))  # the old run closed it
    sync = StoreSync(
        tasks=[TaskState(task_id=kept.task_id, status=TaskStatus.OPEN, due_at=kept.due_at)],
        timeline_length=3,
        notification_keys=[kit.notification(case).key],
    )
    await store.apply_effects(effect_batch(case, 2, run_id="run-2", sync=sync))
    [task] = await store.list_tasks(workflow_id=workflow)
    assert (task.task_id, task.status, task.closed_at, task.completed_by) == (
        "assess.uncover",
        "open",
        None,
        None,
    )
    assert [e.seq for e in await store.list_events(workflow)] == [1, 2, 3]
    assert [r.key for r in await store.list_outbox(workflow)] == [kit.notification(case).key]


async def test_a_write_given_up_on_never_lands_after_the_next_one(sqlite_url: str) -> None:
    """A store activity that times out is cancelled while its batch waits for SQLite's lock
    (held here by another process's writer). Its retry and the next batch come after it, so
    whatever the abandoned attempt still commits can never overwrite the newer state."""
    import sqlite3

    store = Store.from_url(sqlite_url)
    await store.create_schema()
    case = "2026-0042"
    try:
        await store.apply_effects(effect_batch(case, case=kit.case_record(case, Phase.ASSESS)))
        other = sqlite3.connect(sqlite_url.split("///", 1)[1], timeout=30)
        other.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's one write lock
        older = asyncio.create_task(
            store.apply_effects(effect_batch(case, 2, case=kit.case_record(case, Phase.DOCUMENT)))
        )
        # Long enough that SQLite's busy wait for it polls at its slowest (every 100 ms).
        await asyncio.sleep(1.0)
        older.cancel()  # the activity's timeout: the worker gives up on this attempt
        newer = asyncio.create_task(
            store.apply_effects(
                effect_batch(case, 3, case=kit.case_record(case, Phase.STOP_REPORT))
            )
        )
        await asyncio.sleep(0.05)
        other.rollback()  # the lock is free: both waiting batches may now write
        other.close()
        await newer
        with pytest.raises(asyncio.CancelledError):
            await older
        await asyncio.sleep(0.5)  # anything still in flight has landed by now
        row = await store.get_case(kit.workflow_id(case))
        assert row is not None and row.phase == Phase.STOP_REPORT.value
    finally:
        await store.dispose()
