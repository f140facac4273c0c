"""Counting a case's history: events, activities, timers, and Temporal Cloud actions.

Actions are estimated from the history the way Temporal Cloud bills them
(https://docs.temporal.io/cloud/actions):

- workflow started: 1 (WORKFLOW_EXECUTION_STARTED; also each child workflow started);
- each signal received (WORKFLOW_EXECUTION_SIGNALED) and each update accepted
  (WORKFLOW_EXECUTION_UPDATE_ACCEPTED; rejected updates are billed too but leave no event —
  the benchmark sends none);
- each activity scheduled (ACTIVITY_TASK_SCHEDULED) plus each retry (ACTIVITY_TASK_STARTED
  with attempt > 1);
- local activities: all local-activity markers recorded in one workflow task count as one
  action (markers named `core_local_activity`, grouped by their workflow task);
- each other marker (patch/version markers, side effects: MARKER_RECORDED);
- each timer started (TIMER_STARTED);
- each search-attribute upsert (UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) and memo change
  (WORKFLOW_PROPERTIES_MODIFIED);
- each signal sent to another workflow (SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED).

Queries, heartbeats and workflow tasks are not in this estimate (the benchmark's staff read the
inbox, never query; no activity heartbeats).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType

LOCAL_ACTIVITY_MARKER = "core_local_activity"


def count_history(history: Any) -> dict[str, int]:
    """Counts of one workflow history (`WorkflowHistory` from `handle.fetch_history()`)."""
    kinds: Counter[int] = Counter()
    local_activities = 0
    local_activity_tasks: set[int] = set()
    other_markers = 0
    retries = 0
    for event in history.events:
        kinds[event.event_type] += 1
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            attrs = event.marker_recorded_event_attributes
            if attrs.marker_name == LOCAL_ACTIVITY_MARKER:
                local_activities += 1
                local_activity_tasks.add(attrs.workflow_task_completed_event_id)
            else:
                other_markers += 1
        elif (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and event.activity_task_started_event_attributes.attempt > 1
        ):
            retries += 1
    activities = kinds[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    counts = {
        "events": len(history.events),
        "activities": activities,
        "local_activities": local_activities,
        "activities_total": activities + local_activities,
        "timers": kinds[EventType.EVENT_TYPE_TIMER_STARTED],
        "signals": kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED],
        "updates": kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED],
        "search_attribute_upserts": kinds[EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES],
        "properties_modified": kinds[EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED],
        "other_markers": other_markers,
        "workflow_tasks": kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED],
    }
    counts["actions"] = (
        kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]
        + kinds[EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED]
        + counts["signals"]
        + counts["updates"]
        + activities
        + retries
        + len(local_activity_tasks)
        + other_markers
        + counts["timers"]
        + counts["search_attribute_upserts"]
        + counts["properties_modified"]
        + kinds[EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED]
    )
    return counts
