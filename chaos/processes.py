"""The two processes the suite breaks: the Temporal dev server and the sagsflow worker.

Both run as real child processes in their own process group, so a kill hits exactly what we
started (and whatever it started), and both can be killed with SIGKILL or SIGTERM and started
again. The server restarts on the SAME SQLite file and ports, as a crashed production server
comes back on its database. Every wait here is bounded: a harness that hangs is useless in CI.

`ChildProcesses.kill_all()` is the last line of defence (atexit, Ctrl-C): it SIGKILLs every
process group this suite ever started and has not yet seen exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from core.devserver import DevServer, die_with_parent
from driver.net import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 40.0  # server or worker start on a loaded 2-core machine
STOP_TIMEOUT = 15.0  # SIGTERM → exit; the worker's graceful shutdown allows 10 s
# Variables of the parent that must not leak into the children: the suite sets its own.
_CLEARED_PREFIXES = ("TEMPORAL_", "SAGSFLOW_", "DATABASE_URL", "OTEL_")


def clean_environment(**extra: str) -> dict[str, str]:
    """The parent's environment without Temporal/sagsflow settings, plus `extra`.

    A developer's TEMPORAL_ADDRESS or TLS variables would otherwise point a child elsewhere.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEARED_PREFIXES)}
    env.update(extra)
    return env


class ChildProcesses:
    """Every process group the suite started, for the final SIGKILL."""

    live: set[int] = set()

    @classmethod
    def add(cls, pid: int) -> None:
        cls.live.add(pid)

    @classmethod
    def discard(cls, pid: int) -> None:
        cls.live.discard(pid)

    @classmethod
    def kill_all(cls) -> None:
        for pgid in list(cls.live):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            cls.live.discard(pgid)


atexit.register(ChildProcesses.kill_all)


@dataclass
class Child:
    """One child process in its own process group, its output appended to a log file."""

    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    cwd: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    # Set when the suite itself stopped the process, so the supervisor does not count it as a
    # crash (and does not restart it behind the fault injector's back).
    stopped_on_purpose: bool = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def spawn(self) -> None:
        self.starts += 1
        self.stopped_on_purpose = False
        with self.log_path.open("ab") as log:
            log.write(
                f"\n--- start #{self.starts} at {time.strftime('%H:%M:%S')}: "
                f"{' '.join(self.command)}\n".encode()
            )
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=str(self.cwd),
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        ChildProcesses.add(self.process.pid)

    async def kill(self, sig: signal.Signals, timeout: float = STOP_TIMEOUT) -> float:
        """Signal the whole group and wait (bounded) for the exit; returns seconds it took.

        A process that ignores SIGTERM past `timeout` gets SIGKILL: the fault was "terminate",
        but a stop that never ends would stall the run.
        """
        process = self.process
        if process is None or process.returncode is not None:
            return 0.0
        self.stopped_on_purpose = True
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), 5)
        # Anything left in the group (children of the child) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        ChildProcesses.discard(process.pid)
        return time.monotonic() - started

    async def stop(self) -> None:
        await self.kill(signal.SIGTERM)


class TemporalServer(Child):
    """`temporal server start-dev` on a fixed SQLite file and fixed ports.

    The command line is `core.devserver.DevServer`'s (same flags, same search attributes). The
    search attributes are registered by `--search-attribute` when the file is created; a
    restart on the same file keeps them.
    """

    def __init__(self, work_dir: Path) -> None:
        self.port = free_port()
        self.http_port = free_port()
        self.namespace = "default"
        spec = DevServer(
            work_dir, port=self.port, http_port=self.http_port, headless=True, log_level="error"
        )
        super().__init__(
            name="temporal",
            command=spec.command(),
            log_path=work_dir / "temporal.log",
            env=clean_environment(),
            cwd=work_dir,
        )
        self.db_path = spec.db_path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, timeout: float = START_TIMEOUT) -> float:
        """Start and wait until the frontend answers a health check; returns seconds."""
        started = time.monotonic()
        await self.spawn()
        deadline = started + timeout
        while True:
            if not self.running:
                raise RuntimeError(
                    f"the Temporal dev server exited while starting; see {self.log_path}"
                )
            try:
                client = await asyncio.wait_for(
                    Client.connect(self.address, namespace=self.namespace), 5
                )
                if await asyncio.wait_for(client.service_client.check_health(), 5):
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001, S110 - not listening yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Temporal dev server did not answer within {timeout} s; "
                    f"see {self.log_path}"
                )
            await asyncio.sleep(0.25)


class WorkerProcess(Child):
    """`python -m workers`, configured by environment like a production worker."""

    def __init__(
        self,
        work_dir: Path,
        server: TemporalServer,
        database_url: str,
        keys_file: Path,
        task_queue: str,
    ) -> None:
        env = clean_environment(
            TEMPORAL_ADDRESS=server.address,
            TEMPORAL_NAMESPACE=server.namespace,
            SAGSFLOW_TASK_QUEUE=task_queue,
            DATABASE_URL=database_url,
            SAGSFLOW_PAYLOAD_KEYS_FILE=str(keys_file),
            SAGSFLOW_LOG_FORMAT="console",
            SAGSFLOW_LOG_LEVEL="INFO",
            # The retention schedule is another workflow; it has no part in this suite.
            SAGSFLOW_RETENTION_SCHEDULE="off",
            PYTHONPATH=str(PROJECT_ROOT),
            PYTHONUNBUFFERED="1",
        )
        super().__init__(
            name="worker",
            command=[sys.executable, "-m", "workers"],
            log_path=work_dir / "worker.log",
            env=env,
            # Not the project folder: its ./data/ defaults must never be picked up.
            cwd=work_dir,
        )


@dataclass
class Supervisor:
    """Restarts the worker when it dies on its own (e.g. it could not reach a restarting
    server), as systemd or Kubernetes would; counts those restarts."""

    worker: WorkerProcess
    crash_restarts: int = 0
    paused: bool = False
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="worker-supervisor")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.paused or self.worker.running or self.worker.stopped_on_purpose:
                continue
            if self.worker.process is not None:
                ChildProcesses.discard(self.worker.process.pid)
            self.crash_restarts += 1
            await asyncio.sleep(1.0)  # a crash loop must not eat the CPU
            await self.worker.spawn()
