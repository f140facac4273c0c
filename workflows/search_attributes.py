"""The case's custom search attributes (DESIGN.md). Never personal data."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

CASE_NUMBER = SearchAttributeKey.for_keyword("CaseNumber")
SCHOOL_ID = SearchAttributeKey.for_keyword("SchoolId")
CASE_PHASE = SearchAttributeKey.for_keyword("CasePhase")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_ROUTE = SearchAttributeKey.for_keyword("CaseRoute")
CASE_SEVERITY = SearchAttributeKey.for_keyword("CaseSeverity")
OPEN_TASK_COUNT = SearchAttributeKey.for_int("OpenTaskCount")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
HAS_OVERDUE_TASK = SearchAttributeKey.for_bool("HasOverdueTask")

# Annotated: the keys' value types differ, so mypy would otherwise infer list[object].
ALL: list[SearchAttributeKey[Any]] = [
    CASE_NUMBER,
    SCHOOL_ID,
    CASE_PHASE,
    CASE_STATUS,
    CASE_ROUTE,
    CASE_SEVERITY,
    OPEN_TASK_COUNT,
    NEXT_DEADLINE,
    HAS_OVERDUE_TASK,
]
