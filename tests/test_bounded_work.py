"""Bounded work: a backlog of messages, and a reset, on the real dev server.

The worker is the production one (`python -m workers`) as a subprocess, so that it can be
started late and stopped with SIGTERM as an operator would.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from activities import case_activities
from driver.decisions import DEMO_VERSION, ROLE_ACTORS, case_input
from procedure.loader import load_procedure
from procedure.models import Offset, Procedure
from schemas.common import StaffRole, TaskStatus, case_workflow_id
from schemas.messages import CaseNote
from service.cases import CaseService
from store import Store
from tests.conftest import binary
from tests.test_start_and_recovery import (
    Worker,
    completion,
    new_number,
    new_queue,
    server,  # noqa: F401 - the module's dev server fixture
    sqlite_db,  # noqa: F401 - a fresh SQLite store per test, and its URL
    wait_done,
    wait_open_row,
    worker_env,
)
from workers.worker import build_worker
from workflows import continuation

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

NOTES = 800  # eight of the mailroom's slices of 100
NOTES_TO_CONTINUE = 300
# Everyday Danish, as a teacher writes a note about a phone call (no names, no material).
NOTE = (
    "Telefonsamtale med forælder til P1 kl. 14.10: familien er orienteret om forløbet, og "
    "vi aftalte at følge op i næste uge. "
) * 16

FAILED_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


async def test_a_backlog_of_notes_is_worked_off_and_the_worker_stops_cleanly(
    server,
    sqlite_db: tuple[str, Store],
    tmp_path: Path,  # noqa: F811
) -> None:
    url, store = sqlite_db
    queue = new_queue()
    service = CaseService(server.client, store, task_queue=queue)
    case = case_input(
        datetime.now(UTC), case_number=new_number("BACKLOG"), procedure_version=DEMO_VERSION
    )
    await service.open_case(case)
    author = ROLE_ACTORS[StaffRole.CASE_OWNER]
    # The worker is down while the notes arrive.
    for start in range(0, NOTES, 100):
        await asyncio.gather(
            *(
                service.add_note(case.case_number, CaseNote(author=author, text=f"{i}: {NOTE}"))
                for i in range(start, start + 100)
            )
        )

    worker = Worker(worker_env(server, queue, url), tmp_path / "worker.log")
    started = await worker.start()
    workflow_id = case_workflow_id(case.case_number)
    try:
        deadline = time.monotonic() + 120
        notes = 0
        while time.monotonic() < deadline:
            notes = sum(e.kind == "note_added" for e in await store.list_events(workflow_id))
            if notes == NOTES:
                break
            await asyncio.sleep(0.5)
        assert notes == NOTES, f"{notes} of {NOTES} notes in the store's timeline"
        took = time.monotonic() - started
    finally:
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.process.wait(), 30)
    assert code == 0, (tmp_path / "worker.log").read_text()[-2000:]

    history = await service.handle(case.case_number).fetch_history()
    failed = [e for e in history.events if e.event_type in FAILED_TASK_EVENTS]
    assert failed == [], failed[:1]
    assert took < 120
    print(f"{NOTES} queued notes in the store {took:.1f} s after the worker started")


async def test_after_a_reset_to_before_a_completion_the_store_follows_the_new_run(
    server,
    sqlite_db: tuple[str, Store],
    tmp_path: Path,  # noqa: F811
) -> None:
    url, store = sqlite_db
    queue = new_queue()
    service = CaseService(server.client, store, task_queue=queue)
    case = case_input(
        datetime.now(UTC), case_number=new_number("RESET"), procedure_version=DEMO_VERSION
    )
    workflow_id = case_workflow_id(case.case_number)
    worker = Worker(worker_env(server, queue, url), tmp_path / "worker.log")
    await worker.start()
    try:
        await service.open_case(case)
        uncover = await wait_open_row(store, case.case_number)
        while uncover.key != "assess.uncover":
            uncover = await wait_open_row(store, case.case_number, not_ids={uncover.task_id})
        # The row is written inside the workflow task that opened the task; under load that
        # task's completion reaches the history a moment later.
        completed: list[int] = []
        deadline = time.monotonic() + 20
        while not completed and time.monotonic() < deadline:
            before = await service.handle(case.case_number).fetch_history()
            completed = [
                e.event_id
                for e in before.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            ]
            if not completed:
                await asyncio.sleep(0.1)
        reset_to = max(completed)
        await service.submit_task(case.case_number, completion(uncover))
        await wait_done(store, case.case_number, uncover.task_id, 20)
        assert "assess.evaluate" in {
            r.task_id
            for r in await store.list_tasks(workflow_id=workflow_id, status=TaskStatus.OPEN)
        }

        # The operator resets to before the completion, without re-applying it ...
        reset = await asyncio.create_subprocess_exec(
            binary("temporal"),
            "workflow",
            "reset",
            "--address",
            server.address,
            "--namespace",
            server.namespace,
            "--workflow-id",
            workflow_id,
            "--event-id",
            str(reset_to),
            "--reason",
            "test: before the completion",
            "--reapply-exclude",
            "Update",
            "--yes",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(reset.communicate(), 30)
        assert reset.returncode == 0, (out + err).decode()
        # ... and notes it in the case, as the runbook says: the case's next store write
        # brings the store in line with the new run.
        await service.add_note(
            case.case_number,
            CaseNote(
                author=ROLE_ACTORS[StaffRole.CASE_OWNER],
                text="Driften har nulstillet sagen til før afdækningen blev registreret.",
            ),
        )

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            snapshot = await service.snapshot(case.case_number)
            rows = {r.task_id: r for r in await store.list_tasks(workflow_id=workflow_id)}
            events = await store.list_events(workflow_id)
            if rows.get(uncover.task_id) and rows[uncover.task_id].status == TaskStatus.OPEN:
                break
            await asyncio.sleep(0.2)
        assert {t.task_id for t in snapshot.open_tasks} == {
            r.task_id for r in rows.values() if r.status == TaskStatus.OPEN
        }
        assert "assess.evaluate" not in rows  # only the old run had opened it
        assert {t.task_id: t.due_at for t in snapshot.open_tasks} == {
            r.task_id: r.due_at for r in rows.values() if r.status == TaskStatus.OPEN
        }
        assert [(e.seq, e.kind, e.text) for e in events] == [
            (e.seq, e.kind.value, e.text) for e in snapshot.timeline
        ]
        # Every row now says it is the new run's.
        new_run = (await service.handle(case.case_number).describe()).run_id
        assert {r.run_id for r in rows.values()} == {new_run}
    finally:
        await worker.stop()


def explained(payload: dict[str, Any]) -> dict[str, Any]:
    """The demo's decisions (SSP, police, underretning) depart from this case's recommendation
    (harassment by a 15-year-old): with a reason, as staff would give one."""
    return {**payload, "reason": "Sagen følger demoens forløb"}


def one_second_timers(year: int, path: Path | None = None, version: str | None = None) -> Procedure:
    procedure = load_procedure(year, path, version)
    second = Offset(seconds=1)
    timers = procedure.spec.timers.model_copy(
        update={"evaluation_after": second, "follow_ups": [second, second]}
    )
    return procedure.model_copy(
        update={"spec": procedure.spec.model_copy(update={"timers": timers})}
    )


async def test_a_long_case_continues_as_new_and_goes_on_as_before(
    server,
    sqlite_db: tuple[str, Store],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A case continues as new once its history is long, and nothing visible changes.

    A case continues after CONTINUE_AS_NEW_AFTER events (4,000); here after 200, with the
    worker in this process, so that 300 notes make the history long enough in seconds
    rather than a minute. The hand-over is the same code at any length.
    """
    monkeypatch.setattr(continuation, "CONTINUE_AS_NEW_AFTER", 200)
    # The demo card's timers (5, 3 and 6 s) at one second each: the end of the case is the
    # same code, and the test no longer waits 11 s for the clock.
    monkeypatch.setattr(case_activities, "load_procedure", one_second_timers)
    _, store = sqlite_db
    queue = new_queue()
    service = CaseService(server.client, store, task_queue=queue)
    case = case_input(
        datetime.now(UTC), case_number=new_number("LONG"), procedure_version=DEMO_VERSION
    )
    workflow_id = case_workflow_id(case.case_number)
    handle = service.handle(case.case_number)
    async with build_worker(server.client, store, queue):
        await service.open_case(case)
        first_run = (await handle.describe()).run_id
        for _child in ("P1", "P2"):  # custody holders: one task per child, each done
            custody = await wait_open_row(store, case.case_number)
            passed: set[str] = set()
            while custody.key != "assess.involve_custody":
                passed.add(custody.task_id)
                custody = await wait_open_row(store, case.case_number, not_ids=passed)
            await service.submit_task(case.case_number, explained(completion(custody)))
        before = await service.snapshot(case.case_number)
        author = ROLE_ACTORS[StaffRole.CASE_OWNER]
        for start in range(0, NOTES_TO_CONTINUE, 100):
            await asyncio.gather(
                *(
                    service.add_note(case.case_number, CaseNote(author=author, text=f"Note {i}"))
                    for i in range(start, start + 100)
                )
            )

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            events = await store.list_events(workflow_id)
            if sum(e.kind == "note_added" for e in events) == NOTES_TO_CONTINUE:
                break
            await asyncio.sleep(0.5)
        assert sum(e.kind == "note_added" for e in events) == NOTES_TO_CONTINUE
        assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gap, no twin
        after = await service.snapshot(case.case_number)
        assert (await handle.describe()).run_id != first_run, "the case did not continue as new"

        # Nothing visible changed: the same open tasks and deadlines, phase and timer, and the
        # inbox agrees with the case.
        assert [(t.task_id, t.due_at, t.status) for t in after.open_tasks] == [
            (t.task_id, t.due_at, t.status) for t in before.open_tasks
        ]
        assert (after.phase, after.round, after.next_timer) == (
            before.phase,
            before.round,
            before.next_timer,
        )
        rows = await store.list_tasks(workflow_id=workflow_id, status=TaskStatus.OPEN)
        assert sorted((r.task_id, r.due_at) for r in rows) == sorted(
            (t.task_id, t.due_at) for t in after.open_tasks
        )
        assert after.timeline[-1].seq == events[-1].seq

        # ... and the case goes on to its end as any other.
        done: set[str] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            described = await handle.describe()
            if described.status is not None and described.status.name != "RUNNING":
                break
            open_rows = await store.list_tasks(workflow_id=workflow_id, status=TaskStatus.OPEN)
            for row in open_rows:
                if row.task_id not in done:
                    done.add(row.task_id)
                    await service.submit_task(case.case_number, explained(completion(row)))
            await asyncio.sleep(0.2)
        assert described.status is not None and described.status.name == "COMPLETED"
        assert "close.evaluate" in done

    # Both runs replay.
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    from core.codec import worker_data_converter
    from workflows.case import DigitalViolationCase

    replayer = Replayer(
        workflows=[DigitalViolationCase],
        data_converter=worker_data_converter(pydantic_data_converter),
    )
    runs = [first_run, described.run_id]
    for run_id in runs:
        history = await server.client.get_workflow_handle(
            workflow_id, run_id=run_id
        ).fetch_history()
        await replayer.replay_workflow(history)
