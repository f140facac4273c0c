"""What the routes share: the services from the app's state, path parameters, and helpers
that read a case with a time limit and record failures in the access log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, get_args

from fastapi import Depends, Path, Request
from pydantic import StringConstraints

from api.access import AccessDenied, AccessLogUnavailable, Audit
from api.errors import CaseEnded
from schemas.common import TASK_ID_MAX, TASK_ID_PATTERN, CaseNumber
from schemas.snapshot import CaseSnapshot
from service.cases import QUERY_TIMEOUT_SECONDS, CaseFacts, CaseNotProgressing, CaseService
from store import Store

CASE_NUMBER_PATTERN = next(
    meta.pattern for meta in get_args(CaseNumber)[1:] if isinstance(meta, StringConstraints)
)


def get_service(request: Request) -> CaseService:
    return request.app.state.service


def get_store(request: Request) -> Store:
    return request.app.state.store


ServiceDep = Annotated[CaseService, Depends(get_service)]
StoreDep = Annotated[Store, Depends(get_store)]
CaseNumberPath = Annotated[
    str,
    Path(
        pattern=CASE_NUMBER_PATTERN,
        max_length=40,
        description="The municipality's case number, e.g. 2026-0042.",
    ),
]
TaskIdPath = Annotated[
    str,
    Path(
        pattern=TASK_ID_PATTERN,
        max_length=TASK_ID_MAX,
        description="A task instance: its key (e.g. 'assess.uncover'), or key and number "
        "when the task occurs more than once (e.g. 'treat.press-2').",
    ),
]


def task_key_of(task_id: str) -> str:
    """'treat.press-2' → 'treat.press'."""
    key, _, number = task_id.rpartition("-")
    return key if key and number.isdigit() else task_id


async def snapshot_of(service: CaseService, case_number: str) -> CaseSnapshot:
    """The case's snapshot; a case that cannot answer in time raises CaseNotProgressing (503)."""
    try:
        # The service bounds the query itself; this also bounds a hung connection.
        return await asyncio.wait_for(service.snapshot(case_number), QUERY_TIMEOUT_SECONDS + 5)
    except TimeoutError as exc:
        raise CaseNotProgressing(case_number) from exc


def require_running(facts: CaseFacts) -> None:
    """Ended → 409. Running but its workflow task failing → 503: a message sent now would
    wait in a case that is not being processed (or be dropped by the operator's reset)."""
    if facts.ended:
        raise CaseEnded(facts.case_number)
    if facts.stuck:
        raise CaseNotProgressing(facts.case_number)


@asynccontextmanager
async def recorded(
    audit: Audit, action: str, case_number: str | None, detail: str | None = None
) -> AsyncIterator[None]:
    """Whatever fails after the access was logged as allowed is logged as failed, too."""
    try:
        yield
    except (AccessDenied, AccessLogUnavailable):
        raise
    except Exception as exc:
        note = type(exc).__name__ if detail is None else f"{detail}; {type(exc).__name__}"
        await audit.failed(action, case_number, note)
        raise
