"""Staff, played by the suite: one driver per case, acting only on recorded state.

The rule of DESIGN.md ("staff act on recorded state"): a driver acts on a task only when its
inbox row exists in the store with status `open` — never on what a query showed, since a query
can see state of a workflow task that is later lost. Every call to Temporal is bounded
(`driver.staff.bounded`, an `asyncio.wait_for`) and retried while the worker or the server
is down; a refusal because the task is already done is the expected answer to a retry whose
first attempt did land.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from chaos.cases import STAFF, Route, case_input, completion
from driver.decisions import RECEIPT, RECEIPT_FOLLOW_UP
from driver.staff import LATE_RECEIPT_GRACE, bounded
from schemas.common import StaffRole, case_workflow_id
from schemas.messages import PressInquiry
from service.cases import CaseError, CaseExists, CaseService, TaskRejected
from store import Store

CALL_TIMEOUT = 10.0  # one staff action; the platform would show a spinner no longer
POLL_SECONDS = 0.4
DESCRIBE_EVERY = 2.0
# Refusals that mean "your earlier attempt (or the case) already took care of it".
_SETTLED_REFUSALS = (
    "already done",
    "superseded",
    "was closed",
    "has ended",
    "er allerede",
    "afsluttet",
)


def _is_settled(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _SETTLED_REFUSALS)


@dataclass
class CaseDriver:
    """Plays staff on one case from opening to closing (or until the drive deadline)."""

    index: int
    route: Route
    service: CaseService
    store: Store
    rng: random.Random
    run_tag: str
    case_number: str = ""
    workflow_id: str = ""
    opened: bool = False
    closed: bool = False
    final_status: str | None = None
    # task id → the completion sent for it, fixed on first use so every retry is identical
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    completed: set[str] = field(default_factory=set)
    settled_on_retry: int = 0
    retries: int = 0
    refusals: list[str] = field(default_factory=list)  # unexpected TaskRejected texts
    errors: dict[str, int] = field(default_factory=dict)  # retryable error type → count
    pressed: bool = False
    # poison bookkeeping, written by the fault injector
    poison_delivered: int = 0
    poison_refused_closed: int = 0
    poison_kinds: dict[str, int] = field(default_factory=dict)
    faults_seen: int = 0  # worker kills and server restarts while this case was running
    started_at: float = 0.0
    ended_at: float | None = None

    def __post_init__(self) -> None:
        self.case = case_input(self.route, datetime.now(UTC), self.run_tag)
        self.case_number = self.case.case_number
        self.workflow_id = case_workflow_id(self.case_number)

    # -- the run ------------------------------------------------------------------------

    async def run(self, deadline: float) -> None:
        self.started_at = time.monotonic()
        await self._open(deadline)
        last_describe = 0.0
        while not self.closed and time.monotonic() < deadline:
            rows = await self._open_rows()
            for row in rows:
                if time.monotonic() >= deadline:
                    break
                if row.task_id in self.completed or not self._ready(row):
                    continue
                await self._complete(row, deadline)
            await self._maybe_press(deadline)
            if time.monotonic() - last_describe > DESCRIBE_EVERY:
                last_describe = time.monotonic()
                await self._check_closed()
            await asyncio.sleep(POLL_SECONDS)
        self.ended_at = time.monotonic()

    async def _open(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                await bounded(self.service.open_case(self.case), CALL_TIMEOUT)
                self.opened = True
                return
            except CaseExists:
                self.opened = True  # an earlier attempt landed, its answer was lost
                return
            except Exception as exc:  # noqa: BLE001 - server down or slow: retry
                self._retryable(exc)
                await asyncio.sleep(self.rng.uniform(0.5, 1.5))

    async def _open_rows(self) -> list[Any]:
        try:
            return await bounded(
                self.store.list_tasks(workflow_id=self.workflow_id, status="open"), CALL_TIMEOUT
            )
        except Exception as exc:  # noqa: BLE001 - a busy SQLite file: look again later
            self._retryable(exc)
            return []

    def _ready(self, row: Any) -> bool:
        if row.key != RECEIPT or not self.route.late_receipt:
            return True
        # The municipality is late: the receipt arrives after the school chased it (its
        # follow-up task is done), or well after its due time.
        chased = any(task_id.startswith(RECEIPT_FOLLOW_UP) for task_id in self.completed)
        return chased or datetime.now(UTC) > row.due_at + LATE_RECEIPT_GRACE

    async def _complete(self, row: Any, deadline: float) -> None:
        # Staff take a moment: spreads the load and lets faults land between steps.
        await asyncio.sleep(self.rng.uniform(0.0, 0.6))
        payload = self.sent.setdefault(
            row.task_id, completion(self.route, row.key, row.task_id, row.role, datetime.now(UTC))
        )
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            try:
                await bounded(self.service.submit_task(self.case_number, payload), CALL_TIMEOUT)
                self.completed.add(row.task_id)
                return
            except TaskRejected as exc:
                self.completed.add(row.task_id)  # retrying a refused decision cannot help
                if attempt > 1 and _is_settled(str(exc)):
                    self.settled_on_retry += 1  # the earlier attempt landed
                else:
                    # Refused at once although the inbox row said open: worth reporting.
                    self.refusals.append(f"{row.task_id}: {exc}")
                return
            except CaseError as exc:
                if "has ended" in str(exc):
                    self.completed.add(row.task_id)
                    return
                self._retryable(exc)
            except Exception as exc:  # noqa: BLE001 - RPC error or timeout: retry
                self._retryable(exc)
            self.retries += 1
            await asyncio.sleep(min(3.0, 0.3 * attempt) + self.rng.uniform(0, 0.5))

    async def _maybe_press(self, deadline: float) -> None:
        """A journalist calls once the note is written (a valid press inquiry)."""
        if not self.route.press or self.pressed:
            return
        if not any(t.startswith("document.note") for t in self.completed):
            return
        while time.monotonic() < deadline:
            try:
                await bounded(
                    self.service.press_inquiry(
                        self.case_number,
                        PressInquiry(
                            received_by=STAFF[StaffRole.LEADERSHIP],
                            medium="Lokalavisen",
                            summary="Journalist spørger til sagen",
                        ),
                    ),
                    CALL_TIMEOUT,
                )
                self.pressed = True
                return
            except CaseError:
                self.pressed = True  # the case ended first
                return
            except Exception as exc:  # noqa: BLE001 - retry
                self._retryable(exc)
                await asyncio.sleep(1.0)

    async def _check_closed(self) -> None:
        try:
            described = await bounded(
                self.service.handle(self.case_number).describe(), CALL_TIMEOUT
            )
        except Exception as exc:  # noqa: BLE001 - server down: ask again later
            self._retryable(exc)
            return
        if described.status not in (None, WorkflowExecutionStatus.RUNNING):
            self.closed = True
            self.final_status = described.status.name.lower()

    def _retryable(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1
