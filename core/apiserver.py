"""Serving the HTTP API with uvicorn inside a program that has its own event loop and signals
(`sagsflow dev`, the tests): started and stopped as an async context manager."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

from core.devserver import ensure_port_free

STARTUP_TIMEOUT_SECONDS = 30.0


class EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves SIGINT/SIGTERM to its host program."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(
    app: FastAPI, host: str, port: int, *, log_level: str = "warning", option: str = "--api-port"
) -> AsyncIterator[str]:
    """Serves `app` on host:port while entered; yields its base URL."""
    # uvicorn exits the process when it cannot bind: find out first, with a clear message.
    ensure_port_free(host, port, "HTTP API", option)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", access_log=False
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(), name="http-api")
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
    try:
        while not server.started:
            if task.done():
                task.result()  # surfaces an error of the app's startup
                raise RuntimeError("the HTTP API stopped while starting (see the log above)")
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the HTTP API did not start in time")
            await asyncio.sleep(0.05)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
