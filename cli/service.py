"""How a `case`/`task` command reaches the cases, and how a failure reaches the user.

Settings come from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, SAGSFLOW_TASK_QUEUE,
DATABASE_URL) and `--address` / `--namespace`, given on the group (`sagsflow case --address …
list`) or on the command (`sagsflow case list --address …`). Every Temporal operation goes
through `service.cases.CaseService`. `task complete` and `task reassign` also read the store
(DATABASE_URL): they act only on a task with an open inbox row, the state the case recorded.

Payload keys are found as by every sagsflow process (`core.connection`):
SAGSFLOW_PAYLOAD_KEYS_FILE / SAGSFLOW_PAYLOAD_KEYS, else `./data/payload-keys.json` if it exists
(the file `sagsflow dev` makes), so the CLI next to `sagsflow dev` needs no setup.

Exit codes: 0 done; 1 refused or failed (CaseError, a rejected task, Temporal unreachable,
encrypted data without keys); 2 invalid input (a usage error, a value the contract rejects, a
broken payload-key configuration).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from core.task_queue import TASK_QUEUE

# Only what the options need at import: `sagsflow --help` must not load Temporal, SQLAlchemy,
# the API or the store. Everything else is imported by the function that uses it.
if TYPE_CHECKING:
    from pydantic import ValidationError

    from core.settings import Settings
    from service.cases import CaseService
    from store import Store

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_INVALID = 2

ENCRYPTED_WITHOUT_KEYS = (
    "Sagens data er krypteret, og kommandoen har ingen nøgler: sæt SAGSFLOW_PAYLOAD_KEYS_FILE "
    "(`sagsflow dev` viser linjen) / The case's data is encrypted and this command has no keys: "
    "set SAGSFLOW_PAYLOAD_KEYS_FILE (`sagsflow dev` prints the line)"
)

AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Temporal frontend host:port (env TEMPORAL_ADDRESS; default localhost:7233). "
        "Temporal-serverens adresse.",
        show_default=False,
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        help="Temporal namespace (env TEMPORAL_NAMESPACE; default 'default').",
        show_default=False,
    ),
]

TaskQueueOption = Annotated[
    str | None,
    typer.Option(
        "--task-queue",
        help="Task queue of the case workflows (env SAGSFLOW_TASK_QUEUE; default "
        f"{TASK_QUEUE}). Opgavekø.",
        show_default=False,
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the store (env DATABASE_URL; default "
        "sqlite+aiosqlite:///./data/sagsflow.db). Databasens adresse.",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Target:
    """`--address` / `--namespace` given on the command group."""

    address: str | None = None
    namespace: str | None = None


def group_options(
    ctx: typer.Context, address: AddressOption = None, namespace: NamespaceOption = None
) -> None:
    """The group callback: remembers connection options for the command that follows."""
    ctx.obj = Target(address, namespace)


def settings(ctx: typer.Context, address: str | None, namespace: str | None) -> Settings:
    """Environment, then the group's options, then the command's own (the last one wins)."""
    from core.settings import Settings

    group = ctx.find_object(Target) or Target()
    try:
        return Settings.from_env().with_overrides(
            temporal_address=address or group.address,
            temporal_namespace=namespace or group.namespace,
        )
    except ValueError as exc:
        fail(str(exc), EXIT_INVALID)


def process_settings(
    address: str | None, namespace: str | None, task_queue: str | None, database_url: str | None
) -> Settings:
    """A process's settings (worker, API): the environment, then the command's options."""
    import typer

    from core.settings import Settings

    try:
        return Settings.from_env().with_overrides(
            temporal_address=address,
            temporal_namespace=namespace,
            task_queue=task_queue,
            database_url=database_url,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    from cli import render

    render.console(stderr=True).print(message, style="red", markup=False, highlight=False)
    raise typer.Exit(code=code)


def invalid(exc: ValidationError, options: Mapping[str, str] | None = None) -> NoReturn:
    """Pydantic's errors as one clean line per field, naming the CLI option behind it."""
    fail(
        "Ugyldige oplysninger / invalid input:\n" + "\n".join(validation_lines(exc, options)),
        EXIT_INVALID,
    )


