"""`sagsflow case …`, `task …` and `demo` against a REAL dev server and a worker.

The commands run in processes of their own, with the connection in the environment, as staff
and operators run them: forked from a process that has imported the program once
(tests/clikit.py), and the first test through the installed `sagsflow` program itself. The
worker runs in this process. Cases a test only needs as a starting point are opened through
CaseService directly.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from typer.testing import CliRunner

import cli.main
from core.connection import connect_client
from core.settings import Settings
from procedure import loader
from schemas.case import CaseInput
from schemas.common import CaseStatus
from schemas.snapshot import CaseOutcome, CaseSnapshot, EventKind
from service.cases import CaseService
from store import Store
from tests.casekit import LEADER, TEACHER, case_input, decision
from tests.clikit import Ran, Zygote, case_open_args
from tests.conftest import binary
from tests.test_dev_server import dev_server
from workers.worker import build_worker

SAGSFLOW = binary("sagsflow")
NAME = "Astrid Testesen"
GOOD_UNCOVER = {
    "what": "P2 har skrevet nedsættende kommentarer om P1 i en klassegruppe",
    "where": "Snapchat, klassegruppe 7.b",
    "involved": ["P1", "P2"],
    "sexual_material_of_minor": False,
    "material_online": False,
}


@dataclass
class Platform:
    env: dict[str, str]
    client: Client
    store: Store
    service: CaseService
    zygote: Zygote

    async def sagsflow(self, *args: str, **env: str) -> Ran:
        return await self.zygote.run(args, {**self.env, **env})

    async def installed_sagsflow(self, *args: str, **env: str) -> Ran:
        """The same command through the installed program (its console script)."""
        began = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            SAGSFLOW,
            *args,
            env={**self.env, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=75)
        assert process.returncode is not None
        return Ran(process.returncode, stdout.decode(), stderr.decode(), time.monotonic() - began)

    async def open(self, school: str = "vibeke-skolen", **changes: Any) -> CaseInput:
        case = case_input(datetime.now(UTC)).model_copy(update={"school_id": school, **changes})
        await self.service.open_case(case)
        return case

    async def snapshot(self, case_number: str) -> CaseSnapshot:
        return await self.service.snapshot(case_number)

    async def wait_for(
        self, case_number: str, predicate: Callable[[CaseSnapshot], bool], what: str
    ) -> CaseSnapshot:
        for _ in range(150):
            snap = await self.snapshot(case_number)
            if predicate(snap):
                return snap
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    async def wait_open(self, case_number: str, key: str) -> CaseSnapshot:
        return await self.wait_for(
            case_number, lambda s: any(t.key == key for t in s.open_tasks), f"{key} to open"
        )

    async def complete(self, case_number: str, key: str, actor=TEACHER) -> None:
        await self.wait_open(case_number, key)
        await self.service.submit_task(
            case_number,
            {
                "task_key": key,
                "actor": actor.model_dump(mode="json"),
                "decision": decision(key, datetime.now(UTC)),
            },
        )

    async def wait_inbox(self, case_number: str, task_id: str) -> None:
        for _ in range(150):
            rows = await self.store.list_tasks(workflow_id=f"case-{case_number}")
            if any(row.task_id == task_id for row in rows):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{task_id} never reached the inbox")

    async def wait_listed(self, query: str, count: int) -> None:
        """Visibility is eventually consistent: wait until Temporal's list shows the cases."""
        for _ in range(100):
            found = [w async for w in self.client.list_workflows(query)]
            if len(found) == count:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"visibility never showed {count} for {query}")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def platform(
    tmp_path_factory: pytest.TempPathFactory, sagsflow_cli: Zygote
) -> AsyncIterator[Platform]:
    data: Path = tmp_path_factory.mktemp("cli")
    async with dev_server(data, headless=True) as server:
        settings = Settings(
            temporal_address=server.address,
            temporal_namespace=server.namespace,
            task_queue=f"cli-{uuid.uuid4().hex[:8]}",
            database_url=f"sqlite+aiosqlite:///{data / 'sagsflow.db'}",
        )
        client = await connect_client(settings)
        store = Store.from_url(settings.database_url)
        await store.create_schema()
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "SAGSFLOW_TASK_QUEUE": settings.task_queue,
            "DATABASE_URL": settings.database_url,
        }
        env.pop("SAGSFLOW_PROCEDURE_FILE", None)
        env.pop("COLUMNS", None)
        try:
            async with build_worker(client, store, settings.task_queue):
                service = CaseService(client, store, settings.task_queue)
                yield Platform(env, client, store, service, sagsflow_cli)
        finally:
            await store.dispose()


