"""`RetentionSweep`: removes the personal data of cases that ended longer ago than the
configured period; the case skeleton stays for statistics.

Started daily by the Temporal Schedule `sagsflow-retention` (workers/retention_schedule.py),
or on demand by `sagsflow retention` (a dry run unless told to apply). Deterministic: the
sweep's moment is workflow.now(), the work is one idempotent activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.retention import RetentionReport, RetentionRequest, RetentionSweepInput

RETENTION_SUMMARY = "Slet persondata i afsluttede sager"
# A database outage is retried; a sweep still failing after half a day gives up (visibly, in
# the UI) well before the next day's run.
RETENTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=10),
)
# The activity heartbeats while it works: a sweep on a killed worker runs again within seconds,
# not after the whole start-to-close time.
RETENTION_HEARTBEAT = timedelta(seconds=10)
RETENTION_START_TO_CLOSE = timedelta(minutes=10)
RETENTION_SCHEDULE_TO_CLOSE = timedelta(hours=12)


@workflow.defn(name="RetentionSweep")
class RetentionSweep:
    @workflow.run
    async def run(self, sweep: RetentionSweepInput) -> RetentionReport:
        request = RetentionRequest(
            retention_days=sweep.retention_days,
            dry_run=sweep.dry_run,
            as_of=workflow.now(),
        )
        report: RetentionReport = await workflow.execute_activity(
            "apply_retention",
            request,
            start_to_close_timeout=RETENTION_START_TO_CLOSE,
            schedule_to_close_timeout=RETENTION_SCHEDULE_TO_CLOSE,
            heartbeat_timeout=RETENTION_HEARTBEAT,
            retry_policy=RETENTION_RETRY,
            summary=RETENTION_SUMMARY + (" (prøvekørsel)" if sweep.dry_run else ""),
            result_type=RetentionReport,
        )
        totals = report.totals
        workflow.set_current_details(
            f"**{'Prøvekørsel' if report.dry_run else 'Sletning'}** · "
            f"opbevaringsperiode {report.retention_days} dage · "
            f"sager {totals.cases} · deltagere {totals.participants_deleted} · "
            f"tekster {totals.timeline_texts_anonymised} · opgaver {totals.tasks_cleared} · "
            f"beskeder {totals.outbox_deleted}"
        )
        return report
