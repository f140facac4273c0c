"""`sagsflow dev`: everything on one machine — Temporal dev server + Web UI, worker, SQLite store.

Start order: payload keys → Temporal server → client → store (schema) → worker → extra
services (the HTTP API and its codec server on --api-port, with a demo tokens file in the data
folder if there is none). Ctrl+C or SIGTERM stops them in reverse order. All state lives in the
data folder (`temporal.db`, `sagsflow.db`, `temporal.log`, `tokens.yaml`, `payload-keys.json`),
so cases survive a restart.

Payloads are always encrypted here: without configured keys (SAGSFLOW_PAYLOAD_KEYS_FILE /
SAGSFLOW_PAYLOAD_KEYS) a key file is made in the data folder on the first start and used from
then on. The Web UI gets the API's codec server (`--ui-codec-endpoint`, default
http://127.0.0.1:<api port>/codec), so a signed-in operator reads payloads there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.table import Table
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from api.tokens import TokensFileError, write_demo_tokens
from core.apiserver import serving
from core.codec import PayloadKeyError, PayloadKeys
from core.connection import connect_client
from core.devserver import DevServer, DevServerError, ensure_port_free
from core.logs import configure_logging
from core.settings import ApiSettings, Settings
from core.shutdown import on_stop_signal, until_stopped
from core.task_queue import TASK_QUEUE
from service.cases import CaseService
from store import Store
from workers.retention_schedule import schedule_retention
from workers.worker import build_worker

PAYLOAD_KEYS_FILENAME = "payload-keys.json"
T = TypeVar("T")


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path = Path("data")
    port: int = 7233
    ui_port: int = 8233
    api_port: int = 8000  # the HTTP API
    # None: sqlite+aiosqlite:///<data_dir>/sagsflow.db (filled in on construction).
    database_url: str | None = None
    task_queue: str = TASK_QUEUE
    # The Web UI's codec server. None: the HTTP API's, http://127.0.0.1:<api_port>/codec
    # (filled in on construction); "": none.
    codec_endpoint: str | None = None
    headless: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())
        if not self.database_url:
            url = f"sqlite+aiosqlite:///{self.data_dir / 'sagsflow.db'}"
            object.__setattr__(self, "database_url", url)
        if self.codec_endpoint is None:
            endpoint = f"http://127.0.0.1:{self.api_port}/codec"
            object.__setattr__(self, "codec_endpoint", endpoint)


@dataclass(frozen=True)
class DevKeys:
    """Where this run's payload keys come from."""

    keys: PayloadKeys = field(repr=False)
    path: Path | None  # the keys file, or None when they come from SAGSFLOW_PAYLOAD_KEYS
    created: bool = False


def dev_payload_keys(options: DevOptions) -> DevKeys:
    """The configured payload keys, else `<data_dir>/payload-keys.json` (made on the first
    start, owner-only). Exports SAGSFLOW_PAYLOAD_KEYS_FILE for this process, so the worker,
    the API and its codec server all use the same file. Raises PayloadKeyError."""
    configured = PayloadKeys.from_env()
    if configured is not None:
        variable = os.environ.get("SAGSFLOW_PAYLOAD_KEYS_FILE", "").strip()
        return DevKeys(configured, Path(variable).expanduser().resolve() if variable else None)
    path = (options.data_dir / PAYLOAD_KEYS_FILENAME).resolve()
    created = not path.exists()
    if created:
        PayloadKeys.generate().write(path)
    keys = PayloadKeys.from_file(path)
    os.environ["SAGSFLOW_PAYLOAD_KEYS_FILE"] = str(path)
    return DevKeys(keys, path, created)


@dataclass(frozen=True)
class DevContext:
    """What an extra service gets: the running pieces it may use."""

    options: DevOptions
    server: DevServer
    client: Client
    store: Store
    settings: Settings = field(repr=False)


# An extra service (e.g. the HTTP API) is an async context manager factory. It runs while the
# context is entered and yields rows for the "where is everything" table, e.g.
# [("HTTP API", "http://127.0.0.1:8000")]. Services start after the worker, stop before it.
DevService = Callable[[DevContext], AbstractAsyncContextManager[Iterable[tuple[str, str]] | None]]


class _StopRequested(Exception):
    """SIGINT/SIGTERM arrived while starting up."""