def new_number(prefix: str = "CLI") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


# ------------------------------------------------------------------------ without a server


@pytest.mark.parametrize(
    "args",
    [
        ["case", "--address", "127.0.0.1:1", "list"],
        ["case", "show", "X", "--address", "127.0.0.1:1"],
    ],
)
def test_address_on_the_group_or_the_command_and_a_clean_error_when_unreachable(
    args: list[str],
) -> None:
    result = CliRunner().invoke(cli.main.app, args)
    assert result.exit_code == 1, result.output
    assert "Kan ikke forbinde til Temporal på 127.0.0.1:1" in result.output
    assert "Cannot connect to Temporal at 127.0.0.1:1" in result.output


@pytest.mark.parametrize(
    ("args", "english", "danish"),
    [
        (["case", "open"], "Open a case", "Opret en sag"),
        (["task", "complete"], "Complete a task", "Udfør en opgave"),
        (["demo"], "Run a realistic case", "Kør en hel sag"),
    ],
)
def test_help_is_english_with_a_danish_line(args: list[str], english: str, danish: str) -> None:
    result = CliRunner().invoke(cli.main.app, [*args, "--help"])
    assert result.exit_code == 0
    assert english in result.output and danish in result.output


# ------------------------------------------------------------------------ case open / show


@pytest.mark.slow
async def test_case_open_then_show_lists_the_open_tasks(platform: Platform) -> None:
    number = new_number()
    opened = await platform.installed_sagsflow(
        "case",
        "open",
        "--case-number",
        number,
        "--school",
        "vibeke-skolen",
        "--opened-by",
        "lhj",
        "--violation",
        "harassment",
        "--participant",
        f"P1:victim:14:same:{NAME}",
        "--participant",
        "P2:offender:15:other",
    )
    assert opened.code == 0, opened.output
    assert f"case-{number}" in opened.stdout
    assert "oprettet" in opened.stdout and "opened" in opened.stdout
    assert NAME not in opened.output
    # The name went to the store, and only there.
    assert await platform.store.participant_names(f"case-{number}") == {"P1": NAME}

    await platform.wait_open(number, "assess.uncover")
    await platform.wait_open(number, "assess.involve_custody")
    shown, as_json = await asyncio.gather(
        platform.installed_sagsflow("case", "show", number),
        platform.sagsflow("case", "show", number, "--json"),
    )
    assert shown.code == 0, shown.output
    for expected in (
        "assess.uncover",
        "assess.involve_custody",
        "Afdæk",
        "Vurder (assess)",
        "Tidslinje / timeline",
        "case_opened",
        # The card's "ER DU FORTSAT I TVIVL, SÅ KONTAKT" (issue 13, finding 6).
        "Er du fortsat i tvivl",
        "43 57 75 55",
        "TK@ishoj.dk",
    ):
        assert expected in shown.stdout, expected
    assert NAME not in shown.output
    assert as_json.code == 0, as_json.output
    snap = CaseSnapshot.model_validate_json(as_json.stdout)
    assert {t.key for t in snap.open_tasks} == {
        "assess.uncover",
        "assess.involve_custody",
        "stop.action_plan",
    }
    assert snap.procedure_version != "demo"


