"""The baseline: the irreducible work of a human step on Temporal, nothing more.

`BaselineCase` opens its first step, then for every human step: waits for one validated
update (`submit`), and runs ONE activity that makes the step done and the next step visible
(one transaction on an inbox table in the same SQLite file as sagsflow's store). A step that a
timer opens (the evaluation, the follow-ups) gets one `workflow.sleep` and one more activity.

The worker for it runs as its own process, like sagsflow's (`python -m workers`):

    python -m bench.baseline   # env: TEMPORAL_ADDRESS, DATABASE_URL, SAGSFLOW_TASK_QUEUE
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from sqlalchemy import text

TASK_QUEUE = "bench-baseline"
TABLE = "bench_inbox"
_engine: Any = None


@dataclass
class BaselineStep:
    key: str
    role: str
    delay_seconds: float = 0.0  # a timer opens this step this long after the previous one


@dataclass
class BaselinePlan:
    steps: list[BaselineStep] = field(default_factory=list)


@dataclass
class StepWrite:
    workflow_id: str
    done_task_id: str | None
    open_step: BaselineStep | None
    open_task_id: str | None
    at: str  # ISO time (the workflow's clock)


def task_id(key: str, index: int) -> str:
    return f"{key}#{index}"


# ------------------------------------------------------------------------ the store side


async def create_table(engine: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " workflow_id TEXT NOT NULL, task_id TEXT NOT NULL, key TEXT NOT NULL,"
                " role TEXT NOT NULL, status TEXT NOT NULL, opened_at TEXT NOT NULL,"
                " due_at TEXT NOT NULL, closed_at TEXT,"
                " PRIMARY KEY (workflow_id, task_id))"
            )
        )


def _database_engine() -> Any:
    global _engine
    if _engine is None:
        from store.engine import create_engine  # the store's engine: same SQLite pragmas

        _engine = create_engine(os.environ["DATABASE_URL"])
    return _engine


@activity.defn(name="baseline_write_step")
async def write_step(change: StepWrite) -> None:
    """One transaction: the done step's row is `done`, the next step's row is `open`.
    Idempotent: a retried attempt changes nothing twice."""
    async with _database_engine().begin() as conn:
        if change.done_task_id is not None:
            await conn.execute(
                text(
                    f"UPDATE {TABLE} SET status='done', closed_at=:at "
                    "WHERE workflow_id=:w AND task_id=:t"
                ),
                {"at": change.at, "w": change.workflow_id, "t": change.done_task_id},
            )
        if change.open_step is not None:
            await conn.execute(
                text(
                    f"INSERT OR IGNORE INTO {TABLE} (workflow_id, task_id, key, role, status,"
                    " opened_at, due_at) VALUES (:w, :t, :k, :r, 'open', :at, :due)"
                ),
                {
                    "w": change.workflow_id,
                    "t": change.open_task_id,
                    "k": change.open_step.key,
                    "r": change.open_step.role,
                    "at": change.at,
                    "due": (datetime.fromisoformat(change.at) + timedelta(days=1)).isoformat(),
                },
            )


class BaselineInbox:
    """The baseline's inbox rows, read like `store.list_tasks` (same attribute names)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def rows(self, workflow_id: str) -> list[Any]:
        async with self.engine.connect() as conn:
            result = await conn.execute(
                text(
                    f"SELECT task_id, key, role, status, due_at FROM {TABLE} "
                    "WHERE workflow_id=:w ORDER BY due_at"
                ),
                {"w": workflow_id},
            )
            return [
                _Row(r.task_id, r.key, r.role, r.status, datetime.fromisoformat(r.due_at))
                for r in result
            ]


@dataclass
class _Row:
    task_id: str
    key: str
    role: str
    status: str
    due_at: datetime


# ------------------------------------------------------------------------ the workflow


@workflow.defn(name="BaselineCase")
class BaselineCase:
    def __init__(self) -> None:
        self._received = 0
        self._current: str | None = None

    @workflow.run
    async def run(self, plan: BaselinePlan) -> int:
        wid = workflow.info().workflow_id
        steps = plan.steps
        self._current = task_id(steps[0].key, 0)
        await self._write(StepWrite(wid, None, steps[0], self._current, self._now()))
        for index, step in enumerate(steps):
            # Awaited within this iteration, so the lambda reads this iteration's index.
            await workflow.wait_condition(lambda: self._received > index)  # noqa: B023
            done = task_id(step.key, index)
            following = steps[index + 1] if index + 1 < len(steps) else None
            following_id = task_id(following.key, index + 1) if following else None
            self._current = following_id
            if following is not None and following.delay_seconds > 0:
                await self._write(StepWrite(wid, done, None, None, self._now()))
                await workflow.sleep(timedelta(seconds=following.delay_seconds))
                await self._write(StepWrite(wid, None, following, following_id, self._now()))
            else:
                await self._write(StepWrite(wid, done, following, following_id, self._now()))
        return len(steps)

    @workflow.update
    async def submit(self, completion: dict[str, Any]) -> str:
        self._received += 1
        return str(completion.get("task_id"))

    @submit.validator
    def _check(self, completion: dict[str, Any]) -> None:
        if completion.get("task_id") != self._current:
            raise ValueError(f"task {completion.get('task_id')} is not open")

    @staticmethod
    def _now() -> str:
        return workflow.now().isoformat()

    @staticmethod
    async def _write(change: StepWrite) -> None:
        await workflow.execute_activity(
            write_step, change, start_to_close_timeout=timedelta(seconds=30)
        )


# ------------------------------------------------------------------------ its worker


async def run_worker() -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from core.codec import data_converter
    from core.settings import Settings
    from core.shutdown import on_stop_signal
    from workers.worker import GRACEFUL_SHUTDOWN, worker_client

    settings = Settings.from_env()
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(None),
    )
    await create_table(_database_engine())
    async with on_stop_signal() as stop:
        worker = Worker(
            worker_client(client),
            task_queue=settings.task_queue,
            workflows=[BaselineCase],
            activities=[write_step],
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        )
        async with worker:
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(run_worker())
