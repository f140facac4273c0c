"""The retention sweep's one side effect: remove personal data of long-closed cases.

Logs counts and the cutoff only: no case texts, no names, no staff ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from temporalio import activity

from schemas.retention import RetentionReport, RetentionRequest
from store import Store

log = structlog.get_logger("sagsflow.retention")


class RetentionActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    def all(self) -> list[Callable[..., Any]]:
        """The bound activities, for `Worker(activities=...)`."""
        return [self.apply_retention]

    @activity.defn(name="apply_retention")
    async def apply_retention(self, request: RetentionRequest) -> RetentionReport:
        cutoff = request.as_of - timedelta(days=request.retention_days)
        beating = asyncio.create_task(_heartbeat_until_done())
        try:
            cases = await self.store.apply_retention(
                cutoff, dry_run=request.dry_run, at=request.as_of
            )
        finally:
            beating.cancel()
        report = RetentionReport.of(request, cutoff, cases)
        log.info(
            "retention sweep done",
            dry_run=request.dry_run,
            retention_days=request.retention_days,
            cutoff=cutoff.isoformat(),
            attempt=activity.info().attempt,
            **report.totals.model_dump(),
        )
        return report


async def _heartbeat_until_done(every: float = 3.0) -> None:
    """Tells Temporal the sweep is alive (workflows/retention.py sets a heartbeat timeout), so
    that a sweep whose worker died is retried at once instead of after the whole timeout."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(every)
