"""An operator's day on the REAL dev server: a case opened with `sagsflow case open`, found
with `temporal workflow list`, moved on with the stock `temporal workflow signal`, read with
`temporal workflow describe` and in the Web UI's API — and no participant's name anywhere in
Temporal or the worker's log."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from schemas.snapshot import CaseSnapshot
from tests.casekit import LEADER, TEACHER, decision
from tests.clikit import Zygote
from tests.conftest import binary
from tests.test_dev_server import dev_server, free_port
from workflows.case import DigitalViolationCase

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

TEMPORAL = binary("temporal")
NAMES = {"P1": "Astrid Testesen", "P2": "Bertram Prøvesen", "P3": "Clara Eksempelsen"}
SCHOOL = "integrationsskolen"


@dataclass
class Platform:
    address: str
    ui_url: str
    env: dict[str, str]
    worker_log: Path
    server_log: Path
    client: Client
    cli: Zygote

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    async def sagsflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        ran = await self.cli.run(args, self.env, timeout=60)
        return subprocess.CompletedProcess(["sagsflow", *args], ran.code, ran.stdout, ran.stderr)

    async def temporal(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(self.run, TEMPORAL, *args, "--address", self.address)

    async def snapshot(self, case_number: str) -> CaseSnapshot:
        handle = self.client.get_workflow_handle(f"case-{case_number}")
        return await handle.query(DigitalViolationCase.snapshot)

    async def wait_for(self, case_number: str, predicate, what: str) -> CaseSnapshot:
        for _ in range(300):
            snap = await self.snapshot(case_number)
            if predicate(snap):
                return snap
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, "the worker did not shut down cleanly"


@pytest.fixture(scope="module")
async def platform(
    tmp_path_factory: pytest.TempPathFactory, sagsflow_cli: Zygote
) -> AsyncIterator[Platform]:
    data = tmp_path_factory.mktemp("dev")
    server = dev_server(data)
    async with server:
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": server.address,
            "TEMPORAL_NAMESPACE": "default",
            "SAGSFLOW_TASK_QUEUE": f"it-{uuid.uuid4().hex[:8]}",
            "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'sagsflow.db'}",
            "SAGSFLOW_LOG_FORMAT": "json",
        }
        log = data / "worker.log"
        worker = start_worker(env, log)
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        try:
            assert server.ui_url is not None
            yield Platform(
                server.address, server.ui_url, env, log, data / "temporal.log", client, sagsflow_cli
            )
        finally:
            stop_worker(worker)


async def open_case(platform: Platform, case_number: str, *extra: str) -> None:
    participants = [
        f"P1:victim:14:same:{NAMES['P1']}",
        f"P2:offender:15:same:{NAMES['P2']}",
        f"P3:witness:14:same:{NAMES['P3']}",
    ]
    args = [
        "case",
        "open",
        "--case-number",
        case_number,
        "--school",
        SCHOOL,
        "--opened-by",
        TEACHER.id,
        "--violation",
        "harassment",
    ]
    for participant in participants:
        args += ["--participant", participant]
    result = await platform.sagsflow(*args, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"case-{case_number}" in result.stdout
    assert not any(name in result.stdout for name in NAMES.values())


async def signal_completion(platform: Platform, case_number: str, key: str, actor=TEACHER) -> None:
    """Complete a task exactly as an operator would, with the stock Temporal CLI."""
    await platform.wait_for(
        case_number, lambda s: any(t.key == key for t in s.open_tasks), f"{key} to open"
    )
    body = {
        "task_key": key,
        "actor": actor.model_dump(mode="json"),
        "decision": decision(key, datetime.now(UTC)),
    }
    result = await platform.temporal(
        "workflow",
        "signal",
        "--workflow-id",
        f"case-{case_number}",
        "--name",
        "complete_task",
        "--input",
        json.dumps(body),
    )
    assert result.returncode == 0, result.stderr


def decoded_payloads(document: Any) -> str:
    """Every payload's data in a JSON document (history, describe), decoded to text."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "metadata" in node and isinstance(node.get("data"), str):
                found.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return "\n".join(found)


def leaked_names(text: str) -> list[str]:
    return [
        name
        for name in NAMES.values()
        if name in text or name.encode("unicode_escape").decode() in text
    ]


