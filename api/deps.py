"""What the routes share: the services from the app's state, path parameters, helpers that
read a case with a time limit and record failures in the access log, and `case_access`: the
dependency that finds a case, applies the action's policy and logs the access, once for every
route on a case."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from types import EllipsisType
from typing import Annotated, Any, Generic, NoReturn, Protocol, TypeVar, get_args

from fastapi import Depends, Path, Request
from pydantic import StringConstraints

from api import policy
from api.access import AccessDenied, AccessLogUnavailable, Audit, AuditDep
from api.errors import CaseEnded
from api.limits import admit_message
from api.policy import Denial
from api.staff import Staff
from core.timeouts import QUERY_TIMEOUT_SECONDS
from schemas.common import TASK_ID_MAX, TASK_ID_PATTERN, CaseNumber
from schemas.snapshot import CaseSnapshot
from service.cases import CaseFacts, CaseNotFound, CaseNotProgressing, CaseService, NameInText
from store import Store, TaskRow

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
        description="A task instance: its key (e.g. 'assess.uncover'); in a later round the "
        "key and the round (e.g. 'assess.uncover-r2'); with a number when the task occurs "
        "more than once in its round (e.g. 'treat.press-2', 'treat.press-r2-2').",
    ),
]


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


# --- A request on one case: found, allowed and logged in one place -------------------------

B = TypeVar("B")
In = TypeVar("In", bound="AboutCase")

Rule = Callable[[Staff, str], Denial]
"""A policy rule (api.policy): may this member of staff do it on a case of this school?"""


class AboutCase(Protocol):
    """What every route on a case is given first: which case."""

    @property
    def case_number(self) -> str: ...


@dataclass(frozen=True)
class CaseParams(Generic[B]):
    """What a request on a case says, validated: the case and the body (None: no body)."""

    case_number: str
    body: B


@dataclass(frozen=True)
class TaskParams(CaseParams[B]):
    """... and the task it is about."""

    task_id: str


def _validating(
    make: Callable[..., Any], parameters: list[inspect.Parameter]
) -> Callable[..., Any]:
    async def validated(**given: Any) -> Any:
        return make(**given)

    # FastAPI reads a dependency's parameters from its signature. This one names the route's
    # body model, which a function written once for every route cannot spell in annotations.
    validated.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return validated


def _parameter(name: str, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def case_params(body: type[B] | None = None) -> Callable[..., Awaitable[CaseParams[B]]]:
    """The dependency that validates a route's case number and body (a model, if any).

    They are declared in the order the routes declared them (path, then body), so FastAPI
    validates them together and words a refusal (422) as it did; and since `case_access`
    depends on this, nothing is looked up or logged for a request that is not valid.
    """
    parameters = [_parameter("case_number", CaseNumberPath)]
    if body is not None:
        parameters.append(_parameter("body", body))
    return _validating(
        lambda case_number, body=None: CaseParams(case_number=case_number, body=body), parameters
    )


def task_params(body: type[B]) -> Callable[..., Awaitable[TaskParams[B]]]:
    """As `case_params`, for a route on one task of a case: case number, task id, body."""
    parameters = [
        _parameter("case_number", CaseNumberPath),
        _parameter("task_id", TaskIdPath),
        _parameter("body", body),
    ]
    return _validating(TaskParams, parameters)


CASE_ONLY: Callable[..., Awaitable[CaseParams[None]]] = case_params()


@dataclass
class CaseRequest(Generic[In]):
    """A request on one case once the case is found, the caller allowed and the access logged:
    what a route on a case works with."""

    params: In
    facts: CaseFacts
    audit: Audit
    action: str
    detail: str | None
    # What a CaseCheck read to decide, kept so that the route acts on what was checked and
    # does not read it again: complete_task's inbox row, read_press's snapshot.
    task: TaskRow | None = None
    snapshot: CaseSnapshot | None = None

    @property
    def staff(self) -> Staff:
        return self.audit.staff

    @property
    def case_number(self) -> str:
        return self.params.case_number

    def recorded(
        self, detail: str | None | EllipsisType = ...
    ) -> AbstractAsyncContextManager[None]:
        """Whatever fails in here is logged as failed, with the request's detail unless another
        is given."""
        if isinstance(detail, EllipsisType):
            detail = self.detail
        return recorded(self.audit, self.action, self.case_number, detail)

    @asynccontextmanager
    async def running(self, detail: str | None | EllipsisType = ...) -> AsyncIterator[None]:
        """For a message to the case: as `recorded`, and a case that has ended (409) or is not
        being processed (503) gets nothing."""
        async with self.recorded(detail):
            require_running(self.facts)
            try:
                yield
            except NameInText as refused:
                if policy.participants(self.staff, self.facts.school_id) is None:
                    raise
                # Refused all the same, but without the pseudonym: to a caller who may not see
                # names, naming the child a guessed name belongs to would tell them.
                raise NameInText([]) from refused


CaseCheck = Callable[[CaseRequest[Any], CaseService], Awaitable[Denial]]
"""A rule that must read more than the case's school to decide (the task's inbox row, the
snapshot). It keeps what it read on the request, for the route."""

Detail = str | Callable[[Any], str | None] | None
"""The access log's detail for the request: fixed, or made from the validated path and body."""


