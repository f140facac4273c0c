"""Cases: open, list, read (snapshot, timeline, press view), and the messages to a case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api import policy
from api.access import AuditDep
from api.deps import (
    CaseParams,
    CaseRequest,
    OnCase,
    ServiceDep,
    case_access,
    case_params,
    hidden,
    recorded,
    snapshot_of,
)
from api.errors import InvalidRequest, error_responses
from api.models import (
    Accepted,
    CaseListItem,
    CaseOpened,
    CasePage,
    NewIncidentRequest,
    OpenCaseRequest,
    PressInquiryRequest,
    PressView,
    Timeline,
    TimelineNoteRequest,
    WithdrawRequest,
)
from api.paging import InvalidPageToken, PageTokens
from api.policy import Denial
from api.routes import CASE_ERRORS, MESSAGE_ERRORS, RUNNING_CASE_ERRORS, received
from api.staff import Staff
from schemas.case import CaseInput, Participant, reported_at_problem
from schemas.common import SCHOOL_ID_PATTERN, Actor, CaseStatus, Phase, StaffRole
from schemas.messages import CaseNote, NewIncident, PressInquiry, Withdrawal
from schemas.snapshot import CaseSnapshot, EventKind, TaskView
from service.cases import CaseService, CaseSummary

router = APIRouter(prefix="/api/v1", tags=["cases"])


def _actor(staff: Staff, *preferred: StaffRole) -> Actor:
    """Who acts: the caller, in the first of `preferred` roles they hold (else operator)."""
    role = staff.preferred_role(*preferred, StaffRole.OPERATOR)
    if role is None:  # policy already refused callers without any of these roles
        role = staff.preferred_role() or StaffRole.OPERATOR
    return Actor(id=staff.id, role=role)


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseOpened,
    responses=error_responses(401, 403, 409, 422, 503),
    summary="Open a case / Opret en sag",
    description="Starts the case workflow for a school. Participants go to Temporal by "
    "pseudonym only; their names and contact details, when given, are kept in sagsflow's "
    "database only. The caller is recorded as who opened the case (case owner, leadership or "
    "TK of the school; operators anywhere).",
)
async def open_case(body: OpenCaseRequest, audit: AuditDep, service: ServiceDep) -> CaseOpened:
    problem = reported_at_problem(body.reported_at, datetime.now(UTC), "reported_at")
    if problem is not None:
        raise InvalidRequest(problem)
    staff = audit.staff
    actor = _actor(staff, StaffRole.CASE_OWNER, StaffRole.LEADERSHIP, StaffRole.TK)
    case = CaseInput(
        case_number=body.case_number,
        school_id=body.school_id,
        opened_by=actor,
        reported_at=body.reported_at,
        violation_types=body.violation_types,
        participants=[
            Participant(pseudonym=p.pseudonym, role=p.role, age=p.age, same_school=p.same_school)
            for p in body.participants
        ],
        offender_known=body.offender_known,
        parents_suspected=body.parents_suspected,
        procedure_version=body.procedure_version,
    )
    details = {p.pseudonym: (p.name, p.contact) for p in body.participants if p.name}
    without_name = [p.pseudonym for p in body.participants if p.contact and not p.name]
    if without_name:
        raise InvalidRequest(
            f"Kontaktoplysninger kræver et navn ({', '.join(without_name)}) / "
            f"contact details need a name ({', '.join(without_name)})"
        )
    detail = f"school={body.school_id}; names={','.join(sorted(details)) or '-'}"
    await audit.check(
        policy.open_case(staff, body.school_id), "open_case", body.case_number, detail
    )
    async with recorded(audit, "open_case", body.case_number, detail):
        handle = await service.open_case(case, details)
    return CaseOpened(case_number=case.case_number, workflow_id=handle.id, school_id=case.school_id)


@router.get(
    "/cases",
    response_model=CasePage,
    responses=error_responses(401, 403, 422, 503),
    summary="List cases / Sagsliste",
    description="Cases of the caller's schools (operators: all), newest first, filtered by "
    "school, phase, status and overdue tasks. From Temporal's search attributes: no personal "
    "data. Paginated with `page_token` (from `next_page_token`). The list is eventually "
    "consistent: a change shows within a second or so.",
)
async def list_cases(
    request: Request,
    audit: AuditDep,
    service: ServiceDep,
    school: Annotated[
        str | None,
        Query(pattern=SCHOOL_ID_PATTERN, description="Only this school."),
    ] = None,
    phase: Annotated[Phase | None, Query(description="Only cases in this phase.")] = None,
    status: Annotated[CaseStatus | None, Query(description="Only cases with this status.")] = None,
    overdue: Annotated[
        bool | None, Query(description="Only cases with (true) / without (false) overdue tasks.")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=100, description="Cases per page.")] = 25,
    page_token: Annotated[
        str | None,
        Query(
            max_length=4096,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="next_page_token of the previous page.",
        ),
    ] = None,
) -> CasePage:
    staff = audit.staff
    schools = None if staff.all_schools else staff.schools
    page_tokens: PageTokens = request.app.state.page_tokens
    # A token opens only for the same caller's schools and the same filters.
    where = ",".join(sorted(schools)) if schools is not None else "*"
    scope = f"{where}|{school}|{phase}|{status}|{overdue}"
    token: bytes | None = None
    if page_token:
        try:
            token = page_tokens.open(page_token, scope)
        except InvalidPageToken as exc:
            raise InvalidRequest(
                "Ugyldig sidemarkør: start forfra uden page_token / "
                "Invalid page token: start again without page_token"
            ) from exc
    filters = [
        f"{name}={value}"
        for name, value in (
            ("school", school),
            ("phase", phase),
            ("status", status),
            ("overdue", overdue),
        )
        if value is not None
    ]
    detail = "; ".join(filters) or None
    await audit.check(policy.list_cases(staff, school), "list_cases", None, detail)
    async with recorded(audit, "list_cases", None, detail):
        cases, next_token = await service.list_cases_page(
            school_ids=schools,
            school_id=school,
            phase=phase.value if phase else None,
            status=status.value if status else None,
            overdue=overdue,
            page_size=page_size,
            page_token=token,
        )
    return CasePage(
        cases=[_list_item(case) for case in cases],
        next_page_token=page_tokens.seal(next_token, scope) if next_token else None,
    )


def _list_item(case: CaseSummary) -> CaseListItem:
    return CaseListItem.model_validate(case.model_dump())


@router.get(
    "/cases/{case_number}",
    response_model=CaseSnapshot,
    responses=CASE_ERRORS,
    summary="A case's snapshot / Sagens overblik",
    description="Where the case stands, from the workflow itself: phase, status, route, "
    "severity, open tasks with deadlines, done tasks with their decisions, the recommendation, "
    "the timeline and the next timer. Participants appear by pseudonym only. Recorded in the "
    "access log.",
)
async def read_case(
    case: Annotated[
        OnCase, Depends(case_access(policy.read_case, action="read_case", detail="snapshot"))
    ],
    service: ServiceDep,
) -> CaseSnapshot:
    async with case.recorded():
        return await snapshot_of(service, case.case_number)


@router.get(
    "/cases/{case_number}/timeline",
    response_model=Timeline,
    responses=CASE_ERRORS,
    summary="A case's timeline / Sagens tidslinje",
    description="Everything that happened in the case, in order, including refused messages "
    "with the reason. Recorded in the access log.",
)
async def read_timeline(
    case: Annotated[
        OnCase, Depends(case_access(policy.read_case, action="read_case", detail="timeline"))
    ],
    service: ServiceDep,
) -> Timeline:
    async with case.recorded():
        events = await service.timeline(case.case_number)
    return Timeline(case_number=case.case_number, events=events)


async def _may_read_press(case: OnCase, service: CaseService) -> Denial:
    """Those who may read the case may; the communications department only a case whose school
    registered a press inquiry (a press task it then works on), which the snapshot tells (kept
    for the route). Any other case is, to the communications department, no case (404)."""
    staff = case.staff
    denial = policy.read_case(staff, case.facts.school_id)
    if denial is not None and StaffRole.COMMUNICATIONS not in staff.roles:
        return denial
    case.snapshot = await snapshot_of(service, case.case_number)
    if denial is not None and not _school_press(case.snapshot):
        await hidden(case)
    return policy.read_press(staff, case.facts.school_id, bool(_press_tasks(case.snapshot)))


async def _may_register_press(
    case: CaseRequest[CaseParams[PressInquiryRequest]], service: CaseService
) -> Denial:
    """The case's school staff register an inquiry they got; the communications department
    may forward one it got, but only for a case whose school already registered one: an
    inquiry of its own must not open a press task, and with it reading, on any case."""
    staff = case.staff
    denial = policy.act_on_case(staff, case.facts.school_id)
    if denial is None or StaffRole.COMMUNICATIONS not in staff.roles:
        return denial
    if not _school_press(await snapshot_of(service, case.case_number)):
        await hidden(case)
    return None


def _school_press(snapshot: CaseSnapshot) -> bool:
    """Whether staff of the case's school registered a press inquiry on it."""
    return any(
        event.kind == EventKind.PRESS_INQUIRY
        and event.actor is not None
        and event.actor.role != StaffRole.COMMUNICATIONS
        for event in snapshot.timeline
    )


