"""Gathers the facts of each case after the faults stopped, and runs `chaos.checks` on them.

Every call is bounded. Store-vs-snapshot is compared a few times before it counts as a
failure: the store is written by activities a moment after the workflow decided, so a case
that is still running may legitimately be a step behind for a second.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus, WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from chaos import checks
from chaos.checks import EventFacts, ExecutionFacts, TaskFacts, TimerEvent
from chaos.staff import CaseDriver
from schemas.snapshot import CaseSnapshot
from store import Store
from workflows.case import DigitalViolationCase

CALL_TIMEOUT = 20.0
SETTLE_ATTEMPTS = 5


@dataclass
class CaseResult:
    workflow_id: str
    route: str
    status: str
    poison_delivered: int
    poison_refused_closed: int
    faults_seen: int
    rejected_events: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def failed(self, check: str) -> bool:
        return bool(self.problems.get(check))


def _status_name(value: WorkflowExecutionStatus.ValueType) -> str:
    return WorkflowExecutionStatus.Name(value).removeprefix("WORKFLOW_EXECUTION_STATUS_").lower()


async def describe(client: Client, workflow_id: str) -> tuple[str, int]:
    """(status, attempt of the pending workflow task or 0)."""
    described = await asyncio.wait_for(
        client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
        ),
        CALL_TIMEOUT,
    )
    attempt = (
        described.pending_workflow_task.attempt
        if described.HasField("pending_workflow_task")
        else 0
    )
    return _status_name(described.workflow_execution_info.status), attempt


def history_facts(history: WorkflowHistory) -> tuple[list[TimerEvent], str | None, int]:
    """Timer events, the last WorkflowTaskFailed (cause: message), and how many there were."""
    timers: list[TimerEvent] = []
    last_failure: str | None = None
    failures = 0
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timers.append(TimerEvent("started", event.timer_started_event_attributes.timer_id))
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            timers.append(TimerEvent("fired", event.timer_fired_event_attributes.timer_id))
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            timers.append(TimerEvent("canceled", event.timer_canceled_event_attributes.timer_id))
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failures += 1
            attrs = event.workflow_task_failed_event_attributes
            cause = WorkflowTaskFailedCause.Name(attrs.cause).removeprefix(
                "WORKFLOW_TASK_FAILED_CAUSE_"
            )
            message = attrs.failure.message.splitlines()[0] if attrs.failure.message else ""
            last_failure = f"{cause}: {message[:200]}"
    return timers, last_failure, failures


def snapshot_facts(snap: CaseSnapshot) -> tuple[list[TaskFacts], list[EventFacts]]:
    tasks = [
        TaskFacts(t.task_id, t.key, t.status.value, t.due_at, t.reminded, t.escalated)
        for t in [*snap.open_tasks, *snap.done_tasks]
    ]
    events = [EventFacts(e.seq, e.kind.value, e.text, e.task_id) for e in snap.timeline]
    return tasks, events


async def store_facts(
    store: Store, workflow_id: str
) -> tuple[list[TaskFacts], list[EventFacts], list[str]]:
    rows = await store.list_tasks(workflow_id=workflow_id)
    events = await store.list_events(workflow_id)
    outbox = await store.list_outbox(workflow_id)
    return (
        [
            TaskFacts(r.task_id, r.key, r.status, r.due_at, bool(r.reminded), bool(r.escalated))
            for r in rows
        ],
        [EventFacts(e.seq, e.kind, e.text, e.task_id) for e in events],
        [o.key for o in outbox],
    )


@dataclass
class Verifier:
    client: Client
    store: Store
    replayer: Replayer
    time_bounded: bool
    histories: dict[str, WorkflowHistory] = field(default_factory=dict)

    async def verify(self, driver: CaseDriver) -> CaseResult:
        result = CaseResult(
            driver.workflow_id,
            driver.route.name,
            "unknown",
            driver.poison_delivered,
            driver.poison_refused_closed,
            driver.faults_seen,
        )
        if not driver.opened:
            result.problems["not_stuck"] = ["the case was never opened (server unreachable?)"]
            return result
        handle = self.client.get_workflow_handle(driver.workflow_id)
        try:
            history = await asyncio.wait_for(handle.fetch_history(), CALL_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - reported, the other checks go on
            history = None
            result.notes.append(f"history not fetched: {exc!r}")
        if history is not None:
            self.histories[driver.workflow_id] = history
        snap = await self._snapshot(driver, result)
        await self._not_stuck(driver, result, history, snap)
        await self._replay(result, history)
        if snap is not None:
            await self._store_and_duplicates(driver, result, snap)
            rejected = sum(1 for e in snap.timeline if e.kind == "rejected")
            result.rejected_events = rejected
            result.problems["poison_visible"] = checks.check_poison_visible(
                rejected_events=rejected, poison_delivered=driver.poison_delivered
            )
        else:
            why = "no snapshot: " + "; ".join(result.notes[-1:])
            for check in ("store_equals_snapshot", "no_duplicates", "poison_visible"):
                result.problems[check] = [why]
        if history is not None:
            timers, _, _ = history_facts(history)
            result.problems["timers_fired"] = checks.check_timers(
                timers, closed=result.status == "completed"
            )
        else:
            result.problems["timers_fired"] = ["no history"]
        return result

    async def _snapshot(self, driver: CaseDriver, result: CaseResult) -> CaseSnapshot | None:
        handle = self.client.get_workflow_handle(driver.workflow_id)
        last: Exception | None = None
        for _ in range(3):
            try:
                return await asyncio.wait_for(
                    handle.query(DigitalViolationCase.snapshot), CALL_TIMEOUT
                )
            except Exception as exc:  # noqa: BLE001 - e.g. the workflow task keeps failing
                last = exc
                await asyncio.sleep(1.0)
        result.notes.append(f"snapshot query failed: {type(last).__name__}: {last}"[:300])
        return None

    async def _not_stuck(
        self,
        driver: CaseDriver,
        result: CaseResult,
        history: WorkflowHistory | None,
        snap: CaseSnapshot | None,
    ) -> None:
        attempt = 0
        for _ in range(4):
            # A workflow task that timed out when the worker died is retried at attempt 2;
            # only one that stays above 1 while the worker runs undisturbed is stuck.
            try:
                result.status, attempt = await describe(self.client, driver.workflow_id)
            except Exception as exc:  # noqa: BLE001
                result.problems["not_stuck"] = [f"describe failed: {exc!r}"]
                return
            if attempt <= 1:
                break
            await asyncio.sleep(2.0)
        last_failure, failures = None, 0
        if history is not None:
            _, last_failure, failures = history_facts(history)
        if failures:
            result.notes.append(
                f"{failures} WorkflowTaskFailed in the history; last: {last_failure}"
            )
        open_tasks = [t.task_id for t in snap.open_tasks] if snap else []
        result.problems["not_stuck"] = checks.check_not_stuck(
            ExecutionFacts(result.status, attempt, last_failure, failures),
            time_bounded=self.time_bounded,
            open_tasks=open_tasks,
            timer_pending=bool(snap and snap.next_timer),
        )

    async def _replay(self, result: CaseResult, history: WorkflowHistory | None) -> None:
        if history is None:
            result.problems["replays"] = ["no history to replay"]
            return
        # The SDK logs each failed activation with its traceback; the report says it in a line.
        quiet = logging.getLogger("temporalio.worker")
        level, quiet.level = quiet.level, logging.CRITICAL + 1
        try:
            replayed = await asyncio.wait_for(
                self.replayer.replay_workflow(history, raise_on_replay_failure=False), 60
            )
        except Exception as exc:  # noqa: BLE001
            result.problems["replays"] = [f"replay raised {type(exc).__name__}: {exc}"[:300]]
            return
        finally:
            quiet.setLevel(level)
        failure: Any = replayed.replay_failure
        result.problems["replays"] = [] if failure is None else [_replay_message(failure)]

    async def _store_and_duplicates(
        self, driver: CaseDriver, result: CaseResult, snap: CaseSnapshot
    ) -> None:
        problems: list[str] = []
        for attempt in range(SETTLE_ATTEMPTS):
            tasks, events = snapshot_facts(snap)
            stored_tasks, stored_events, outbox = await store_facts(self.store, driver.workflow_id)
            problems = checks.check_store_equals_snapshot(
                workflow_id=driver.workflow_id,
                snapshot_tasks=tasks,
                store_tasks=stored_tasks,
                snapshot_timeline=events,
                store_timeline=stored_events,
                outbox_keys=outbox,
            )
            if not problems or attempt == SETTLE_ATTEMPTS - 1:
                break
            await asyncio.sleep(1.0)
            fresh = await self._snapshot(driver, result)
            snap = fresh or snap
        result.problems["store_equals_snapshot"] = problems
        result.problems["no_duplicates"] = checks.check_no_duplicates(
            snapshot_tasks=tasks,
            store_task_ids=[t.task_id for t in stored_tasks],
            snapshot_timeline=events,
            store_seqs=[e.seq for e in stored_events],
        )


def _replay_message(failure: BaseException) -> str:
    """The failure's own message, without the core's `Failure { … }` wrapping."""
    text = str(failure)
    found = re.search(r'message: "((?:[^"\\]|\\.)*)"', text)
    return f"{type(failure).__name__}: {found.group(1) if found else text}"[:300]


def save_histories(
    histories: dict[str, WorkflowHistory], drivers: list[CaseDriver], target: Path, limit: int = 4
) -> list[Path]:
    """A few histories of cases that went through faults, as `chaos_<route>_<n>.json`.

    Prefers distinct routes, cases that saw process faults and poison; the file name
    follows tests/test_replay.py (its workflow id there is `case-<file stem>`).
    """
    target.mkdir(parents=True, exist_ok=True)
    ranked = sorted(
        (d for d in drivers if d.workflow_id in histories and d.closed),
        key=lambda d: (-(d.faults_seen > 0), -(d.poison_delivered > 0), d.index),
    )
    chosen: list[CaseDriver] = []
    for driver in ranked:
        if len(chosen) < limit and driver.route.name not in {c.route.name for c in chosen}:
            chosen.append(driver)
    written = []
    for n, driver in enumerate(chosen, start=1):
        path = target / f"chaos_{driver.route.name}_{n}.json"
        path.write_text(histories[driver.workflow_id].to_json())
        written.append(path)
    return written
