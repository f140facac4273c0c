"""Retention: a closed case's personal data goes after the configured period, its statistics
row stays. Time-skipping for the whole story, the store on both databases, the Schedule on the
real dev server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import select
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cli.retention import retention
from core.settings import RetentionSettings
from schemas.activities import CaseRecord
from schemas.common import CaseStatus, Phase, Route, Severity
from schemas.retention import ANONYMISED_TEXT, RetentionReport, RetentionSweepInput
from store import AccessLogRow, Store
from store.models import Base
from tests import storekit as kit
from tests.casekit import LEADER, TEACHER, case_input, running_case
from tests.test_dev_server import DevServer
from workers.retention_schedule import SCHEDULE_ID, ensure_retention_schedule, schedule_retention
from workers.worker import build_worker
from workflows.retention import RetentionSweep

CPH = ZoneInfo("Europe/Copenhagen")
# The story below runs on `sqlite_store`; the store's own tests on both databases.
pytestmark = pytest.mark.databases("sqlite", "postgresql")

NAMES = {
    "P1": ("Astrid Testesen", "Mor: Birgit Testesen, 20 30 40 50"),
    "P2": ("Bertram Prøvesen", None),
    "P3": ("Clara Eksempelsen", None),
}


async def all_text_in_store(store: Store) -> str:
    """Every value of every table except the access log, as one string (to search for names)."""
    values: list[str] = []
    async with store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name == "access_log":
                continue
            for row in (await connection.execute(select(table))).all():
                values.extend(str(value) for value in row)
    return "\n".join(values)


# ------------------------------------------------------------ the whole story, time-skipping


@pytest.mark.slow
async def test_a_closed_case_loses_its_personal_data_after_the_period_and_keeps_its_statistics(
    env: WorkflowEnvironment, sqlite_store: Store, task_queue: str
) -> None:
    store = sqlite_store
    case = case_input(await env.get_current_time())

    async def sweep(days: int = 30, dry_run: bool = False) -> RetentionReport:
        # In real time: waiting for a result with time skipping on lets the test server jump
        # its clock when nothing else is due (seen: 3650 days, its default workflow timeout)
        # and the sweep's "now" with it. The test moves time itself, with env.sleep, only
        # where the story says so.
        with env.auto_time_skipping_disabled():
            return await env.client.execute_workflow(
                RetentionSweep.run,
                RetentionSweepInput(retention_days=days, dry_run=dry_run),
                id=f"retention-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
            )

    async with running_case(env, store, task_queue, case) as run:
        workflow_id = run.handle.id
        await store.save_participant_details(workflow_id, case.case_number, NAMES)
        await run.wait_open("assess.uncover")
        await run.handle.signal(
            "add_note",
            {
                "author": TEACHER.model_dump(mode="json"),
                "text": "Astrid græd i frikvarteret; hendes mor har ringet",
            },
        )
        await run.handle.signal(
            "reassign_task",
            {
                "task_key": "assess.uncover",
                "by": LEADER.model_dump(mode="json"),
                "assignee": "kontaktlaerer7b",
            },
        )
        await run.complete("assess.involve_custody")
        await run.handle.signal(
            "withdraw_case",
            {
                "by": LEADER.model_dump(mode="json"),
                "reason": "Astrids forældre ønsker ikke sagen ført videre",
            },
        )
        with env.auto_time_skipping_disabled():  # see sweep()
            outcome = await run.handle.result()
        assert outcome.status == CaseStatus.WITHDRAWN

        before_case = await store.get_case(workflow_id)
        before_events = await store.list_events(workflow_id)
        before_tasks = await store.list_tasks(workflow_id=workflow_id)
        before_outbox = await store.list_outbox(workflow_id)
        assert before_case is not None and before_case.anonymised_at is None
        assert before_outbox and before_tasks and "Astrid" in await all_text_in_store(store)

        # Too recent: nothing is due yet.
        recent = await sweep()
        assert recent.cases == [] and recent.totals.cases == 0
        assert len(await store.participant_rows(workflow_id)) == 3

        await env.sleep(timedelta(days=31))

        dry = await sweep(dry_run=True)
        [entry] = dry.cases
        assert dry.dry_run and entry.case_number == case.case_number
        assert (entry.status, entry.closed_at) == ("withdrawn", before_case.closed_at)
        free_text = {"note_added", "task_reassigned", "rejected", "new_incident"}
        assert entry.participants_deleted == 3
        assert (
            entry.timeline_texts_anonymised == sum(e.kind in free_text for e in before_events) == 2
        )
        assert entry.timeline_identities_removed == sum(
            e.actor_id is not None or e.reason is not None for e in before_events
        )
        # uncover, custody (one per child: P1, P2), action plan
        assert entry.tasks_cleared == len(before_tasks) == 4
        assert entry.outbox_deleted == len(before_outbox)
        # A dry run changes nothing.
        assert len(await store.participant_rows(workflow_id)) == 3
        assert [e.text for e in await store.list_events(workflow_id)] == [
            e.text for e in before_events
        ]
        assert (await store.get_case(workflow_id)).anonymised_at is None

        applied = await sweep()
        assert not applied.dry_run
        assert applied.cases == dry.cases and applied.totals == dry.totals

        # Personal data gone ...
        assert await store.participant_rows(workflow_id) == []
        assert await store.list_outbox(workflow_id) == []
        events = await store.list_events(workflow_id)
        assert [(e.seq, e.kind, e.at, e.actor_role) for e in events] == [
            (e.seq, e.kind, e.at, e.actor_role) for e in before_events
        ]
        assert all(e.actor_id is None and e.reason is None for e in events)
        assert [e.text for e in events if e.kind in free_text] == [ANONYMISED_TEXT] * 2
        tasks = await store.list_tasks(workflow_id=workflow_id)
        assert [(t.task_id, t.status, t.due_at) for t in tasks] == [
            (t.task_id, t.status, t.due_at) for t in before_tasks
        ]
        assert all(
            t.guidance == ANONYMISED_TEXT and t.assignee is None and t.completed_by is None
            for t in tasks
        )
        text = await all_text_in_store(store)
        for name, contact in NAMES.values():
            assert name.split()[0] not in text and (contact is None or contact not in text)
        assert "kontaktlaerer7b" not in text and TEACHER.id not in text

        # ... the statistics row kept, marked.
        after = await store.get_case(workflow_id)
        assert after is not None and after.anonymised_at == applied.as_of
        keep = (
            "case_number",
            "school_id",
            "status",
            "route",
            "severity",
            "phase",
            "opened_at",
            "closed_at",
        )
        assert {k: getattr(after, k) for k in keep} == {k: getattr(before_case, k) for k in keep}

        # Running again changes nothing.
        again = await sweep()
        assert again.cases == [] and (await store.get_case(workflow_id)).anonymised_at == (
            applied.as_of
        )


# --------------------------------------------------------------- the store, both databases


@dataclass
class Seeded:
    case_number: str
    workflow_id: str


async def seed(
    store: Store, case_number: str, status: CaseStatus, closed_at: datetime | None
) -> Seeded:
    """A case with everything personal the store can hold about it, and an access-log entry."""
    workflow_id = kit.workflow_id(case_number)
    await store.upsert_case(
        CaseRecord(
            workflow_id=workflow_id,
            case_number=case_number,
            school_id=kit.SCHOOL,
            phase=Phase.CLOSE,
            status=status,
            route=Route.INTERNAL,
            severity=Severity.MEDIUM,
            opened_at=kit.T0,
            closed_at=closed_at,
        )
    )
    task = kit.open_task(case_number).model_copy(
        update={"guidance": "Udkast til notat: Astrid (P1) blev hængt ud i 7.b"}
    )
    await store.open_task(task)
    await store.update_task_flags(
        kit.reminded(case_number).model_copy(update={"assignee": "kontaktlaerer7b"})
    )
    await store.close_task(kit.close_task(case_number))
    await store.append_events(kit.timeline(case_number))  # three notes by staff "ab"
    await store.enqueue_notification(kit.notification(case_number))
    await store.save_participant_details(workflow_id, case_number, NAMES)
    await store.record_access(
        at=kit.T0,
        actor_id="ab",
        actor_roles=["case_owner"],
        action="read_case",
        case_number=case_number,
        purpose="sagsbehandling",
        outcome="allowed",
    )
    return Seeded(case_number, workflow_id)


async def personal(store: Store, seeded: Seeded) -> tuple[Any, ...]:
    """Everything personal about one case, to compare before and after."""
    return (
        [
            (p.pseudonym, p.name, p.contact)
            for p in await store.participant_rows(seeded.workflow_id)
        ],
        [(e.text, e.actor_id, e.reason) for e in await store.list_events(seeded.workflow_id)],
        [
            (t.guidance, t.assignee, t.completed_by)
            for t in await store.list_tasks(workflow_id=seeded.workflow_id)
        ],
        [o.key for o in await store.list_outbox(seeded.workflow_id)],
    )


async def access_log(store: Store) -> list[tuple[Any, ...]]:
    async with store.engine.connect() as connection:
        rows = (await connection.execute(select(AccessLogRow).order_by(AccessLogRow.id))).all()
    return [tuple(row) for row in rows]


@pytest.mark.slow
async def test_apply_retention_respects_the_cutoff_and_is_idempotent(store: Store) -> None:
    cutoff = kit.T0 + timedelta(days=30)
    old = await seed(store, "2026-0100", CaseStatus.CLOSED, kit.T0 + timedelta(days=1))
    withdrawn = await seed(store, "2026-0101", CaseStatus.WITHDRAWN, kit.T0 + timedelta(days=2))
    recent = await seed(store, "2026-0102", CaseStatus.CLOSED, cutoff + timedelta(seconds=1))
    active = await seed(store, "2026-0103", CaseStatus.ACTIVE, None)
    everyone = (old, withdrawn, recent, active)
    before = {s.case_number: await personal(store, s) for s in everyone}
    log_before = await access_log(store)
    assert len(log_before) == 4

    dry = await store.apply_retention(cutoff, dry_run=True)
    assert [e.case_number for e in dry] == [old.case_number, withdrawn.case_number]
    assert {s.case_number: await personal(store, s) for s in everyone} == before
    assert (
        dry[0].participants_deleted,
        dry[0].timeline_texts_anonymised,
        dry[0].timeline_identities_removed,
        dry[0].tasks_cleared,
        dry[0].outbox_deleted,
    ) == (3, 3, 3, 1, 1)

    at = cutoff + timedelta(hours=1)
    assert await store.apply_retention(cutoff, dry_run=False, at=at) == dry
    for seeded in (old, withdrawn):
        assert await personal(store, seeded) == (
            [],
            [(ANONYMISED_TEXT, None, None)] * 3,
            [(ANONYMISED_TEXT, None, None)],
            [],
        )
        row = await store.get_case(seeded.workflow_id)
        assert row is not None and row.anonymised_at == at and row.opened_at == kit.T0
    for seeded in (recent, active):
        assert await personal(store, seeded) == before[seeded.case_number]
        assert (await store.get_case(seeded.workflow_id)).anonymised_at is None
    # The access log is the record of who accessed what: never touched by retention.
    assert await access_log(store) == log_before

    # A second run changes nothing; a later cutoff takes only what became due.
    assert await store.apply_retention(cutoff, dry_run=False) == []
    later = await store.apply_retention(cutoff + timedelta(days=1), dry_run=False)
    assert [e.case_number for e in later] == [recent.case_number]
    assert (await store.get_case(old.workflow_id)).anonymised_at == at
    assert await personal(store, active) == before[active.case_number]
    assert await access_log(store) == log_before


# ------------------------------------------------------------- configuration and schedule


def test_retention_settings_come_from_the_environment() -> None:
    assert RetentionSettings.from_env({}) == RetentionSettings(
        retention_days=730, dry_run=False, cron="15 2 * * *"
    )
    given = RetentionSettings.from_env(
        {
            "SAGSFLOW_RETENTION_DAYS": "365",
            "SAGSFLOW_RETENTION_DRY_RUN": "ja",
            "SAGSFLOW_RETENTION_SCHEDULE": "0 3 * * 1",
        }
    )
    assert given == RetentionSettings(retention_days=365, dry_run=True, cron="0 3 * * 1")
    assert RetentionSettings.from_env({"SAGSFLOW_RETENTION_SCHEDULE": "off"}).cron is None
    for variable, value in (
        ("SAGSFLOW_RETENTION_DAYS", "to år"),
        ("SAGSFLOW_RETENTION_DAYS", "0"),
        ("SAGSFLOW_RETENTION_DRY_RUN", "måske"),
    ):
        with pytest.raises(ValueError, match=variable):
            RetentionSettings.from_env({variable: value})


async def schedule_ids(client: Client) -> list[str]:
    # Listing is eventually consistent: wait until the schedule shows.
    for _ in range(50):
        ids = [s.id async for s in await client.list_schedules()]
        if ids:
            return ids
        await asyncio.sleep(0.1)
    return []


@pytest.mark.slow
async def test_the_schedule_is_made_once_and_follows_the_configuration(
    dev_temporal: DevServer,
) -> None:
    # The shared dev server (tests/conftest.py): nothing else there makes schedules, and this
    # test removes its own at the end.
    client = await dev_temporal.connect(data_converter=pydantic_data_converter)
    try:
        await ensure_retention_schedule(client, "sagsflow-cases", 730, False)
        handle = client.get_schedule_handle(SCHEDULE_ID)
        await handle.pause(note="Pause under databaseflytning")
        # A worker restart with a new configuration: updated, not made twice, pause kept.
        await schedule_retention(
            client,
            "sagsflow-cases",
            RetentionSettings(retention_days=365, dry_run=True, cron="30 3 * * *"),
        )
        assert await schedule_ids(client) == [SCHEDULE_ID]

        description = await handle.describe()
        described = description.schedule
        action = described.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("RetentionSweep", "sagsflow-cases")
        [sweep] = await client.data_converter.decode(action.args, [RetentionSweepInput])
        assert sweep == RetentionSweepInput(retention_days=365, dry_run=True)
        assert described.spec.time_zone_name == "Europe/Copenhagen"
        # The server keeps the cron string in its calendar form; next runs at 03:30 local time.
        assert [
            ([r.start for r in c.hour], [r.start for r in c.minute])
            for c in described.spec.calendars
        ] == [([3], [30])]
        assert described.policy.overlap.name == "SKIP"
        assert described.state.paused and described.state.note == "Pause under databaseflytning"
        await handle.unpause()
        upcoming = (await handle.describe()).info.next_action_times
        assert upcoming and {t.astimezone(CPH).strftime("%H:%M") for t in upcoming} == {"03:30"}

        # `off`: this worker leaves the schedule alone.
        assert (
            await schedule_retention(client, "sagsflow-cases", RetentionSettings(cron=None)) is None
        )
        assert (await handle.describe()).schedule.action.args == action.args
    finally:
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(SCHEDULE_ID).delete()


async def test_a_server_without_schedules_does_not_stop_the_worker(
    env: WorkflowEnvironment, task_queue: str
) -> None:
    # The time-skipping test server has no schedules: the worker still starts.
    assert await schedule_retention(env.client, task_queue, RetentionSettings()) is None


@pytest.mark.slow
async def test_the_cli_reports_a_dry_run_and_applies_on_request(
    env: WorkflowEnvironment,
    sqlite_store: Store,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", env.client.namespace)
    monkeypatch.setenv("SAGSFLOW_TASK_QUEUE", task_queue)
    monkeypatch.setenv("COLUMNS", "200")  # a wide table, whatever terminal runs the tests
    seeded = await seed(sqlite_store, "2026-0200", CaseStatus.CLOSED, kit.T0)
    app = typer.Typer()
    app.command()(retention)
    async with build_worker(env.client, sqlite_store, task_queue):
        dry = await asyncio.to_thread(CliRunner().invoke, app, ["--days", "30"])
        assert dry.exit_code == 0, dry.output
        assert "Prøvekørsel" in dry.output and "2026-0200" in dry.output
        assert "Astrid" not in dry.output
        assert len(await sqlite_store.participant_rows(seeded.workflow_id)) == 3
        applied = await asyncio.to_thread(
            CliRunner().invoke, app, ["--apply", "--days", "30", "--json"]
        )
        assert applied.exit_code == 0, applied.output
    # The worker runs in this process: its log lines share the captured output.
    report = RetentionReport.model_validate_json(applied.output[applied.output.index("{\n") :])
    assert not report.dry_run and [c.case_number for c in report.cases] == ["2026-0200"]
    assert await sqlite_store.participant_rows(seeded.workflow_id) == []