@pytest.mark.slow
async def test_invalid_input_names_the_field_and_exits_2(platform: Platform) -> None:
    opening = (*case_open_args(new_number()), "--participant")
    bad_pseudonym, bad_format, unknown_case = await asyncio.gather(
        platform.sagsflow(*opening, "Anna:victim:14:same"),
        platform.sagsflow(*opening, "P2:offender:15"),
        platform.sagsflow("case", "show", "NO-SUCH-CASE"),
    )
    assert bad_pseudonym.code == 2, bad_pseudonym.output
    assert "participants.0.pseudonym (--participant)" in bad_pseudonym.stderr
    assert "Traceback" not in bad_pseudonym.output
    assert bad_format.code == 2
    assert "PSEUDONYM:ROLE:AGE" in bad_format.stderr
    assert unknown_case.code == 1
    assert "findes ikke" in unknown_case.stderr and "does not exist" in unknown_case.stderr


@pytest.mark.slow
async def test_reported_at_in_the_future_or_long_ago_is_refused_as_the_api_refuses_it(
    platform: Platform,
) -> None:
    """Issue 13, finding 9: the CLI and the API accept the same moments; nothing is opened."""
    number = new_number()
    opening = (*case_open_args(number, participants=("P1:victim:14:same",)), "--reported-at")
    now = datetime.now(UTC)
    ahead, ancient = await asyncio.gather(
        platform.sagsflow(*opening, (now + timedelta(days=180)).isoformat()),
        platform.sagsflow(*opening, (now - timedelta(days=400)).isoformat()),
    )
    assert ahead.code == 2, ahead.output
    assert ahead.stderr.strip() == (
        "--reported-at ligger i fremtiden / --reported-at is in the future"
    ), ahead.stderr
    assert ancient.code == 2, ancient.output
    assert "mere end et år tilbage" in ancient.stderr and "more than a year ago" in ancient.stderr
    listed = [w async for w in platform.client.list_workflows(f"CaseNumber='{number}'")]
    assert listed == []


# ------------------------------------------------------------------------ task complete


def complete_uncover(
    platform: Platform,
    number: str,
    decided: dict[str, Any],
    actor: str = "lhj",
    role: str = "case_owner",
) -> Awaitable[Ran]:
    """`sagsflow task complete <number> assess.uncover` with this decision."""
    return platform.sagsflow(
        "task",
        "complete",
        number,
        "assess.uncover",
        "--actor",
        actor,
        "--role",
        role,
        "--decision",
        json.dumps(decided),
    )


@pytest.mark.slow
async def test_task_complete_shows_the_rejection_then_moves_the_case_on(
    platform: Platform, tmp_path: Path
) -> None:
    case = await platform.open()
    number = case.case_number
    # The CLI acts on the inbox row (recorded state), not on what the snapshot shows.
    await platform.wait_inbox(number, "assess.uncover")

    missing, wrong_role = await asyncio.gather(
        complete_uncover(platform, number, {"what": "P2 skrev grimt om P1"}),
        complete_uncover(platform, number, GOOD_UNCOVER, actor="ako", role="leadership"),
    )
    assert missing.code == 1, missing.output
    assert "Afvist / rejected" in missing.stderr
    assert "decision.assess.uncover.where" in missing.stderr
    assert wrong_role.code == 1
    assert "udføres af rollen 'case_owner'" in wrong_role.stderr
    assert "is for role 'case_owner'" in wrong_role.stderr
    snap = await platform.snapshot(number)
    assert "assess.uncover" in {t.key for t in snap.open_tasks}  # nothing was recorded

    decision_file = tmp_path / "uncover.json"
    decision_file.write_text(json.dumps(GOOD_UNCOVER), encoding="utf-8")  # no "task": filled in
    done = await platform.sagsflow(
        "task",
        "complete",
        number,
        "assess.uncover",
        "--actor",
        "lhj",
        "--role",
        "case_owner",
        "--decision",
        f"@{decision_file}",
    )
    assert done.code == 0, done.output
    assert "Opgave udført" in done.stdout and "assess.uncover" in done.stdout
    snap = await platform.wait_open(number, "assess.evaluate")
    assert snap.recommendation is not None
    assert [t.completed_by for t in snap.done_tasks if t.key == "assess.uncover"] == [TEACHER]