async def test_an_operator_finds_signals_and_reads_a_case_with_stock_tools(
    platform: Platform,
) -> None:
    case_number = f"IT-{uuid.uuid4().hex[:6].upper()}"
    await open_case(platform, case_number)

    # Through assessment with `temporal workflow signal --name complete_task`.
    await signal_completion(platform, case_number, "assess.involve_custody", LEADER)
    await signal_completion(platform, case_number, "assess.uncover")
    await signal_completion(platform, case_number, "assess.evaluate")
    await signal_completion(platform, case_number, "assess.involve_leadership", LEADER)
    await signal_completion(platform, case_number, "assess.involve_tk")
    await platform.wait_for(case_number, lambda s: s.phase == "document", "phase document")

    # Found by search attributes, as the operator guide says.
    query = f"CasePhase='document' AND SchoolId='{SCHOOL}'"
    found = None
    for _ in range(50):  # visibility is eventually consistent
        listed = await platform.temporal("workflow", "list", "--query", query, "--output", "json")
        assert listed.returncode == 0, listed.stderr
        if f"case-{case_number}" in listed.stdout:
            found = listed.stdout
            break
        await asyncio.sleep(0.2)
    assert found is not None, "temporal workflow list did not find the case in phase document"

    # The static summary shows in `temporal workflow describe`, in Danish, without names.
    described = await platform.temporal(
        "workflow", "describe", "--workflow-id", f"case-{case_number}"
    )
    assert described.returncode == 0, described.stderr
    assert f"Sag {case_number} · {SCHOOL} · chikane" in described.stdout

    # The Web UI lists it (the UI's own API, which its pages call).
    url = f"{platform.ui_url}/api/v1/namespaces/default/workflows?query=" + urllib.parse.quote(
        f"WorkflowId='case-{case_number}'"
    )
    page = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    assert f"case-{case_number}".encode() in page

    # No participant's name in search attributes, the history or any log line.
    described_json = await platform.temporal(
        "workflow", "describe", "--workflow-id", f"case-{case_number}", "--output", "json"
    )
    info = json.loads(described_json.stdout)["workflowExecutionInfo"]
    attributes = decoded_payloads(info["searchAttributes"])
    assert SCHOOL in attributes and "document" in attributes
    assert leaked_names(attributes) == []
    history = await platform.temporal(
        "workflow", "show", "--workflow-id", f"case-{case_number}", "--output", "json"
    )
    assert history.returncode == 0, history.stderr
    payloads = decoded_payloads(json.loads(history.stdout))
    assert "assess.uncover" in payloads and "P1" in payloads  # decoding worked
    # The case's story in Danish without opening a payload: activity and timer summaries ...
    # (one store write per step names what it did; the case's one timer names the next
    # deadline)
    assert "Åbn opgave: Afdæk: Få et overblik" in payloads
    assert "Frist: Afdæk: Få et overblik" in payloads
    assert "Luk opgave: assess.evaluate" in payloads
    # ... and the current details, which follow the phase.
    metadata = await platform.temporal(
        "workflow", "metadata", "--workflow-id", f"case-{case_number}"
    )
    assert metadata.returncode == 0, metadata.stderr
    assert f"Sag {case_number}" in metadata.stdout and "Fase: Dokumenter" in metadata.stdout
    assert leaked_names(metadata.stdout) == []
    assert leaked_names(payloads) == []
    assert leaked_names(platform.worker_log.read_text()) == []
    assert leaked_names(platform.server_log.read_text()) == []
    # The names are in the store, where they belong.
    from store import Store

    store = Store.from_url(platform.env["DATABASE_URL"])
    try:
        assert await store.participant_names(f"case-{case_number}") == NAMES
    finally:
        await store.dispose()


async def test_cases_and_their_timers_survive_a_restart_of_everything(
    tmp_path: Path, sagsflow_cli: Zygote
) -> None:
    """Stop the dev server and the worker mid-case; start both again on the same data: the
    case is still there and its durable timer still fires (the demo card's 5 s evaluation)."""
    case_number = f"RS-{uuid.uuid4().hex[:6].upper()}"
    queue = f"rs-{uuid.uuid4().hex[:8]}"
    port, ui_port = free_port(), free_port()

    async def phase_one(platform: Platform) -> None:
        await open_case(platform, case_number, "--procedure-version", "demo")
        for key, actor in [
            ("assess.involve_custody", LEADER),
            ("assess.uncover", TEACHER),
            ("assess.evaluate", TEACHER),
            ("assess.involve_leadership", LEADER),
            ("assess.involve_tk", TEACHER),
            ("document.preserve", TEACHER),
            ("document.note", TEACHER),
            ("stop.cooperate", TEACHER),
            ("stop.action_plan", LEADER),
            ("report.insurance", TEACHER),
            ("treat.help", TEACHER),
            ("treat.surroundings", TEACHER),
            ("treat.same_school", LEADER),
        ]:
            await signal_completion(platform, case_number, key, actor)
        # The evaluation's timer runs once the treat tasks are done.
        snap = await platform.wait_for(
            case_number, lambda s: s.next_timer is not None, "the evaluation timer"
        )
        assert snap.phase == "treat" and snap.next_timer is not None
        assert snap.next_timer.what == "Evaluering"
        assert "close.evaluate" not in {t.key for t in snap.open_tasks}

    async def phase_two(platform: Platform) -> None:
        listed = await platform.sagsflow("case", "list", "--school", SCHOOL, "--json")
        assert listed.returncode == 0, listed.stderr
        assert case_number in listed.stdout
        snap = await platform.wait_for(
            case_number,
            lambda s: any(t.key == "close.evaluate" for t in s.open_tasks),
            "the evaluation timer to fire after the restart",
        )
        assert snap.phase == "close"

    for phase in (phase_one, phase_two):
        server = dev_server(tmp_path, port=port, ui_port=ui_port, headless=True)
        async with server:
            env = {
                **os.environ,
                "TEMPORAL_ADDRESS": server.address,
                "SAGSFLOW_TASK_QUEUE": queue,
                "SAGSFLOW_LOG_FORMAT": "json",
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sagsflow.db'}",
            }
            worker = start_worker(env, tmp_path / "worker.log")
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            try:
                await phase(
                    Platform(
                        server.address,
                        "",
                        env,
                        tmp_path / "worker.log",
                        tmp_path / "temporal.log",
                        client,
                        sagsflow_cli,
                    )
                )
            finally:
                stop_worker(worker)