async def run_dev(
    options: DevOptions,
    *,
    services: Sequence[DevService] = (),
    console: Console | None = None,
) -> None:
    """Runs until SIGINT or SIGTERM (or a fatal worker error), then stops everything."""
    console = console or Console()
    # First thing: a signal during the (up to 30 s) startup also ends in a clean stop.
    async with on_stop_signal() as stop:
        try:
            async with AsyncExitStack() as stack:
                started = await _start_everything(stack, options, services, stop, console)
                console.print(_where_everything_is(started))
                running = started.worker_task
                await until_stopped(running, stop)
                if running.done() and not stop.is_set():
                    console.print(
                        "[red]Workeren stoppede uventet / the worker stopped unexpectedly"
                    )
                console.print("Stopper … / stopping …")
        except _StopRequested:
            pass
    console.print("[bold]sagsflow dev er stoppet. Farvel! / sagsflow dev stopped. Goodbye![/]")


@dataclass
class _Started:
    server: DevServer
    options: DevOptions
    keys: DevKeys
    worker_task: asyncio.Task[None]
    extra_rows: list[tuple[str, str]]


def _private(data_dir: Path) -> None:
    """The data folder holds children's names (sagsflow.db), tokens and payload keys: only the
    user who runs `sagsflow dev` may read it. Files this process and the Temporal server create
    are 0600 (the umask), the folder 0700, and files from an earlier run are made so too."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for path in data_dir.iterdir():
        if path.is_file():
            path.chmod(0o600)


async def _start_everything(
    stack: AsyncExitStack,
    options: DevOptions,
    services: Sequence[DevService],
    stop: asyncio.Event,
    console: Console,
) -> _Started:
    _private(options.data_dir)
    # Before anything starts: a broken key configuration stops here, with its reason.
    keys = dev_payload_keys(options)
    server = DevServer(
        options.data_dir,
        port=options.port,
        ui_port=options.ui_port,
        codec_endpoint=options.codec_endpoint,
        headless=options.headless,
    )
    settings = Settings.from_env().with_overrides(
        temporal_address=server.address,
        temporal_namespace=server.namespace,
        task_queue=options.task_queue,
        database_url=options.database_url,
    )
    configure_logging(settings.log_format, settings.log_level)

    with console.status("Starter Temporal-serveren … / starting the Temporal dev server …"):
        await _unless_stopped(stack.enter_async_context(server), stop)
    stack.push_async_callback(_say, console, "Temporal-serveren er stoppet / server stopped")

    # The one place that knows the data converter: pydantic, encrypted with the keys above.
    client = await _unless_stopped(connect_client(settings), stop)
    await _unless_stopped(schedule_retention(client, settings.task_queue), stop)

    store = Store.from_url(settings.database_url)
    stack.push_async_callback(store.dispose)
    await _unless_stopped(store.create_schema(), stop)

    worker = build_worker(client, store, settings.task_queue, cached_cases=settings.cached_cases)
    worker_task = asyncio.create_task(worker.run(), name="temporal-worker")
    stack.push_async_callback(_shut_down_worker, worker, worker_task, console)

    extra_rows: list[tuple[str, str]] = []
    context = DevContext(options, server, client, store, settings)
    for service in services:
        rows = await _unless_stopped(stack.enter_async_context(service(context)), stop)
        extra_rows.extend(rows or ())
    return _Started(server, options, keys, worker_task, extra_rows)


async def _unless_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T:
    """Awaits `awaitable`, or cancels it and raises _StopRequested when a stop signal comes."""
    task = asyncio.ensure_future(awaitable)
    if await until_stopped(task, stop):
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise _StopRequested
    return task.result()


async def _shut_down_worker(worker: Worker, running: asyncio.Task[None], console: Console) -> None:
    if not running.done():
        await worker.shutdown()
    console.print("Workeren er stoppet / worker stopped")
    # Surfaces a fatal worker error, now that nothing is left running.
    await running


async def _say(console: Console, text: str) -> None:
    console.print(text)


def _where_everything_is(started: _Started) -> Table:
    server, options = started.server, started.options
    table = Table(
        title="sagsflow dev kører / is running",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    # Folded, never cut with "…": paths and the export line must be copyable in a narrow
    # terminal (or a log file, where rich assumes 80 columns).
    table.add_column(overflow="fold")
    table.add_row("Temporal frontend", server.address)
    table.add_row("Web UI", server.ui_url or "slået fra / disabled (--headless)")
    if server.ui_url and options.codec_endpoint:
        table.add_row("UI-codec / UI codec server", options.codec_endpoint)
    table.add_row("Namespace", server.namespace)
    table.add_row("Task queue", options.task_queue)
    table.add_row("Database", str(options.database_url))
    table.add_row("Datamappe / data folder", str(server.data_dir))
    table.add_row("Temporal-log / server log", str(server.log_path))
    keys = started.keys
    ids = ", ".join(keys.keys.keys)
    if keys.path is None:
        table.add_row(
            "Payload-nøgler / payload keys",
            f"SAGSFLOW_PAYLOAD_KEYS ({ids}; aktiv/active {keys.keys.active})",
        )
    else:
        table.add_row(
            "Payload-nøgler / payload keys",
            f"{keys.path}" + ("  (ny / new)" if keys.created else ""),
        )
        table.add_row(
            "CLI i en anden mappe / CLI elsewhere", f"export SAGSFLOW_PAYLOAD_KEYS_FILE={keys.path}"
        )
    for label, value in started.extra_rows:
        table.add_row(label, value)
    table.add_row("Stop", "Ctrl+C (SIGINT) eller/or SIGTERM")
    return table


def dev_tokens_file(options: DevOptions) -> tuple[Path, bool]:
    """The API's tokens file (SAGSFLOW_TOKENS_FILE, else tokens.yaml in the data folder),
    and whether it was just created with demo staff."""
    configured = os.environ.get("SAGSFLOW_TOKENS_FILE", "").strip()
    path = Path(configured).expanduser() if configured else options.data_dir / "tokens.yaml"
    if path.exists():
        return path, False
    write_demo_tokens(path)
    return path, True


@asynccontextmanager
async def http_api(context: DevContext) -> AsyncIterator[list[tuple[str, str]]]:
    """The DevService of the HTTP API: the same client and store as the worker."""
    tokens, created = dev_tokens_file(context.options)
    settings = ApiSettings.from_env().with_overrides(
        tokens_file=tokens, port=context.options.api_port
    )
    if settings.auth == "tokens":
        # The inbox's sign-in page lists the demo staff: for this machine's developer only.
        settings = settings.with_overrides(web_dev_signin=True)
    if not os.environ.get("SAGSFLOW_CODEC_CORS_ORIGINS", "").strip():
        # The dev server's own Web UI, on whichever --ui-port it runs.
        ui_port = context.server.ui_port
        settings = settings.with_overrides(
            codec_cors_origins=(f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}")
        )
    app = create_app(
        settings,
        service=CaseService(context.client, context.store, context.options.task_queue),
        store=context.store,
        worker_settings=context.settings,
    )
    async with serving(app, settings.host, settings.port) as url:
        yield [
            ("Indbakke / web inbox", f"{url}/  (log ind som demo-medarbejder / demo staff)"),
            ("HTTP API", f"{url}/api/v1  (docs: {url}/api/v1/docs)"),
            (
                "API-tokens / API tokens",
                f"{tokens}" + ("  (ny, demo-medarbejdere / new, demo staff)" if created else ""),
            ),
            (
                "Codec-server",
                (
                    f"{url}/codec  (operator-login til web-UI / operator sign-in for the Web UI: "
                    f"{url}/codec/session; CLI: temporal … --codec-endpoint {url}/codec "
                    '--codec-auth "Bearer <token>")'
                ),
            ),
        ]


def start(options: DevOptions) -> None:
    """`sagsflow dev` (cli/dev_command.py) with its options: runs until Ctrl+C or SIGTERM."""
    try:
        # Before anything starts (the dev server checks its own two ports): a taken API port
        # would otherwise surface only after Temporal and the worker are up.
        ensure_port_free(ApiSettings.from_env().host, options.api_port, "HTTP API", "--api-port")
        asyncio.run(run_dev(options, services=[http_api]))
    except PayloadKeyError as exc:
        Console(stderr=True).print(
            f"Fejl i konfigurationen / Configuration error: {exc}",
            style="red",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(code=2) from exc
    except (DevServerError, TokensFileError) as exc:
        # markup=False: the server log tail in the message may contain [brackets].
        Console(stderr=True).print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(code=1) from exc
