"""Staff, played by a program: complete tasks through `CaseService` (the `submit_task`
update), acting only on recorded state.

The rule of DESIGN.md ("staff act on recorded state"): a member of staff acts on a task only
when its inbox row exists in the store with status `open` — never on what a query showed,
since a query can see state of a workflow task that is later lost. Every wait here is bounded
polling of the inbox; every call is bounded (`bounded`).

`Staff.complete` also reports timings: from sending the completion to (i) the completed
task's inbox row being `done` and (ii) the next task's inbox row being open.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from driver.decisions import (
    FOLLOW_UP,
    RECEIPT,
    RECEIPT_FOLLOW_UP,
    TIMER_OPENED,
    completion,
)

T = TypeVar("T")
CALL_TIMEOUT = 30.0  # one staff action; the platform would show a spinner no longer
WAIT_SECONDS = 30.0  # how long staff wait for a task to show in their inbox
FIRST_POLL = 0.005
MAX_POLL = 0.05
POLL_GROWTH = 1.3  # 5, 6.5, 8.5, 11 … ms, then every 50 ms: fine resolution, bounded load
ANY_NEW = "*"  # `complete(next_key=ANY_NEW)`: time the first new open task, whatever it is
LATE_RECEIPT_GRACE = timedelta(seconds=8)


class InboxTimeout(AssertionError):
    """The inbox did not show what was waited for within the bound."""


async def bounded(awaitable: Awaitable[T], timeout: float = CALL_TIMEOUT) -> T:
    """`asyncio.wait_for` that also collects the call's own error after a timeout.

    The SDK answers the cancellation of an update with an exception of its own, which
    `wait_for` leaves unretrieved ("Task exception was never retrieved" on stderr).
    """
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.wait({task})
        with contextlib.suppress(BaseException):
            task.result()
        raise TimeoutError(f"no answer within {timeout:.0f} s")
    return task.result()


class InboxRow(Protocol):
    task_id: str
    key: str
    role: str
    status: str
    due_at: datetime


class Inbox(Protocol):
    async def rows(self, workflow_id: str) -> list[Any]:
        """Every inbox row of the case (any status)."""
        ...


class StoreInbox:
    """The store's inbox rows of a case (`store.task_states`: the columns an inbox list shows,
    as the bench's baseline reads its own)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def rows(self, workflow_id: str) -> list[Any]:
        return await self.store.task_states(workflow_id)


# submit(case_number, completion JSON) → anything; raises on a refusal
Submit = Callable[[str, Mapping[str, Any]], Awaitable[Any]]


