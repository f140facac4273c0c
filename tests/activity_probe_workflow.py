"""Test-only workflows that call the real case activities, one after another.

They live in an importable module because Temporal validates workflow classes by importing
them (a class in a test file's `__main__` fails validation).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import CaseActivities
    from procedure.models import Procedure
    from schemas.activities import (
        CaseRecord,
        CloseTaskRequest,
        LoadProcedureRequest,
        NotificationRequest,
        OpenTaskRequest,
        TaskFlagsRequest,
        TimelineBatch,
    )

# Retries come quickly so a test with an injected failure stays fast.
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100))
ACTIVITY_TIMEOUT = timedelta(seconds=10)


class InboxProbe(BaseModel):
    case: CaseRecord
    task: OpenTaskRequest
    reminder: TaskFlagsRequest
    timeline: TimelineBatch
    notification: NotificationRequest
    close: CloseTaskRequest


@workflow.defn
class InboxProbeWorkflow:
    """Writes a case, a task, its reminder flag, events, a notification, and closes the task."""

    @workflow.run
    async def run(self, probe: InboxProbe) -> None:
        steps = [
            (CaseActivities.record_case, probe.case),
            (CaseActivities.open_task, probe.task),
            (CaseActivities.update_task, probe.reminder),
            (CaseActivities.append_timeline, probe.timeline),
            (CaseActivities.enqueue_notification, probe.notification),
            (CaseActivities.close_task, probe.close),
        ]
        for activity_method, argument in steps:
            await workflow.execute_activity_method(
                activity_method,
                argument,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=FAST_RETRY,
            )


@workflow.defn
class LoadProcedureProbeWorkflow:
    @workflow.run
    async def run(self, request: LoadProcedureRequest) -> Procedure:
        return await workflow.execute_activity_method(
            CaseActivities.load_procedure,
            request,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=FAST_RETRY,
        )
