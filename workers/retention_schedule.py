"""The Temporal Schedule that runs the retention sweep daily.

Its configuration (SAGSFLOW_RETENTION_DAYS, SAGSFLOW_RETENTION_DRY_RUN,
SAGSFLOW_RETENTION_SCHEDULE) is `core.settings.RetentionSettings`. Every worker start makes the
schedule match the configuration: created if missing, updated if it exists (a pause set by an
operator is kept).
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from core.settings import DEFAULT_CRON, RetentionSettings
from schemas.retention import RetentionSweepInput
from workflows.retention import RetentionSweep

log = structlog.get_logger("sagsflow.retention")

SCHEDULE_ID = "sagsflow-retention"
# The schedule appends the scheduled time to this, e.g. sagsflow-retention-2026-11-26T01:15:00Z.
WORKFLOW_ID_PREFIX = "sagsflow-retention"
TIME_ZONE = "Europe/Copenhagen"
# A sweep missed while the server was down runs when it is back, if that is within a day.
CATCHUP_WINDOW = timedelta(days=1)


def retention_schedule(
    task_queue: str, retention_days: int, dry_run: bool, cron: str = DEFAULT_CRON
) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionSweep.run,
            RetentionSweepInput(retention_days=retention_days, dry_run=dry_run),
            id=WORKFLOW_ID_PREFIX,
            task_queue=task_queue,
            static_summary=(
                f"Slet persondata {retention_days} dage efter sagens afslutning"
                + (" (prøvekørsel)" if dry_run else "")
            ),
        ),
        spec=ScheduleSpec(cron_expressions=[cron], time_zone_name=TIME_ZONE),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(
            note="Opbevaring: persondata i afsluttede sager slettes efter "
            f"{retention_days} dage (sagsflow)"
        ),
    )


async def ensure_retention_schedule(
    client: Client,
    task_queue: str,
    retention_days: int,
    dry_run: bool,
    cron: str = DEFAULT_CRON,
) -> ScheduleHandle:
    """Creates the schedule `sagsflow-retention`, or updates it to this configuration.

    Creating is not idempotent (a second create fails), so: create, and on "already exists"
    update. Two workers starting at once both end with the same schedule.
    """
    schedule = retention_schedule(task_queue, retention_days, dry_run, cron)
    try:
        handle = await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        pass
    except RPCError as exc:
        _raise_configuration_error(exc, cron)
        raise
    else:
        log.info(
            "retention schedule created",
            schedule_id=SCHEDULE_ID,
            retention_days=retention_days,
            dry_run=dry_run,
            cron=cron,
        )
        return handle

    def keep_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
        # An operator's pause (and its note) survives a worker restart.
        schedule.state = current.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    handle = client.get_schedule_handle(SCHEDULE_ID)
    try:
        await handle.update(keep_state)
    except RPCError as exc:
        _raise_configuration_error(exc, cron)
        raise
    log.info(
        "retention schedule updated",
        schedule_id=SCHEDULE_ID,
        retention_days=retention_days,
        dry_run=dry_run,
        cron=cron,
    )
    return handle


async def schedule_retention(
    client: Client, task_queue: str, settings: RetentionSettings | None = None
) -> ScheduleHandle | None:
    """What a worker does at start: the schedule as configured (environment unless given).

    None when the configuration says `off`, or when the server has no schedules (the
    time-skipping test server): then it says so in the log.
    """
    settings = settings or RetentionSettings.from_env()
    if settings.cron is None:
        log.info("retention schedule not managed here", variable=RetentionSettings.variable("cron"))
        return None
    try:
        return await ensure_retention_schedule(
            client, task_queue, settings.retention_days, settings.dry_run, settings.cron
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        log.warning(
            "retention schedule unavailable: this Temporal server has no schedules",
            schedule_id=SCHEDULE_ID,
        )
        return None


def _raise_configuration_error(exc: RPCError, cron: str) -> None:
    """A refused schedule is a configuration error (e.g. a bad cron), named as one."""
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        raise ValueError(
            f"{RetentionSettings.variable('cron')}={cron!r} was refused by Temporal: {exc.message}"
        ) from exc
