"""Replays the histories of running cases against the workflow code of *this* installation.

Run it with the new image before a deploy: if any running case would replay differently
(non-determinism), the new code must not reach a worker yet — put the change behind
`workflow.patched(...)` (docs/operations.md, "Upgrading workers with running cases").

    python -m workers.replay                      # every running DigitalViolationCase
    python -m workers.replay --query "CaseNumber='2026-0042'"

It also reports running cases that are stuck *now*: a case whose last workflow task failed
and is being retried has nothing of that failure in its replayable history, so replay alone
says "ok" while the case takes no decisions. Each is printed as
`STUCK <workflow id>: <cause of the last WorkflowTaskFailed>` — deploy nothing over them before
they are understood (docs/operations.md, "Stuck cases").

Connects like the worker (same environment: address, namespace, TLS, payload keys) and only
reads: it describes cases and fetches histories, it changes nothing. Exit status 0: all
replayed, none stuck; 1: a replay failure or a stuck case.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Replayer

from core.codec import worker_data_converter
from core.connection import connect_client
from core.settings import Settings

DEFAULT_QUERY = "WorkflowType='DigitalViolationCase' AND ExecutionStatus='Running'"


@dataclass
class ReplayReport:
    replayed: int = 0
    # workflow id → the failure, in one line
    failures: dict[str, str] = field(default_factory=dict)
    # workflow id → the cause of its failing workflow task, in one line
    stuck: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.stuck


def default_workflows() -> list[type]:
    from workflows.case import DigitalViolationCase
    from workflows.retention import RetentionSweep

    return [DigitalViolationCase, RetentionSweep]


async def replay_running(
    client: Client,
    query: str = DEFAULT_QUERY,
    *,
    workflows: Sequence[type] | None = None,
    limit: int | None = None,
) -> ReplayReport:
    """Replays every workflow the visibility query finds; never raises for a replay failure."""
    replayer = Replayer(
        workflows=list(workflows) if workflows is not None else default_workflows(),
        # As the worker reads payloads: one it cannot open is refused by the case, not fatal.
        data_converter=worker_data_converter(client.data_converter),
        namespace=client.namespace,
    )
    histories = client.list_workflows(query, limit=limit).map_histories()
    report = ReplayReport()
    async with replayer.workflow_replay_iterator(histories) as results:
        async for result in results:
            report.replayed += 1
            if result.replay_failure is not None:
                message = str(result.replay_failure).splitlines()[0][:500]
                report.failures[result.history.workflow_id] = message
    report.stuck = await stuck_cases(client, query, limit=limit)
    return report


async def stuck_cases(client: Client, query: str, *, limit: int | None = None) -> dict[str, str]:
    """workflow id → why its workflow task fails, for the running workflows of `query` whose
    pending workflow task is a retry (attempt > 1). Describes each: the search attribute
    TemporalReportedProblems needs a dynamic config value the server may lack."""
    stuck: dict[str, str] = {}
    async for execution in client.list_workflows(query, limit=limit):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            described = await handle.describe()
        except RPCError:
            continue  # closed or gone since it was listed
        raw = described.raw_description
        if not raw.HasField("pending_workflow_task") or raw.pending_workflow_task.attempt <= 1:
            continue
        cause = await last_workflow_task_failure(client, execution.id, execution.run_id)
        stuck[execution.id] = f"{cause} (workflow task attempt {raw.pending_workflow_task.attempt})"
    return stuck


async def last_workflow_task_failure(client: Client, workflow_id: str, run_id: str | None) -> str:
    """The cause and message of the last WorkflowTaskFailed event, in one line. (Temporal
    writes only the first failure of a run of retries to the history.)"""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    last = None
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            last = event.workflow_task_failed_event_attributes
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            last = None
    if last is None:
        return "the workflow task keeps timing out (no worker completes it)"
    cause = WorkflowTaskFailedCause.Name(last.cause).removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
    message = last.failure.message
    try:
        # The failure's message is sealed by the payload codec when the worker encrypts.
        message = str(await client.data_converter.decode_failure(last.failure)) or message
    except Exception:  # noqa: BLE001, S110 - a failure we cannot decode is still reported, raw
        pass
    first_line = (message.splitlines() or [""])[0][:300]
    return f"{cause}: {first_line}" if first_line else cause


def print_report(report: ReplayReport) -> int:
    """Prints the report; the exit status of the gate."""
    for workflow_id, failure in sorted(report.failures.items()):
        print(f"FAILED {workflow_id}: {failure}")
    for workflow_id, cause in sorted(report.stuck.items()):
        print(f"STUCK {workflow_id}: {cause}")
    problems = []
    if report.failures:
        problems.append(f"{len(report.failures)} would break")
    if report.stuck:
        problems.append(f"{len(report.stuck)} stuck")
    print(f"replayed {report.replayed} workflow(s): {', '.join(problems) or 'ok'}")
    return 0 if report.ok else 1


async def _main(query: str, limit: int | None) -> int:
    client = await connect_client(Settings.from_env())
    return print_report(await replay_running(client, query, limit=limit))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--query", default=DEFAULT_QUERY, help=f"visibility query (default: {DEFAULT_QUERY})"
    )
    parser.add_argument("--limit", type=int, default=None, help="replay at most this many")
    options = parser.parse_args(argv)
    return asyncio.run(_main(options.query, options.limit))


if __name__ == "__main__":
    sys.exit(main())
