"""A case's first steps carry the same times in the inbox as in the case, after any replay.

After the workflow loads its card (a local activity), the SDK resumes it at a time that can
differ between the first run of a workflow task and every later replay: when the worker
drops the case between the load and its first steps (a crash, a full cache), the live run
resumes at the next workflow task's time, a replay at the load's completion time. The first
tasks' deadlines then disagreed between the inbox and the case by the time in between, which
is exactly the disagreement operators were promised cannot happen. Without a workflow cache
every workflow task is such a replay, so a handful of cases shows it reliably.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import CaseActivities
from core.devserver import DevServer
from store import Store
from tests.casekit import CaseRun, case_input
from workflows.case import DigitalViolationCase

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

CASES = 8


async def test_first_deadlines_agree_between_inbox_and_case_without_a_cache(
    dev_temporal: DevServer, store: Store, task_queue: str
) -> None:
    client = await dev_temporal.connect(data_converter=pydantic_data_converter)
    env = WorkflowEnvironment.from_client(client)
    disagreements: list[str] = []
    async with Worker(
        client,
        task_queue=task_queue,
        max_cached_workflows=0,
        workflows=[DigitalViolationCase],
        activities=CaseActivities(store).all(),
    ):
        for _ in range(CASES):
            case = case_input(datetime.now(UTC)).model_copy(update={"procedure_version": "demo"})
            handle = await client.start_workflow(
                DigitalViolationCase.run,
                case,
                id=f"case-{case.case_number}",
                task_queue=task_queue,
            )
            run = CaseRun(env=env, handle=handle, store=store, case=case)
            for key in ("assess.uncover", "assess.involve_custody"):
                view = await run.wait_open(key)
                row = await run.wait_inbox(view.task_id)
                if (row.opened_at, row.due_at) != (view.opened_at, view.due_at):
                    disagreements.append(
                        f"{case.case_number} {key}: inbox {row.opened_at}/{row.due_at}, "
                        f"case {view.opened_at}/{view.due_at}"
                    )
            await handle.terminate("test finished")
    assert not disagreements, "\n".join(disagreements)