def validation_lines(exc: ValidationError, options: Mapping[str, str] | None = None) -> list[str]:
    lines = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if not location:
            lines.append(f"  - {message}")
            continue
        field = ".".join(location)
        option = (options or {}).get(location[0])
        lines.append(f"  - {field}{f' ({option})' if option else ''}: {message}")
    return lines


def run(
    config: Settings,
    work: Callable[[CaseService], Awaitable[T]],
    *,
    with_store: bool = False,
) -> T:
    """Connects, runs `work` with a CaseService and turns failures into clean exits."""
    from core.connection import connect_client
    from service.cases import CaseService
    from store import Store

    async def main() -> T:
        try:
            client = await connect_client(config)
        except RuntimeError as exc:
            raise _Unreachable(config) from exc
        store = Store.from_url(config.database_url) if with_store else None
        try:
            if store is not None:
                # A no-op at the newest migration; makes the first write work before a worker
                # has ever started against this database.
                await store.create_schema()
            return await work(CaseService(client, store, config.task_queue))
        finally:
            if store is not None:
                await store.dispose()

    return _guarded(main, config)


def run_store(config: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Runs `work` against the store (DATABASE_URL) alone: the inbox needs no Temporal."""
    from store import Store

    async def main() -> T:
        store = Store.from_url(config.database_url)
        try:
            await store.create_schema()
            return await work(store)
        finally:
            await store.dispose()

    return _guarded(main, config)


class _Unreachable(Exception):
    def __init__(self, config: Settings) -> None:
        super().__init__(
            f"Kan ikke forbinde til Temporal på {config.temporal_address} "
            f"(namespace {config.temporal_namespace}). Kører `sagsflow dev`?\n"
            f"Cannot connect to Temporal at {config.temporal_address} "
            f"(namespace {config.temporal_namespace}). Is `sagsflow dev` running?"
        )


def _guarded(main: Callable[[], Awaitable[T]], config: Settings) -> T:
    result, failure = _attempt(main, config)
    # temporalio/sdk-python#300: a Temporal client still alive when the interpreter finalizes
    # can abort a short-lived process (SIGABRT, "PyGILState_Release … finalizing") after the
    # work is done. The client sits in reference cycles, so collect it while Python is whole.
    # _attempt has already let go of every exception (and the frames holding the client).
    gc.collect()
    if failure is not None:
        message, code = failure
        if message is not None:
            fail(message, code)
        raise typer.Exit(code=code)
    return result  # type: ignore[return-value]


def _attempt(
    main: Callable[[], Awaitable[T]], config: Settings
) -> tuple[T | None, tuple[str | None, int] | None]:
    """Runs `main`; a failure becomes (message, exit code), with no exception kept alive."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError
    from temporalio.service import RPCError

    from core.codec import ENCODING
    from service.cases import CaseError

    try:
        return asyncio.run(main()), None  # type: ignore[arg-type]
    except typer.Exit as exc:  # the message is already printed
        return None, (None, exc.exit_code)
    except ValidationError as exc:
        lines = "\n".join(validation_lines(exc))
        return None, (f"Ugyldige oplysninger / invalid input:\n{lines}", EXIT_INVALID)
    except (CaseError, _Unreachable) as exc:
        return None, (str(exc), EXIT_FAILED)
    except RPCError as exc:
        return None, (
            f"Temporal afviste kaldet / Temporal refused the call: {exc.message}",
            EXIT_FAILED,
        )
    except SQLAlchemyError as exc:
        return None, (
            "Databasen svarer ikke som ventet / the store failed "
            f"({_masked(config.database_url)}): "
            # The driver's own message only: the statement's parameters may carry names.
            f"{type(exc).__name__}: {getattr(exc, 'orig', None) or type(exc).__name__}",
            EXIT_FAILED,
        )
    except KeyError as exc:
        # The pydantic converter meets a payload it cannot read: ciphertext, and no keys here.
        if ENCODING.decode() not in str(exc):
            raise
        return None, (ENCRYPTED_WITHOUT_KEYS, EXIT_FAILED)
    except ValueError as exc:  # e.g. an unsupported DATABASE_URL, broken payload keys
        return None, (str(exc), EXIT_INVALID)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as nothing rather than leaked
        return "DATABASE_URL"