def _press_tasks(snapshot: CaseSnapshot) -> list[TaskView]:
    return [
        task
        for task in [*snapshot.open_tasks, *snapshot.done_tasks]
        if task.key == policy.PRESS_TASK
    ]


@router.get(
    "/cases/{case_number}/press",
    response_model=PressView,
    responses=CASE_ERRORS,
    summary="A case's press view / Sagens presseoverblik",
    description="The minimal case data the communications department needs for a press "
    "inquiry: phase, status, the press tasks and the inquiries. No participants. For the "
    "communications department (cases with a press task), and for those who may read the "
    "case. Recorded in the access log.",
)
async def read_press(
    case: Annotated[
        OnCase, Depends(case_access(check=_may_read_press, action="read_press", detail="press"))
    ],
) -> PressView:
    snapshot = case.snapshot
    assert snapshot is not None  # read by _may_read_press for every caller it lets through
    return PressView(
        case_number=snapshot.case_number,
        school_id=snapshot.school_id,
        phase=snapshot.phase,
        status=snapshot.status,
        press_tasks=sorted(_press_tasks(snapshot), key=lambda task: task.opened_at),
        inquiries=[e for e in snapshot.timeline if e.kind == EventKind.PRESS_INQUIRY],
    )


@router.post(
    "/cases/{case_number}/press-inquiries",
    status_code=202,
    response_model=Accepted,
    responses=MESSAGE_ERRORS,
    summary="Register a press inquiry / Registrer en pressehenvendelse",
    description="A media outlet asked about the case: the communications department always "
    "gets an urgent task (treat.press). For staff of the case's school and the communications "
    "department. A case takes at most 10 press inquiries per hour (then 429 with "
    "`Retry-After`) and 200 in all (then 422).",
)
async def press_inquiry(
    case: Annotated[
        CaseRequest[CaseParams[PressInquiryRequest]],
        Depends(
            case_access(
                check=_may_register_press,
                action="press_inquiry",
                params=case_params(PressInquiryRequest),
                limited=True,
            )
        ),
    ],
    service: ServiceDep,
) -> Accepted:
    body = case.params.body
    async with case.running():
        actor = _actor(
            case.staff,
            StaffRole.COMMUNICATIONS,
            StaffRole.LEADERSHIP,
            StaffRole.CASE_OWNER,
            StaffRole.TK,
        )
        await service.press_inquiry(
            case.case_number,
            PressInquiry(received_by=actor, medium=body.medium, summary=body.summary),
        )
    return received(case.case_number)


