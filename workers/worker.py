"""Builds and runs the worker that executes case workflows and their activities."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from activities import CaseActivities
from activities.retention import RetentionActivities
from core.codec import worker_data_converter
from core.connection import connect_client
from core.logs import configure_logging
from core.settings import DEFAULT_CACHED_CASES, NotifySettings, RetentionSettings, Settings
from core.shutdown import on_stop_signal, until_stopped
from store import Store
from workers.notify import dispatching
from workers.retention_schedule import schedule_retention
from workflows.case import DigitalViolationCase
from workflows.retention import RetentionSweep

log = structlog.get_logger("sagsflow.worker")

# How long running activities may finish after a shutdown request before they are cancelled.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
# How long a case's next workflow task waits for this worker (it holds the case in its cache)
# before any worker may take it. The SDK's 10 s is how late a case goes on after its worker was
# killed (SIGKILL, OOM, a lost node): the server cannot know the worker is gone. 3 s keeps
# recovery well within 10 s of a new worker starting; a busy worker that misses it only
# replays the case from history.
STICKY_QUEUE_TIMEOUT = timedelta(seconds=3)


class TemporalUnreachable(RuntimeError):
    """The Temporal frontend did not answer; the message says where we looked."""


def build_worker(
    client: Client,
    store: Store,
    task_queue: str,
    *,
    workflows: Sequence[type] | None = None,
    interceptors: Sequence[Interceptor] = (),
    procedure_path: Path | None = None,
    cached_cases: int = DEFAULT_CACHED_CASES,
) -> Worker:
    """A worker with the case workflow and the retention sweep (or `workflows`), and every
    case and retention activity."""
    return Worker(
        worker_client(client),
        task_queue=task_queue,
        workflows=(
            list(workflows) if workflows is not None else [DigitalViolationCase, RetentionSweep]
        ),
        activities=CaseActivities(store, procedure_path).all() + RetentionActivities(store).all(),
        interceptors=list(interceptors),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
        max_cached_workflows=cached_cases,
    )


def worker_client(client: Client) -> Client:
    """`client` on the same connection, with the worker's data converter: a message the worker
    cannot open reaches the case as a refusal instead of failing its workflow task forever."""
    config = client.config(active_config=True)
    converter = worker_data_converter(config["data_converter"])
    if converter is config["data_converter"]:
        return client
    config["data_converter"] = converter
    return Client(**config)


async def run_worker(
    settings: Settings,
    *,
    workflows: Sequence[type] | None = None,
    notify_settings: NotifySettings | None = None,
) -> None:
    """Runs until SIGINT/SIGTERM (or a fatal worker error), then shuts down cleanly.

    With SMTP configured (`NotifySettings`, from the environment unless given) the notification
    dispatcher runs beside the worker and stops with it.
    """
    configure_logging(settings.log_format, settings.log_level)
    if notify_settings is None:
        # Read before anything starts: a broken recipients file stops the start, not a mail.
        notify_settings = NotifySettings.from_env()
    retention = RetentionSettings.from_env()
    # Entered first, so a signal during connect or migration also ends in a clean stop.
    async with on_stop_signal() as stop:
        store = Store.from_url(settings.database_url)
        try:
            try:
                client = await connect_client(settings)
            except RuntimeError as exc:
                raise TemporalUnreachable(
                    f"cannot connect to Temporal at {settings.temporal_address} "
                    f"(namespace {settings.temporal_namespace}): {exc}"
                ) from exc
            await schedule_retention(client, settings.task_queue, retention)
            await store.create_schema()
            worker = build_worker(
                client,
                store,
                settings.task_queue,
                workflows=workflows,
                cached_cases=settings.cached_cases,
            )
            log.info(
                "worker started",
                task_queue=settings.task_queue,
                namespace=settings.temporal_namespace,
                temporal_address=settings.temporal_address,
            )
            async with dispatching(store, notify_settings):
                await _run_until_stopped(worker, stop)
        finally:
            await store.dispose()
            log.info("worker stopped", task_queue=settings.task_queue)


async def _run_until_stopped(worker: Worker, stop: asyncio.Event) -> None:
    running = asyncio.create_task(worker.run(), name="temporal-worker")
    if await until_stopped(running, stop):
        log.info("worker stopping", reason="signal")
        await worker.shutdown()
    # Surfaces a fatal worker error (after shutdown, so nothing is left running).
    await running
