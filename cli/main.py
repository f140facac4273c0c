"""`sagsflow`: the command line of the case-handling backend.

Commands are added here as they are built (`dev`, `api`, `case …`, `task …`); each one keeps
its work in the package it belongs to and only wires options to it.

Importing this module (and so `sagsflow --help`) loads typer and the options' choices only:
every command imports Temporal, the API, the store or the workflows itself, when it runs
(tests/test_cli_startup.py holds that).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

from cli import cases, tasks
from cli.api import api
from cli.demo_command import demo
from cli.dev_command import dev
from cli.notify import notify
from cli.retention import retention
from cli.service import (
    AddressOption,
    DatabaseUrlOption,
    NamespaceOption,
    TaskQueueOption,
)

if TYPE_CHECKING:
    from core.settings import Settings

app = typer.Typer(
    name="sagsflow",
    help=(
        "Digital violations among school students: the action card as durable Temporal "
        "workflows.\n\nDigitale krænkelser blandt elever: handlekortet som sagsforløb."
    ),
    no_args_is_help=True,
    add_completion=False,
)


app.command()(dev)
app.command()(api)
app.command()(notify)
app.command()(retention)
app.command()(demo)
app.add_typer(cases.app, name="case")
app.add_typer(tasks.app, name="task")


async def run_worker(settings: Settings) -> None:
    """`workers.worker.run_worker`, imported when the worker starts."""
    from workers.worker import run_worker as run

    await run(settings)


@app.command()
def worker(
    address: AddressOption = None,
    namespace: NamespaceOption = None,
    task_queue: TaskQueueOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the worker that executes case workflows and their activities.

    Kør workeren, der driver sagsforløbene. Stop med Ctrl+C.
    """
    from cli.service import process_settings
    from workers.worker import TemporalUnreachable

    settings = process_settings(address, namespace, task_queue, database_url)
    try:
        asyncio.run(run_worker(settings))
    except TemporalUnreachable as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    except ValueError as exc:  # e.g. an invalid notification or payload-key setting
        typer.echo(f"Fejl i konfigurationen / Configuration error: {exc}", err=True)
        raise typer.Exit(code=2) from exc


if __name__ == "__main__":
    app()
