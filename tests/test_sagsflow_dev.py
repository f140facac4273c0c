"""`sagsflow dev`, the README's run command, as a user runs it: one process that brings up the
Temporal dev server with its Web UI, the worker and the HTTP API; a case opened with the CLI is
in the UI; SIGTERM stops everything; started again on the same data folder, the case is still
there and a timer that came due while it was down fires.

Free ports instead of 7233/8233/8000, so the suite can run beside a developer's own
`sagsflow dev`; the defaults themselves are checked against the README below.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client

from cli.dev import DevOptions
from core.codec import PayloadKeys, data_converter
from core.devserver import ensure_port_free
from procedure.loader import DEFAULT_CARD
from schemas.snapshot import CaseSnapshot, EventKind
from tests.casekit import TEACHER, decision
from tests.clikit import Zygote
from tests.conftest import binary
from tests.test_dev_server import free_port
from workflows.case import DigitalViolationCase

SAGSFLOW = binary("sagsflow")
NAME = "Astrid Testesen"
# Long enough to stop before it is due (the stop comes 2-3 s after the underretning on an idle
# machine, so 5x headroom), short enough to wait for: the test waits it out once.
RECEIPT_SECONDS = 11


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """A user's shell: no keys configured (`sagsflow dev` makes its own), a card on which the
    municipality's underretning receipt is due after RECEIPT_SECONDS."""
    card = yaml.safe_load(DEFAULT_CARD.with_name("demo.yaml").read_text(encoding="utf-8"))
    card["version"] = "dev-restart-test"
    card["timers"]["underretning_receipt_within"] = {"seconds": RECEIPT_SECONDS}
    card["tasks"]["report.underretning_receipt"]["deadline"] = {"seconds": RECEIPT_SECONDS}
    path = tmp_path / "card.yaml"
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SAGSFLOW_", "TEMPORAL_", "DATABASE_URL"))
    }
    return env | {
        "SAGSFLOW_PROCEDURE_FILE": str(path),
        "COLUMNS": "250",
        "SAGSFLOW_LOG_FORMAT": "json",
    }