def case_access(
    rule: Rule | None = None,
    *,
    action: str,
    check: CaseCheck | None = None,
    params: Callable[..., Awaitable[In]] = CASE_ONLY,  # type: ignore[assignment]
    detail: Detail = None,
    limited: bool = False,
) -> Callable[..., Awaitable[CaseRequest[In]]]:
    """The dependency of a route on one case, parametrised by the action's policy.

    `rule` (a policy rule on the case's school) or `check` decides; `action` and `detail` name
    the request in the access log; `params` validates the path and body (default: only the
    case number); `limited` counts the message against the case's limits (api.limits).

    In the order every route kept by hand: the caller is authenticated and the purpose read
    (401/422); the path and body are validated (422, nothing logged); the case is looked up (404,
    nothing logged); the policy decides and the access log gets the entry, denied (403) or
    allowed — for a limited message, allowed only when the limits also let it through (429/422,
    logged as denied). The route then does its work inside `case.recorded()` or, for a message
    to the case, `case.running()` (409/503), so that a failure is logged too.
    """
    if (rule is None) == (check is None):
        raise TypeError("case_access takes a policy rule or a check, one of them")

    async def access(
        audit: AuditDep,
        service: ServiceDep,
        request: Request,
        # Not an Annotated hint: postponed, it would name a local that FastAPI cannot see.
        given: Any = Depends(params),  # noqa: B008
    ) -> CaseRequest[In]:
        named = detail(given) if callable(detail) else detail
        try:
            facts = await service.describe_case(given.case_number)
        except CaseNotFound:
            # Probes are in the access log too, and look exactly like a case of another school.
            await audit.refused(action, given.case_number, named)
            raise not_found(given.case_number) from None
        case = CaseRequest(params=given, facts=facts, audit=audit, action=action, detail=named)
        if check is not None:
            denial = await check(case, service)
        else:
            assert rule is not None
            denial = rule(audit.staff, facts.school_id)
        if denial is not None and _not_theirs(audit.staff, facts.school_id):
            await hidden(case)  # the same 404 as for no case at all (no existence oracle)
        if not limited:
            await audit.check(denial, action, case.case_number, named)
            return case
        # Access control first, then the case's limits for this kind of message: the message
        # is logged as allowed only when both let it through.
        if denial is not None:
            await audit.denied(action, case.case_number, denial, named)
        await admit_message(
            audit, get_store(request), request.app.state.settings, action, case.case_number, named
        )
        return case

    return access


def not_found(case_number: str) -> CaseNotFound:
    """The one answer for a case that does not exist and for one that is not the caller's."""
    return CaseNotFound(f"Sag {case_number} findes ikke / Case {case_number} does not exist")


async def hidden(case: CaseRequest[Any]) -> NoReturn:
    """Refuse as if the case did not exist (404), logging the request as denied: for a caller
    who is not to learn that it does."""
    await case.audit.refused(case.action, case.case_number, case.detail)
    raise not_found(case.case_number)


def _not_theirs(staff: Staff, school_id: str) -> bool:
    """A case the caller is not to learn of: one of a school they do not work at. Staff of
    communications alone work at no school: a case they may not reach is, to them, no case.
    Operators see everything."""
    if staff.is_operator:
        return False
    if staff.school_roles():
        return not staff.works_at(school_id)
    return True


OnCase = CaseRequest[CaseParams[None]]
"""A request on a case without a body (the reads)."""
