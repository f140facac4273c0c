"""The read model and record: inbox, timeline, outbox and case list (SQLAlchemy 2, async).

The workflow is the source of truth for where a case stands; the store mirrors it for the
platform's screens. Every write is idempotent so an activity retry never duplicates a row.
"""

from store.engine import DEFAULT_DATABASE_URL
from store.models import (
    AccessLogRow,
    CaseRow,
    OutboxRow,
    ParticipantRow,
    StaffRow,
    TaskRow,
    TimelineEventRow,
)
from store.repository import Store
from store.types import NaiveDatetimeError

__all__ = [
    "AccessLogRow",
    "DEFAULT_DATABASE_URL",
    "CaseRow",
    "NaiveDatetimeError",
    "OutboxRow",
    "ParticipantRow",
    "StaffRow",
    "Store",
    "TaskRow",
    "TimelineEventRow",
]