# ------------------------------------------------------------------------ lists


@pytest.mark.slow
async def test_case_list_filters_by_school_and_phase(platform: Platform) -> None:
    suffix = uuid.uuid4().hex[:6]
    north, south = f"nord-{suffix}", f"syd-{suffix}"
    ahead = await platform.open(school=north)
    behind = await platform.open(school=south)
    for key, actor in (
        ("assess.uncover", TEACHER),
        ("assess.evaluate", TEACHER),
        ("assess.involve_leadership", LEADER),
        ("assess.involve_tk", TEACHER),
    ):
        await platform.complete(ahead.case_number, key, actor)
    await platform.wait_for(ahead.case_number, lambda s: s.phase == "document", "document")
    await platform.wait_listed(f"SchoolId IN ('{north}', '{south}') AND CasePhase = 'document'", 1)
    await platform.wait_listed(f"SchoolId IN ('{north}', '{south}')", 2)

    by_school, by_phase, bad = await asyncio.gather(
        platform.sagsflow("case", "list", "--school", north),
        platform.sagsflow("case", "list", "--phase", "assess", "--json"),
        platform.sagsflow("case", "list", "--phase", "somewhere"),
    )
    assert by_school.code == 0, by_school.output
    assert ahead.case_number in by_school.stdout and behind.case_number not in by_school.stdout
    assert "Dokumenter (document)" in by_school.stdout

    assert by_phase.code == 0, by_phase.output
    listed = {row["case_number"]: row for row in json.loads(by_phase.stdout)}
    assert behind.case_number in listed and ahead.case_number not in listed
    assert listed[behind.case_number]["school_id"] == south

    assert bad.code == 2


@pytest.mark.slow
async def test_task_list_is_the_inbox_by_role_and_assignee(platform: Platform) -> None:
    case = await platform.open(school=f"inbox-{uuid.uuid4().hex[:6]}")
    number = case.case_number
    await platform.wait_inbox(number, "assess.uncover")
    await platform.wait_inbox(number, "assess.involve_custody")
    await platform.wait_inbox(number, "stop.action_plan")

    leadership, table = await asyncio.gather(
        platform.sagsflow(
            "task", "list", "--role", "leadership", "--school", case.school_id, "--json"
        ),
        platform.sagsflow("task", "list", "--role", "case_owner", "--case", number),
    )
    assert leadership.code == 0, leadership.output
    rows = json.loads(leadership.stdout)
    # Leadership's inbox by deadline: custody holders of each child (24 hours), the action
    # plan (10 days).
    assert [(r["case_number"], r["task_id"]) for r in rows] == [
        (number, "assess.involve_custody"),
        (number, "assess.involve_custody-2"),
        (number, "stop.action_plan"),
    ]

    assert table.code == 0, table.output
    assert "assess.uncover" in table.stdout and "assess.involve_custody" not in table.stdout

    reassign = ("task", "reassign", number, "assess.uncover", "--by", "ako", "--role")
    # Issue 15, finding 4: only to staff the directory knows with the role at the school.
    unknown = await platform.sagsflow(*reassign, "leadership", "--assignee", "kl7b")
    assert unknown.code == 1 and "kendt medarbejder med rollen case_owner" in unknown.stderr
    await platform.store.remember_staff("kl7b", ["case_owner"], [case.school_id])
    moved = await platform.sagsflow(*reassign, "leadership", "--assignee", "kl7b")
    assert moved.code == 0, moved.output
    for _ in range(100):
        rows = await platform.store.list_tasks(workflow_id=f"case-{number}")
        if any(r.assignee == "kl7b" for r in rows):
            break
        await asyncio.sleep(0.1)
    mine = await platform.sagsflow("task", "list", "--assignee", "kl7b", "--json")
    assert [r["task_id"] for r in json.loads(mine.stdout)] == ["assess.uncover"]