@router.post(
    "/cases/{case_number}/incidents",
    status_code=202,
    response_model=Accepted,
    responses=MESSAGE_ERRORS,
    summary="Register a new incident / Registrer en ny hændelse",
    description="Something new happened. With `reopen_assessment` the card starts again at "
    "assess (tasks of the current round are superseded; press and underretning stay). A case "
    "takes at most 10 new incidents per hour (then 429 with `Retry-After`) and 200 in all "
    "(then 422).",
)
async def new_incident(
    case: Annotated[
        CaseRequest[CaseParams[NewIncidentRequest]],
        Depends(
            case_access(
                policy.act_on_case,
                action="new_incident",
                params=case_params(NewIncidentRequest),
                detail=lambda given: f"reopen={given.body.reopen_assessment}",
                limited=True,
            )
        ),
    ],
    service: ServiceDep,
) -> Accepted:
    body = case.params.body
    # The reopen flag goes with the admission (it is counted and logged as allowed or
    # denied); a failure after it has always been logged without it.
    async with case.running(detail=None):
        actor = _actor(case.staff, StaffRole.CASE_OWNER, StaffRole.LEADERSHIP, StaffRole.TK)
        await service.new_incident(
            case.case_number,
            NewIncident(
                reported_by=actor,
                description=body.description,
                reopen_assessment=body.reopen_assessment,
            ),
        )
    return received(case.case_number)


@router.post(
    "/cases/{case_number}/timeline/notes",
    status_code=202,
    response_model=Accepted,
    responses=MESSAGE_ERRORS,
    summary="Add a note to the timeline / Tilføj en bemærkning",
    description="Adds a note (e.g. a phone call) to the case's timeline. Use pseudonyms, not "
    "names. A case takes at most 30 notes per hour (then 429 with `Retry-After`) and 5,000 "
    "in all (then 422).",
)
async def add_note(
    case: Annotated[
        CaseRequest[CaseParams[TimelineNoteRequest]],
        Depends(
            case_access(
                policy.act_on_case,
                action="add_note",
                params=case_params(TimelineNoteRequest),
                limited=True,
            )
        ),
    ],
    service: ServiceDep,
) -> Accepted:
    async with case.running():
        actor = _actor(case.staff, StaffRole.CASE_OWNER, StaffRole.LEADERSHIP, StaffRole.TK)
        await service.add_note(case.case_number, CaseNote(author=actor, text=case.params.body.text))
    return received(case.case_number)


@router.post(
    "/cases/{case_number}/withdraw",
    status_code=202,
    response_model=Accepted,
    responses=RUNNING_CASE_ERRORS,
    summary="Withdraw a case / Træk en sag tilbage",
    description="Ends a case that proved unfounded, with the reason; its open tasks are "
    "closed. For the case owner and leadership of the school, and operators.",
)
async def withdraw(
    case: Annotated[
        CaseRequest[CaseParams[WithdrawRequest]],
        Depends(
            case_access(policy.withdraw, action="withdraw", params=case_params(WithdrawRequest))
        ),
    ],
    service: ServiceDep,
) -> Accepted:
    async with case.running():
        actor = _actor(case.staff, StaffRole.LEADERSHIP, StaffRole.CASE_OWNER)
        await service.withdraw(
            case.case_number, Withdrawal(by=actor, reason=case.params.body.reason)
        )
    return received(case.case_number)
