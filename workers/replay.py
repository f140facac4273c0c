"""Replays the histories of running cases against the workflow code of *this* installation.

Run it with the new image before a deploy: if any running case would replay differently
(non-determinism), the new code must not reach a worker yet — put the change behind
`workflow.patched(...)` (docs/operations.md, "Upgrading workers with running cases").

    python -m workers.replay                      # every running DigitalViolationCase
    python -m workers.replay --query "CaseNumber='2026-0042'"

Connects like the worker (same environment: address, namespace, TLS, payload keys) and only
reads: it fetches histories, it changes nothing. Exit status 0: all replayed; 1: a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.worker import Replayer

from workers.connection import connect_client
from workers.settings import Settings

DEFAULT_QUERY = "WorkflowType='DigitalViolationCase' AND ExecutionStatus='Running'"


@dataclass
class ReplayReport:
    replayed: int = 0
    # workflow id → the failure, in one line
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


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
        data_converter=client.data_converter,
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
    return report


async def _main(query: str, limit: int | None) -> int:
    client = await connect_client(Settings.from_env())
    report = await replay_running(client, query, limit=limit)
    for workflow_id, failure in sorted(report.failures.items()):
        print(f"FAILED {workflow_id}: {failure}")
    verdict = "ok" if report.ok else f"{len(report.failures)} would break"
    print(f"replayed {report.replayed} workflow(s): {verdict}")
    return 0 if report.ok else 1


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