class Dev:
    """One `sagsflow dev` process on fixed free ports and a data folder."""

    def __init__(
        self, data_dir: Path, env: dict[str, str], ports: tuple[int, int, int], cli: Zygote
    ) -> None:
        self.data_dir, self.env, self._cli = data_dir, env, cli
        self.port, self.ui_port, self.api_port = ports
        self.output = data_dir.parent / "dev-output.txt"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> subprocess.Popen[bytes]:
        with self.output.open("ab") as out:
            process = subprocess.Popen(
                [
                    SAGSFLOW,
                    "dev",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.port),
                    "--ui-port",
                    str(self.ui_port),
                    "--api-port",
                    str(self.api_port),
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir.parent,
            )
        deadline = time.monotonic() + 90
        while "sagsflow dev kører" not in self.text().rsplit("Farvel", 1)[-1]:
            if process.poll() is not None:
                raise AssertionError(f"sagsflow dev exited {process.returncode}:\n{self.text()}")
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"sagsflow dev did not come up:\n{self.text()}")
            time.sleep(0.2)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(f"sagsflow dev did not stop on SIGTERM:\n{self.text()}") from None
        assert code == 0, self.text()
        assert self.text().rstrip().endswith("sagsflow dev stopped. Goodbye!"), self.text()

    def text(self) -> str:
        return (
            self.output.read_text(encoding="utf-8", errors="replace")
            if (self.output.exists())
            else ""
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `sagsflow` CLI beside it, configured as its table says."""
        env = self.env | {
            "TEMPORAL_ADDRESS": self.address,
            "SAGSFLOW_PAYLOAD_KEYS_FILE": str(self.data_dir / "payload-keys.json"),
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.data_dir / 'sagsflow.db'}",
        }
        ran = self._cli.run_sync(args, env, timeout=60)
        return subprocess.CompletedProcess(["sagsflow", *args], ran.code, ran.stdout, ran.stderr)

    async def client(self) -> Client:
        keys = PayloadKeys.from_file(self.data_dir / "payload-keys.json")
        return await Client.connect(self.address, data_converter=data_converter(keys))


@contextmanager
def running(dev: Dev) -> Iterator[subprocess.Popen[bytes]]:
    process = dev.start()
    try:
        yield process
    finally:
        if process.poll() is None:
            dev.stop(process)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


async def wait_for(client: Client, case_number: str, predicate, what: str) -> CaseSnapshot:
    handle = client.get_workflow_handle(f"case-{case_number}")
    deadline = time.monotonic() + 60
    while True:
        snap = await handle.query(DigitalViolationCase.snapshot)
        if predicate(snap):
            return snap
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}: {snap.phase} {[t.task_id for t in snap.open_tasks]}"
            )
        await asyncio.sleep(0.2)


async def submit(
    client: Client, case_number: str, key: str, reason: str | None = None, **overrides: object
) -> None:
    snap = await wait_for(
        client, case_number, lambda s: any(t.key == key for t in s.open_tasks), f"{key} to open"
    )
    view = next(t for t in snap.open_tasks if t.key == key)
    completion = {
        "task_key": key,
        "task_id": view.task_id,
        "actor": TEACHER.model_dump(mode="json"),
        "decision": decision(key, datetime.now(UTC), **overrides),
    }
    if reason:
        completion["reason"] = reason
    await client.get_workflow_handle(f"case-{case_number}").execute_update(
        DigitalViolationCase.submit_task, completion
    )


def test_the_readme_defaults_are_the_documented_ports() -> None:
    options = DevOptions()
    assert (options.port, options.ui_port, options.api_port) == (7233, 8233, 8000)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "make dev" in readme and ":8233" in readme


def as_an_earlier_version_left_it(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o755)
    (data_dir / "old.log").write_text("", encoding="utf-8")


def modes(data_dir: Path) -> tuple[int, dict[str, int]]:
    """The data folder's mode and each file's."""
    files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data_dir.iterdir()}
    return stat.S_IMODE(data_dir.stat().st_mode), files


@pytest.mark.slow
async def test_sagsflow_dev_runs_everything_and_a_case_survives_a_restart(
    data_dir: Path, environment: dict[str, str], sagsflow_cli: Zygote
) -> None:
    dev = Dev(data_dir, environment, (free_port(), free_port(), free_port()), sagsflow_cli)
    case_number = f"DEV-{uuid.uuid4().hex[:6].upper()}"
    as_an_earlier_version_left_it(data_dir)

    with running(dev) as first:
        table = dev.text()
        for row in (
            f"127.0.0.1:{dev.port}",
            f"http://127.0.0.1:{dev.ui_port}",
            f"http://127.0.0.1:{dev.api_port}/api/v1",
            "payload-keys.json  (ny / new)",
        ):
            assert row in table, table
        # Issue 15, finding 6: the folder holds children's names (sagsflow.db), tokens and
        # keys: 0700, and every file in it readable by its owner only.
        folder, files = modes(data_dir)
        assert folder == 0o700
        assert "sagsflow.db" in files and "tokens.yaml" in files, files
        assert {name: mode for name, mode in files.items() if mode & 0o077} == {}
        # A second `sagsflow dev` on the same ports says so and starts nothing.
        clash = dev.cli(
            "dev",
            "--data-dir",
            str(data_dir.parent / "other"),
            "--port",
            str(dev.port),
            "--ui-port",
            str(free_port()),
            "--api-port",
            str(free_port()),
        )
        assert clash.returncode == 1 and str(dev.port) in clash.stderr, clash
        assert "--port" in clash.stderr

        opened = dev.cli(
            "case",
            "open",
            "--case-number",
            case_number,
            "--school",
            "vibeke-skolen",
            "--opened-by",
            TEACHER.id,
            "--violation",
            "harassment",
            "--participant",
            f"P1:victim:14:same:{NAME}",
            "--participant",
            "P2:offender:15:same",
        )
        assert opened.returncode == 0, opened.stdout + opened.stderr

        # The Web UI answers and lists the case (through the UI's own API, as its page does).
        status, page = await asyncio.to_thread(get, f"http://127.0.0.1:{dev.ui_port}/")
        assert status == 200 and b"<html" in page.lower()
        query = urllib.parse.quote(f"WorkflowId='case-{case_number}'")
        _, listed = await asyncio.to_thread(
            get, f"http://127.0.0.1:{dev.ui_port}/api/v1/namespaces/default/workflows?query={query}"
        )
        assert f"case-{case_number}".encode() in listed
        # The API is up, and the worker runs the case.
        status, health = await asyncio.to_thread(
            get, f"http://127.0.0.1:{dev.api_port}/api/v1/health"
        )
        assert status == 200, health
        client = await dev.client()
        await submit(client, case_number, "assess.uncover")
        await submit(
            client,
            case_number,
            "assess.evaluate",
            underretning=True,
            reason="Bekymring for P1's trivsel i hjemmet",
        )
        await submit(client, case_number, "report.underretning")
        submitted = time.monotonic()
        snap = await wait_for(
            client,
            case_number,
            lambda s: any(t.key == "report.underretning_receipt" for t in s.open_tasks),
            "the receipt task",
        )
        receipt_due = next(
            t.due_at for t in snap.open_tasks if t.key == "report.underretning_receipt"
        )
        dev.stop(first)
    assert time.monotonic() - submitted < RECEIPT_SECONDS, "stopped too late to prove anything"
    stopped_at = datetime.now(UTC)
    assert stopped_at < receipt_due
    # Everything is down: every port is free again (the Temporal binary is gone too).
    for port in (dev.port, dev.ui_port, dev.api_port):
        ensure_port_free("127.0.0.1", port, "test", "--port")
    with pytest.raises(OSError):  # urllib's URLError: the connection is refused
        await asyncio.to_thread(get, f"http://127.0.0.1:{dev.ui_port}/")

    with running(dev):
        assert "payload-keys.json  (ny / new)" not in dev.text().rsplit("Farvel", 1)[-1]
        listed = dev.cli("case", "list", "--school", "vibeke-skolen", "--json")
        assert listed.returncode == 0 and case_number in listed.stdout, listed
        client = await dev.client()
        # The receipt came due while everything was down: its timer fires now.
        snap = await wait_for(
            client,
            case_number,
            lambda s: any(t.key == "report.underretning_follow_up" for t in s.open_tasks),
            "the missing-receipt follow-up after the restart",
        )
        missing = next(e for e in snap.timeline if e.kind == EventKind.RECEIPT_MISSING)
        assert missing.at >= receipt_due > stopped_at
        shown = dev.cli("case", "show", case_number, "--json")
        assert shown.returncode == 0 and "report.underretning_follow_up" in shown.stdout

    # No name in what sagsflow dev printed or logged (the name went to the store only).
    assert NAME not in dev.text()
    assert NAME not in json.dumps(listed.stdout)


@pytest.mark.slow
def test_a_taken_api_port_is_refused_before_anything_starts(
    data_dir: Path, environment: dict[str, str], sagsflow_cli: Zygote
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        api_port = taken.getsockname()[1]
        dev = Dev(data_dir, environment, (free_port(), free_port(), api_port), sagsflow_cli)
        result = dev.cli(
            "dev",
            "--data-dir",
            str(data_dir),
            "--port",
            str(dev.port),
            "--ui-port",
            str(dev.ui_port),
            "--api-port",
            str(api_port),
        )
    assert result.returncode == 1, result
    assert str(api_port) in result.stderr and "--api-port" in result.stderr
    # Nothing was started: no Temporal database in the data folder.
    assert not (data_dir / "temporal.db").exists()
