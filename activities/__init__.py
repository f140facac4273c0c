"""Every side effect of a case: procedure loading, the inbox, the timeline, the outbox, notes.

Each activity is idempotent (keyed by workflow id + task id, seq or notification key), so a
retry after a failure never makes a second row.
"""

from activities.case_activities import CaseActivities

__all__ = ["CaseActivities"]
