"""`sagsflow` commands in their own processes, without paying the program's imports each time.

A `sagsflow` process spends about 1.2 s of CPU importing Temporal, SQLAlchemy, pydantic and typer
before its command runs; the tests run dozens of commands. A *zygote* process imports `cli.main`
and the modules its commands load once (importing starts no thread, so forking is safe), then
forks one child per command. The child is a process of its own, as the installed program is: its
own environment and argv, stdout and stderr into files, stdin from /dev/null, its exit status as
the result, and `cli.main:app` — the console script's entry point — as what runs.
`tests/test_cli_startup.py` runs the installed program itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_ZYGOTE = r"""
import json, os, sys
import cli.main
# What the commands import when they run (the program imports them lazily, so that `--help`
# stays fast): imported here once, not in every child. None of them reads the environment or
# starts a thread when imported, so each child still sees only its own environment.
import cli.cases, cli.render, cli.service, cli.tasks, core.connection, core.settings
import service.cases, store

for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.environ.clear()
            os.environ.update(request["env"])
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(err, 2)
            sys.stdin = open(0, closefd=False)
            sys.argv = ["sagsflow", *request["args"]]
            try:
                cli.main.app()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
"""


def case_open_args(
    number: str, school: str = "vibeke-skolen", participants: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """`sagsflow case open` of a harassment case opened by lhj, with these `--participant`s."""
    args = ("case", "open", "--case-number", number, "--school", school, "--opened-by", "lhj")
    args += ("--violation", "harassment")
    for participant in participants:
        args += ("--participant", participant)
    return args


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Zygote:
    """Runs `sagsflow` commands one at a time, from synchronous or asynchronous tests alike;
    `close()` when done. Test processes share one (the `sagsflow_cli` fixture)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._turn = threading.Lock()
        self._folder = Path(tempfile.mkdtemp(prefix="sagsflow-cli-"))

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        return self._process

    def run_sync(self, args: tuple[str, ...], env: dict[str, str], timeout: float = 75) -> Ran:
        with self._turn:
            process = self._started()
            assert process.stdin is not None and process.stdout is not None
            out, err = self._folder / "stdout", self._folder / "stderr"
            began = time.monotonic()
            request = {"args": list(args), "env": env, "stdout": str(out), "stderr": str(err)}
            process.stdin.write((json.dumps(request) + "\n").encode())
            process.stdin.flush()
            pid = json.loads(process.stdout.readline())["pid"]
            # The zygote answers when the child has ended; past the timeout the child is killed,
            # which ends the wait for that answer.
            timer = threading.Timer(timeout, os.kill, (pid, signal.SIGKILL))
            timer.start()
            try:
                code = json.loads(process.stdout.readline())["code"]
            finally:
                timer.cancel()
            if code == -signal.SIGKILL and time.monotonic() - began >= timeout:
                raise AssertionError(f"sagsflow {' '.join(args)} ran past {timeout} s")
            return Ran(code, out.read_text(), err.read_text(), time.monotonic() - began)

    async def run(self, args: tuple[str, ...], env: dict[str, str], timeout: float = 75) -> Ran:
        return await asyncio.to_thread(self.run_sync, args, env, timeout)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(30)
        for name in ("stdout", "stderr"):
            (self._folder / name).unlink(missing_ok=True)
        self._folder.rmdir()