@dataclass
class StepTiming:
    """One completed task, timed with `time.perf_counter()`."""

    workflow_id: str
    key: str
    task_id: str
    sent_at: float
    update_seconds: float  # until `submit_task` returned
    done_seconds: float | None = None  # until the task's inbox row showed `done`
    next_key: str | None = None
    next_seconds: float | None = None  # until the next task's inbox row showed `open`
    next_timer_opened: bool = False  # the next task came from a timer: not a step latency

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Staff:
    """Completes tasks as staff would; `submit` defaults to `service.submit_task`."""

    inbox: Inbox
    submit: Submit
    poll_seconds: float = FIRST_POLL
    max_poll_seconds: float = MAX_POLL
    wait_seconds: float = WAIT_SECONDS
    call_timeout: float = CALL_TIMEOUT

    @classmethod
    def for_service(cls, service: Any, store: Any | None = None, **options: Any) -> Staff:
        """Staff working through a `CaseService` and the store's inbox."""
        store = store if store is not None else service.store
        if store is None:
            raise ValueError("staff need the store's inbox")

        async def submit(case_number: str, payload: Mapping[str, Any]) -> Any:
            return await service.submit_task(
                case_number, payload, timeout=options.get("call_timeout", CALL_TIMEOUT)
            )

        return cls(inbox=StoreInbox(store), submit=submit, **options)

    # -- reading the inbox ----------------------------------------------------------------

    async def rows(self, workflow_id: str, status: str | None = None) -> list[Any]:
        rows = await bounded(self.inbox.rows(workflow_id), self.call_timeout)
        return [r for r in rows if status is None or r.status == status]

    async def wait_row(
        self,
        workflow_id: str,
        predicate: Callable[[Any], bool],
        what: str,
        timeout: float | None = None,
    ) -> Any:
        """The first inbox row matching `predicate`, polling (5 ms, backing off to 50 ms)
        for at most `timeout` seconds; raises InboxTimeout."""
        deadline = time.monotonic() + (self.wait_seconds if timeout is None else timeout)
        pause = self.poll_seconds
        while True:
            for row in await self.rows(workflow_id):
                if predicate(row):
                    return row
            if time.monotonic() > deadline:
                raise InboxTimeout(f"{workflow_id}: no inbox row {what}")
            await asyncio.sleep(pause)
            pause = min(self.max_poll_seconds, pause * POLL_GROWTH)

    async def wait_open(
        self,
        workflow_id: str,
        key: str | None = None,
        *,
        skip: Collection[str] = (),
        timeout: float | None = None,
    ) -> Any:
        """An open inbox row (of task `key`, if given) whose task id is not in `skip`."""
        return await self.wait_row(
            workflow_id,
            lambda r: (
                r.status == "open" and (key is None or r.key == key) and r.task_id not in skip
            ),
            f"open for {key or 'any task'}",
            timeout,
        )

    async def wait_status(
        self, workflow_id: str, task_id: str, status: str = "open", timeout: float | None = None
    ) -> Any:
        return await self.wait_row(
            workflow_id,
            lambda r: r.task_id == task_id and r.status == status,
            f"{task_id} with status {status}",
            timeout,
        )

    # -- acting ---------------------------------------------------------------------------

    async def complete(
        self,
        case_number: str,
        workflow_id: str,
        row: Any,
        decided: Mapping[str, Any],
        *,
        actor: Any | None = None,
        reason: str | None = None,
        next_key: str | None = None,
        wait_done: bool = True,
    ) -> StepTiming:
        """Complete the task of the open inbox row `row` with `decided`, then time the inbox.

        `next_key`: the task staff go on to (its row not open before the completion), or
        ANY_NEW for the first task that opens after it; None: nothing to time. A next task
        already open when the completion was sent is not timed (this step did not gate it).
        """
        before: set[str] = set()
        measure_next = next_key is not None
        if measure_next:
            open_before = await self.rows(workflow_id, "open")
            before = {r.task_id for r in open_before}
            if next_key != ANY_NEW and any(r.key == next_key for r in open_before):
                measure_next = False
        payload = completion(
            row.key, row.task_id, row.role, dict(decided), actor=actor, reason=reason
        )
        sent = time.perf_counter()
        await self.submit(case_number, payload)
        timing = StepTiming(workflow_id, row.key, row.task_id, sent, time.perf_counter() - sent)
        if wait_done:
            await self.wait_status(workflow_id, row.task_id, "done")
            timing.done_seconds = time.perf_counter() - sent
        if measure_next:
            with contextlib.suppress(InboxTimeout):
                opened = await self.wait_row(
                    workflow_id,
                    lambda r: (
                        r.status == "open"
                        and r.task_id not in before
                        and r.task_id != row.task_id
                        and (next_key == ANY_NEW or r.key == next_key)
                    ),
                    f"open after {row.task_id}",
                )
                timing.next_key = opened.key
                timing.next_seconds = time.perf_counter() - sent
                timing.next_timer_opened = opened.key in TIMER_OPENED
        return timing

    async def drive_script(
        self,
        case_number: str,
        workflow_id: str,
        keys: list[str] | tuple[str, ...],
        decide: Callable[[Any, datetime], Mapping[str, Any]],
    ) -> list[StepTiming]:
        """Complete `keys` in this order, each once its row is open; times each step."""
        timings: list[StepTiming] = []
        done: set[str] = set()
        for index, key in enumerate(keys):
            row = await self.wait_open(workflow_id, key, skip=done)
            following = keys[index + 1] if index + 1 < len(keys) else None
            timing = await self.complete(
                case_number,
                workflow_id,
                row,
                decide(row, datetime.now(UTC)),
                next_key=following,
            )
            done.add(row.task_id)
            timings.append(timing)
        return timings

    async def drive_to_close(
        self,
        case_number: str,
        workflow_id: str,
        decide: Callable[[Any, datetime], Mapping[str, Any]],
        *,
        late_receipt: bool = False,
        on_completed: Callable[[StepTiming], Awaitable[None]] | None = None,
        timeout: float = 300.0,
    ) -> list[StepTiming]:
        """Complete whatever opens, until the last follow-up closes the case.

        A late receipt (`late_receipt`) is entered only after its follow-up task was done, or
        well after its due time. Times every step; the next task is timed when nothing else
        was open (this step gated the case)."""
        deadline = time.monotonic() + timeout
        timings: list[StepTiming] = []
        done: set[str] = set()
        while time.monotonic() < deadline:
            open_rows = [r for r in await self.rows(workflow_id, "open") if r.task_id not in done]
            ready = [r for r in open_rows if self._ready(r, done, late_receipt)]
            if not ready:
                await asyncio.sleep(self.max_poll_seconds)
                continue
            row = ready[0]
            decided = decide(row, datetime.now(UTC))
            closing = row.key == FOLLOW_UP and decided.get("outcome") == "close"
            gated = len(open_rows) == 1 and not closing
            timing = await self.complete(
                case_number,
                workflow_id,
                row,
                decided,
                next_key=ANY_NEW if gated else None,
            )
            done.add(row.task_id)
            timings.append(timing)
            if on_completed is not None:
                await on_completed(timing)
            if closing:
                return timings
        raise InboxTimeout(f"{workflow_id}: not closed within {timeout:.0f} s")

    @staticmethod
    def _ready(row: Any, done: set[str], late_receipt: bool) -> bool:
        if row.key != RECEIPT or not late_receipt:
            return True
        chased = any(task_id.startswith(RECEIPT_FOLLOW_UP) for task_id in done)
        return chased or datetime.now(UTC) > row.due_at + LATE_RECEIPT_GRACE


@dataclass
class Timings:
    """Latencies of many steps, for percentiles."""

    steps: list[StepTiming] = field(default_factory=list)

    def done(self) -> list[float]:
        return [s.done_seconds for s in self.steps if s.done_seconds is not None]

    def next(self) -> list[float]:
        return [
            s.next_seconds
            for s in self.steps
            if s.next_seconds is not None and not s.next_timer_opened
        ]
