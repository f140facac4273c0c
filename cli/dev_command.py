"""`sagsflow dev`: the command and its options; the work is in `cli.dev`, imported when it runs
(so that `sagsflow --help` loads neither Temporal nor the API nor the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.task_queue import TASK_QUEUE


def dev(
    data_dir: Annotated[
        Path,
        typer.Option(
            help="Folder for the Temporal and sagsflow databases and the server log. "
            "Mappe til data.",
        ),
    ] = Path("data"),
    port: Annotated[
        int, typer.Option(help="Temporal frontend (gRPC) port. Port til Temporal.")
    ] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port. Port til web-UI.")] = 8233,
    api_port: Annotated[int, typer.Option(help="HTTP API port. Port til HTTP-API'et.")] = 8000,
    database_url: Annotated[
        str | None,
        typer.Option(
            # No [brackets]: typer's rich help would read them as markup and drop them.
            help="SQLAlchemy URL of the store (default: SQLite file sagsflow.db in the "
            "data folder). Databasens adresse.",
        ),
    ] = None,
    task_queue: Annotated[
        str, typer.Option(help="Task queue of the case workflows. Opgavekø.")
    ] = TASK_QUEUE,
    ui_codec_endpoint: Annotated[
        str | None,
        typer.Option(
            help="Codec server URL the Web UI uses to decrypt payloads (default: the HTTP "
            "API's, http://127.0.0.1:<api-port>/codec; empty: none). Codec-server til web-UI.",
            show_default=False,
        ),
    ] = None,
    headless: Annotated[bool, typer.Option(help="Run without the Web UI. Uden web-UI.")] = False,
) -> None:
    """Run Temporal (dev server + Web UI), the worker, the store and the HTTP API here.

    Kør det hele lokalt: Temporal, web-UI, worker, database og HTTP-API. Stop med Ctrl+C.
    """
    from cli.dev import DevOptions, start

    options = DevOptions(
        data_dir=data_dir,
        port=port,
        ui_port=ui_port,
        api_port=api_port,
        database_url=database_url,
        task_queue=task_queue,
        codec_endpoint=ui_codec_endpoint,
        headless=headless,
    )
    start(options)