# ------------------------------------------------------------------------ signals


@pytest.mark.slow
async def test_press_inquiry_opens_a_task_for_communications(platform: Platform) -> None:
    case = await platform.open()
    number = case.case_number
    await platform.wait_open(number, "assess.uncover")
    sent = await platform.sagsflow(
        "case",
        "press-inquiry",
        number,
        "--by",
        "ako",
        "--role",
        "leadership",
        "--medium",
        "Lokalavisen",
        "--summary",
        "Spørger til en sag på 7. årgang",
    )
    assert sent.code == 0, sent.output
    snap = await platform.wait_open(number, "treat.press")
    [press] = [t for t in snap.open_tasks if t.key == "treat.press"]
    assert press.role == "communications"
    assert any(e.kind == EventKind.PRESS_INQUIRY and "Lokalavisen" in e.text for e in snap.timeline)
    await platform.wait_inbox(number, "treat.press")
    inbox = await platform.sagsflow("task", "list", "--role", "communications", "--case", number)
    assert "treat.press" in inbox.stdout


@pytest.mark.slow
async def test_note_incident_and_withdraw_end_the_case(platform: Platform) -> None:
    case = await platform.open()
    number = case.case_number
    await platform.wait_open(number, "assess.uncover")

    noted, incident = await asyncio.gather(
        platform.sagsflow(
            "case",
            "note",
            number,
            "--by",
            "lhj",
            "--role",
            "case_owner",
            "--text",
            "Mor til P1 har ringet",
        ),
        platform.sagsflow(
            "case",
            "incident",
            number,
            "--by",
            "lhj",
            "--role",
            "case_owner",
            "--description",
            "Nye beskeder i gruppen",
        ),
    )
    assert noted.code == 0, noted.output
    assert incident.code == 0, incident.output
    # Issue 15, finding 5: what an operator does with the CLI, past the API, is in the access
    # log as an operator's action.
    logged = await platform.store.list_access(number)
    assert sorted((e.actor_id, e.actor_roles, e.action, e.outcome) for e in logged) == [
        ("lhj", "operator", "cli_add_note", "allowed"),
        ("lhj", "operator", "cli_new_incident", "allowed"),
    ]
    await platform.wait_for(
        number,
        lambda s: {EventKind.NOTE_ADDED, EventKind.NEW_INCIDENT} <= {e.kind for e in s.timeline},
        "the note and the incident",
    )
    withdrawn = await platform.sagsflow(
        "case",
        "withdraw",
        number,
        "--by",
        "ako",
        "--role",
        "leadership",
        "--reason",
        "Henvendelsen var grundløs",
    )
    assert withdrawn.code == 0, withdrawn.output

    handle = platform.client.get_workflow_handle(f"case-{number}", result_type=CaseOutcome)
    outcome = await asyncio.wait_for(handle.result(), 15)
    assert outcome.status == CaseStatus.WITHDRAWN
    snap = await platform.snapshot(number)
    kinds = [e.kind for e in snap.timeline]
    assert EventKind.NOTE_ADDED in kinds and EventKind.NEW_INCIDENT in kinds
    assert kinds[-1] == EventKind.CASE_WITHDRAWN
    assert snap.timeline[-1].reason == "Henvendelsen var grundløs"

    shown = await platform.sagsflow("case", "show", number)
    assert "trukket tilbage (withdrawn)" in shown.stdout


# ------------------------------------------------------------------------ demo


