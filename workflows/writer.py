"""The case's writes to the store: the one store writer and the case row it carries.

Part of the lean core (workflows/core.py). Whatever one activation changes reaches the store as
ONE EffectBatch (workflows/state.py) through the local activity `apply_effects`: `_store_writer`
takes each activation's effects and, after each write, decides whether it is time for the case
to continue as new (`_time_to_continue`). `_record_case` keeps the case row of the next batch
current, and `_release_held_time` ends the first activation's held time (see CaseCore.run).
STORE_RETRY and STORE_TIMEOUT bound every local activity of the case.

Deterministic code only: time from workflow.now() (through `_now`), side effects in the local
activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import CaseActivities
    from schemas.activities import CaseRecord
    from workflows import continuation, texts
    from workflows.state import CaseState, Effects
    from workflows.steps import CASE_LEVEL_TASKS

# A short write to the store: retried fast, and capped, so a store outage ends in a catch-up
# within seconds of its return.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    non_retryable_error_types=[
        "UnknownProcedureVersion",
        "InvalidProcedure",
        "InvalidActivityInput",
    ],
)
STORE_TIMEOUT = timedelta(seconds=10)


class CaseWriter:
    state: CaseState
    effects: Effects
    _case_jobs: list[asyncio.Task[Any]]
    _continue_now: bool
    _finished: bool
    _held_time: datetime | None
    _now: Callable[[], datetime]
    _publish: Callable[[], None]

    async def _store_writer(self) -> None:
        """Carry each activation's effects to the store: one batch, one local activity."""
        s, fx = self.state, self.effects
        while True:
            await workflow.wait_condition(lambda: fx.pending(s.timeline) or self._finished)
            if not fx.pending(s.timeline):
                return
            # One more pass, so that the steps this activation set going (the next task of
            # the card after a completion) are in the same batch.
            await workflow.wait_condition(lambda: True)
            self._publish()
            # The content of a local activity's input is not part of the history, so the first
            # live write of this worker (after a reset, continue-as-new or a restart) may bring
            # the whole case along for the store to follow, without changing any command.
            sync = fx.needs_sync and not workflow.unsafe.is_replaying()
            batch = fx.take(
                workflow.info().workflow_id, s.case.case_number, s, workflow.info().run_id, sync
            )
            if sync:
                fx.needs_sync = False
            fx.in_flight = True
            try:
                await workflow.execute_local_activity_method(
                    CaseActivities.apply_effects,
                    batch,
                    start_to_close_timeout=STORE_TIMEOUT,
                    retry_policy=STORE_RETRY,
                    summary=texts.batch_summary(batch),
                )
            finally:
                fx.in_flight = False
            if not self._continue_now and self._time_to_continue():
                self._continue_now = True

    def _time_to_continue(self) -> bool:
        if workflow.info().get_current_history_length() < continuation.CONTINUE_AS_NEW_AFTER:
            return False
        return continuation.quiet(
            self.state, all(job.done() for job in self._case_jobs), CASE_LEVEL_TASKS
        )

    def _record_case(self, closed: bool = False) -> None:
        s = self.state
        self.effects.case = CaseRecord(
            workflow_id=workflow.info().workflow_id,
            case_number=s.case.case_number,
            school_id=s.case.school_id,
            phase=s.phase,
            status=s.status,
            route=s.route,
            severity=s.severity,
            opened_at=workflow.info().start_time,
            closed_at=self._now() if closed else None,
        )

    async def _release_held_time(self) -> None:
        # Released once every step this activation set going has opened its tasks.
        await workflow.wait_condition(lambda: True)
        self._held_time = None
