"""One chaos run: start the processes, drive the cases, inject faults, stop them, verify.

Order matters: faults stop first, then the worker runs undisturbed while the drivers finish
their cases (bounded), and only then is every case verified. Child processes are stopped in
`finally` — also on Ctrl-C and on any error — and SIGKILLed at exit as a last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.worker import Replayer

from chaos.cases import route_for
from chaos.faults import FaultInjector
from chaos.poison import seal_malformed_json
from chaos.processes import ChildProcesses, Supervisor, TemporalServer, WorkerProcess
from chaos.report import Report
from chaos.staff import CaseDriver
from chaos.verify import Verifier, save_histories
from core.codec import PayloadKeys, data_converter, worker_data_converter
from core.devserver import find_temporal_binary
from service.cases import CaseService
from store import Store
from workflows.case import DigitalViolationCase

TASK_QUEUE = "sagsflow-chaos"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The TEST-ONLY keys the replay tests open saved histories with.
TEST_KEYS_FILE = PROJECT_ROOT / "tests" / "histories" / "test-payload-keys.json"


@dataclass
class Options:
    mode: str
    seed: int
    cases: int
    worker_kills: int
    server_restarts: int
    poison: int
    window: float  # seconds over which the faults are spread
    settle: float  # after the faults: how long the drivers may take to finish their cases
    save_histories: Path | None = None
    json_path: Path | None = None
    work_dir: Path | None = None
    keep: bool = True


async def run(options: Options) -> Report:
    started = time.monotonic()
    asyncio.get_running_loop().set_exception_handler(_quiet_abandoned_updates)
    rng = random.Random(options.seed)
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix="sagsflow-chaos-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    report = Report(seed=options.seed, mode=options.mode, work_dir=str(work_dir))
    if options.save_histories:
        keys_file = TEST_KEYS_FILE  # saved histories must open with the test keys
    else:
        keys_file = work_dir / "payload-keys.json"
        PayloadKeys.generate("chaos-k1").write(keys_file)
    keys = PayloadKeys.from_file(keys_file)
    database_url = f"sqlite+aiosqlite:///{work_dir / 'store.db'}"
    server = TemporalServer(work_dir)
    worker = WorkerProcess(work_dir, server, database_url, keys_file, TASK_QUEUE)
    supervisor = Supervisor(worker)
    store = Store.from_url(database_url)
    tasks: list[asyncio.Task[None]] = []
    try:
        await server.start()
        await store.create_schema()  # before the worker, so the two never migrate at once
        await worker.spawn()
        supervisor.start()
        client = await Client.connect(
            server.address,
            namespace=server.namespace,
            data_converter=data_converter(keys),
            runtime=_quiet_runtime(),
        )
        service = CaseService(client, store, task_queue=TASK_QUEUE)
        tag = f"{options.seed % 10000:04d}{rng.randrange(100):02d}"
        drivers = [
            CaseDriver(i, route_for(i), service, store, random.Random(rng.random()), tag)
            for i in range(options.cases)
        ]
        injector = FaultInjector(
            server,
            worker,
            supervisor,
            drivers,
            rng,
            find_temporal_binary(),
            keys.active,
            await seal_malformed_json(keys),
            options.worker_kills,
            options.server_restarts,
            options.poison,
            options.window,
        )
        drive_deadline = time.monotonic() + options.window + options.settle
        # Cases start over the first half of the window, so faults meet every phase.
        stagger = options.window * 0.5 / max(1, options.cases)
        for driver in drivers:
            tasks.append(
                asyncio.create_task(_start_later(driver, driver.index * stagger, drive_deadline))
            )
        faults = asyncio.create_task(injector.run())
        try:
            await asyncio.wait_for(faults, options.window * 2 + 120)
        except TimeoutError:
            report.harness_errors.append("the fault injector overran its time and was stopped")
        except Exception as exc:  # noqa: BLE001 - verify what there is, and say why
            report.harness_errors.append(f"the fault injector failed: {type(exc).__name__}: {exc}")
            if not server.running:
                raise
        # From here on the worker runs undisturbed.
        if not worker.running:
            await worker.spawn()
        remaining = max(1.0, drive_deadline - time.monotonic())
        await asyncio.wait(tasks, timeout=remaining + 30)
        report.time_bounded = any(not d.closed for d in drivers)
        report.faults = dict(injector.counts)
        report.faults["worker_restarts_after_crash"] = supervisor.crash_restarts
        report.poison_by_kind = dict(injector.poison_counts)
        report.poison_by_signal = dict(injector.poison_signal_counts)
        report.fault_log = injector.log
        report.harness_errors += injector.errors
        report.staff = _staff_summary(drivers)

        # As the worker reads payloads: one it cannot open is refused, not fatal.
        converter = worker_data_converter(data_converter(keys))
        replayer = Replayer(workflows=[DigitalViolationCase], data_converter=converter)
        verifier = Verifier(client, store, replayer, report.time_bounded)
        for driver in drivers:
            report.cases.append(await verifier.verify(driver))
        if options.save_histories:
            written = save_histories(verifier.histories, drivers, options.save_histories)
            report.saved_histories = [str(p) for p in written]
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
        await supervisor.close()
        with contextlib.suppress(Exception):
            await worker.stop()
        with contextlib.suppress(Exception):
            await server.stop()
        with contextlib.suppress(Exception):
            await store.dispose()
        ChildProcesses.kill_all()
        report.wall_seconds = time.monotonic() - started
        if not options.keep and report.ok:
            shutil.rmtree(work_dir, ignore_errors=True)
    return report


def _quiet_abandoned_updates(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The SDK runs an update call in a task of its own; when the driver gives up on it
    (server down), that task's WorkflowUpdateRPCTimeoutOrCancelledError is never retrieved.
    Expected here: not worth a traceback on stderr. Everything else is reported as usual."""
    if isinstance(context.get("exception"), WorkflowUpdateRPCTimeoutOrCancelledError):
        return
    loop.default_exception_handler(context)


def _quiet_runtime() -> Runtime:
    """The driver's SDK runtime without the core's retry warnings: while the server is down
    by design they would bury the report."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


async def _start_later(driver: CaseDriver, delay: float, deadline: float) -> None:
    await asyncio.sleep(delay)
    await driver.run(deadline)


def _staff_summary(drivers: list[CaseDriver]) -> dict[str, object]:
    errors: Counter[str] = Counter()
    for driver in drivers:
        errors.update(driver.errors)
    refusals = [f"{d.workflow_id} {r}" for d in drivers for r in d.refusals]
    return {
        "cases opened": sum(d.opened for d in drivers),
        "cases closed while driven": sum(d.closed for d in drivers),
        "tasks completed": sum(len(d.completed) for d in drivers),
        "retried calls": sum(d.retries for d in drivers),
        "already done on retry (earlier attempt landed)": sum(d.settled_on_retry for d in drivers),
        "retryable errors": dict(errors.most_common(6)),
        "unexpected refusals": len(refusals),
        **({"first refusals": refusals[:3]} if refusals else {}),
    }