@pytest.mark.slow
async def test_demo_runs_a_case_through_evaluation_and_follow_ups_in_under_a_minute(
    platform: Platform,
) -> None:
    number = new_number("DEMO")
    ran = await platform.sagsflow("demo", "--case-number", number)
    assert ran.code == 0, ran.output
    assert ran.seconds < 60, f"the demo took {ran.seconds:.1f} s"
    for expected in (
        "Fase: Vurder krænkelsen",
        "Pressehenvendelse fra Lokalavisen",
        "Kommunen har ikke kvitteret for underretningen",
        "Evaluering planlagt",
        "Opgave udført: Evaluering",
        "Opfølgning 1 planlagt",
        "Opfølgning 2 planlagt",
        "sagen lukkes",
        "Sagen er afsluttet",
    ):
        assert expected in ran.stdout, expected

    snap = await platform.snapshot(number)
    assert (snap.status, snap.procedure_version) == (CaseStatus.CLOSED, "demo")
    follow_ups = [t for t in snap.done_tasks if t.key == "close.follow_up"]
    assert [t.decision["outcome"] for t in follow_ups if t.decision] == ["continue", "close"]
    assert not snap.open_tasks


@pytest.mark.slow
async def test_demo_without_a_worker_says_so_instead_of_hanging(platform: Platform) -> None:
    number = new_number("DEMO")
    ran = await platform.sagsflow(
        "demo",
        "--case-number",
        number,
        "--stall-timeout",
        "3",
        SAGSFLOW_TASK_QUEUE=f"nobody-{uuid.uuid4().hex[:6]}",
    )
    assert ran.code == 1, ran.output
    assert ran.seconds < 20
    assert "ingen worker" in ran.stderr and "no worker" in ran.stderr
    assert "Traceback" not in ran.output


@pytest.mark.slow
async def test_demo_on_a_worker_without_the_demo_card_says_why(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As an older worker would be: it knows only card.yaml.
    monkeypatch.setattr(loader, "packaged_cards", lambda: [loader.DEFAULT_CARD])
    ran = await platform.sagsflow("demo", "--case-number", new_number("DEMO"))
    assert ran.code == 1, ran.output
    assert ran.seconds < 20
    assert "the case workflow ended (failed)" in ran.stderr
    assert "procedure version 'demo' is not available" in ran.stderr


@pytest.mark.slow
async def test_a_participants_name_is_refused_through_the_cli(platform: Platform) -> None:
    """Issue 14: a note, a decision, an incident and a press inquiry naming a child are
    refused with the pseudonym to write instead, and the case records none of them."""
    number = f"NAVN-{uuid.uuid4().hex[:6].upper()}"
    opened = await platform.sagsflow(
        *case_open_args(
            number,
            participants=(
                "P1:victim:14:same:Astrid Testesen",
                "P2:offender:15:same:Bertram Prøvesen",
            ),
        )
    )
    assert opened.code == 0, opened.output
    await platform.wait_inbox(number, "assess.uncover")
    staff = ("--by", "lhj", "--role", "case_owner")
    refused = await asyncio.gather(
        platform.sagsflow("case", "note", number, *staff, "--text", "Astrid græd i timen"),
        complete_uncover(platform, number, {**GOOD_UNCOVER, "what": "BERTRAM delte billedet"}),
        platform.sagsflow(
            "case", "incident", number, *staff, "--description", "Prøvesen har skrevet igen"
        ),
        platform.sagsflow(
            "case",
            "press-inquiry",
            number,
            "--by",
            "ako",
            "--role",
            "leadership",
            "--medium",
            "Lokalavisen",
            "--summary",
            "Spørger om Astrid Testesen",
        ),
    )
    for ran, pseudonym in zip(refused, ["P1", "P2", "P2", "P1"], strict=True):
        assert ran.code == 1, ran.output
        assert f"skriv {pseudonym} i stedet" in ran.stderr, ran.output
        assert not any(part in ran.output for part in ("Astrid", "Bertram", "Prøvesen"))
    snap = await platform.snapshot(number)
    assert "assess.uncover" in {t.key for t in snap.open_tasks}
    assert not any(
        e.kind in (EventKind.NOTE_ADDED, EventKind.NEW_INCIDENT, EventKind.PRESS_INQUIRY)
        or e.kind == EventKind.REJECTED
        for e in snap.timeline
    )
    stored = " ".join(e.text for e in await platform.store.list_events(f"case-{number}"))
    assert not any(part in stored for part in ("Astrid", "Bertram", "Prøvesen"))
