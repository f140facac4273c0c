"""`sagsflow api`: the HTTP API for the municipal platform (uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.service import (
    AddressOption,
    DatabaseUrlOption,
    NamespaceOption,
    TaskQueueOption,
    process_settings,
)


def api(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (env SAGSFLOW_API_HOST; default 127.0.0.1). Adresse."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (env SAGSFLOW_API_PORT; default 8000). Port."),
    ] = None,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            help="Tokens file for bearer tokens (env SAGSFLOW_TOKENS_FILE; default "
            "./data/tokens.yaml). Tokenfil."
        ),
    ] = None,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
    task_queue: TaskQueueOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the HTTP API for the municipal platform (OpenAPI at /api/v1/docs).

    Kør HTTP-API'et til den kommunale platform. Stop med Ctrl+C.
    """
    # Here, not at the top: `sagsflow --help` must not load FastAPI, Temporal or the store.
    import uvicorn

    from api.app import create_app
    from api.tokens import TokensFileError
    from core.codec import PayloadKeyError
    from core.connection import configured_payload_keys
    from core.logs import configure_logging
    from core.settings import ApiSettings

    try:
        settings = ApiSettings.from_env().with_overrides(
            host=host, port=port, tokens_file=tokens_file
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    worker_settings = process_settings(address, namespace, task_queue, database_url)
    configure_logging(worker_settings.log_format, worker_settings.log_level)
    try:
        # Read here, before serving: the codec server and the client need the same keys.
        configured_payload_keys()
    except PayloadKeyError as exc:
        typer.echo(f"Fejl i konfigurationen / Configuration error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    try:
        app = create_app(settings, worker_settings=worker_settings)
    except TokensFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=worker_settings.log_level.lower(),
        proxy_headers=True,
        # uvicorn's own loggers go through configure_logging's handler (JSON in production),
        # and its access log is off: it holds client addresses. The API logs each request
        # itself, by route template (api.metrics).
        log_config=None,
        access_log=False,
    )
