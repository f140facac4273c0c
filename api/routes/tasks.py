"""Tasks: my inbox, completing a task (the validated `submit_task` update), reassigning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import policy
from api.access import AuditDep
from api.deps import (
    CaseRequest,
    ServiceDep,
    StoreDep,
    TaskParams,
    case_access,
    recorded,
    task_params,
)
from api.errors import error_responses
from api.models import Accepted, CompleteTaskRequest, InboxPage, InboxTask, ReassignRequest
from api.policy import Denial
from api.routes import RUNNING_CASE_ERRORS, received
from api.staff import Staff
from schemas.common import Actor, StaffRole, task_key_of
from schemas.messages import Reassignment, TaskCompletion
from schemas.snapshot import TaskView
from service.cases import CaseService, TaskRejected
from store import TaskRow

router = APIRouter(prefix="/api/v1", tags=["tasks"])


@router.get(
    "/inbox",
    response_model=InboxPage,
    responses=error_responses(401, 422, 503),
    summary="My inbox / Min indbakke",
    description="Open tasks for the caller's roles at the caller's schools, and tasks "
    "assigned to them, earliest deadline first. The communications department sees the press "
    "tasks of every school; operators see every open task.",
)
async def inbox(
    audit: AuditDep,
    store: StoreDep,
    page: Annotated[int, Query(ge=1, le=10_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Tasks per page.")] = 25,
) -> InboxPage:
    staff = audit.staff
    await audit.allowed("read_inbox", None, f"page={page}")
    async with recorded(audit, "read_inbox", None, f"page={page}"):
        rows = await store.inbox(
            roles=None if staff.is_operator else [role.value for role in staff.school_roles()],
            schools=None if staff.all_schools else sorted(staff.schools),
            assignee=staff.id,
            everywhere_roles=[StaffRole.COMMUNICATIONS.value]
            if StaffRole.COMMUNICATIONS in staff.roles
            else [],
            limit=page_size + 1,
            offset=(page - 1) * page_size,
        )
    now = datetime.now(UTC)
    return InboxPage(
        tasks=[_inbox_task(row, now) for row in rows[:page_size]],
        page=page,
        page_size=page_size,
        next_page=page + 1 if len(rows) > page_size else None,
    )


def _inbox_task(row: TaskRow, now: datetime) -> InboxTask:
    return InboxTask(
        task_id=row.task_id,
        key=row.key,
        title=row.title,
        guidance=row.guidance,
        role=StaffRole(row.role),
        case_number=row.case_number,
        school_id=row.school_id,
        assignee=row.assignee,
        opened_at=row.opened_at,
        due_at=row.due_at,
        overdue=now >= row.due_at,
        reminded=row.reminded,
        escalated=row.escalated,
    )


def _acting_role(staff: Staff, row: TaskRow) -> StaffRole:
    """The task's role if the caller has it; otherwise an operator acts as operator."""
    role = StaffRole(row.role)
    if role in staff.roles:
        return role
    if staff.is_operator:
        return StaffRole.OPERATOR
    return staff.preferred_role() or StaffRole.OPERATOR


async def _may_complete(
    case: CaseRequest[TaskParams[CompleteTaskRequest]], service: CaseService
) -> Denial:
    """First without the task's role, so that no one outside the case gets further; then, for
    a task the case has recorded as open, in the task's role. A task that is not open is
    refused later, once the attempt is logged."""
    staff = case.staff
    task_id = case.params.task_id
    if not staff.is_operator and not (
        task_key_of(task_id) == policy.PRESS_TASK and StaffRole.COMMUNICATIONS in staff.roles
    ):
        denial = policy.read_case(staff, case.facts.school_id)
        if denial is not None:
            return denial
    # The inbox row, never a query's answer: a query can show a task of a workflow task that is
    # later lost, and an update sent for it would break the case's replay.
    try:
        case.task = await service.recorded_task(case.case_number, task_key_of(task_id), task_id)
    except TaskRejected:
        return None
    return policy.complete_task(
        staff, case.facts.school_id, case.task.key, StaffRole(case.task.role)
    )


@router.post(
    "/cases/{case_number}/tasks/{task_id}/complete",
    response_model=TaskView,
    responses=RUNNING_CASE_ERRORS,
    summary="Complete a task / Udfør en opgave",
    description="Completes an open task with its decision through the case's validated "
    "`submit_task` update. Only a task the case has recorded as open (the one in the inbox, "
    "`/inbox`) can be completed: a task not open yet or already done is refused with 422 "
    "without asking the case; the wrong role, the wrong decision type or a missing reason is "
    "refused by the case with 422; the reason comes in Danish and English, and nothing is "
    "recorded in the case. Only in the caller's own role (operators: any); the communications "
    "department completes press tasks of every school. An ended case gets 409; a case that is "
    "not being processed right now (its workflow task is failing; operators are alerted) gets "
    "503 with `Retry-After`.",
)
async def complete_task(
    case: Annotated[
        CaseRequest[TaskParams[CompleteTaskRequest]],
        Depends(
            case_access(
                check=_may_complete,
                action="complete_task",
                params=task_params(CompleteTaskRequest),
                detail=lambda given: f"task={given.task_id}",
            )
        ),
    ],
    service: ServiceDep,
) -> TaskView:
    staff, task_id, body = case.staff, case.params.task_id, case.params.body
    async with case.running():
        row = case.task
        if row is None:
            # Raises the refusal (not open yet / already done) in Danish and English.
            row = await service.recorded_task(case.case_number, task_key_of(task_id), task_id)
        completion = TaskCompletion(
            task_key=row.key,
            task_id=row.task_id,
            actor=Actor(id=staff.id, role=_acting_role(staff, row)),
            decision=body.decision,
            reason=body.reason,
        )
        return await service.submit_task(case.case_number, completion)


@router.post(
    "/cases/{case_number}/tasks/{task_id}/reassign",
    status_code=202,
    response_model=Accepted,
    responses=RUNNING_CASE_ERRORS,
    summary="Reassign a task / Giv en opgave til en anden",
    description="Gives an open task to another member of staff (it shows in their inbox). "
    "Only a task the case has recorded as open (the one in the inbox); a task not open yet or "
    "already done is refused with 422. For the case owner and leadership of the school, and "
    "operators. An ended case gets 409; a case that is not being processed right now gets 503 "
    "with `Retry-After`.",
)
async def reassign_task(
    case: Annotated[
        CaseRequest[TaskParams[ReassignRequest]],
        Depends(
            case_access(
                policy.reassign,
                action="reassign_task",
                params=task_params(ReassignRequest),
                detail=lambda given: f"task={given.task_id}; assignee={given.body.assignee}",
            )
        ),
    ],
    service: ServiceDep,
) -> Accepted:
    staff, task_id = case.staff, case.params.task_id
    async with case.running():
        row = await service.recorded_task(case.case_number, task_key_of(task_id), task_id)
        await service.check_assignee(case.params.body.assignee, case.facts.school_id, row.role)
        role = (
            staff.preferred_role(StaffRole.LEADERSHIP, StaffRole.CASE_OWNER, StaffRole.OPERATOR)
            or StaffRole.OPERATOR
        )
        await service.reassign(
            case.case_number,
            Reassignment(
                task_key=row.key,
                task_id=row.task_id,
                by=Actor(id=staff.id, role=role),
                assignee=case.params.body.assignee,
            ),
        )
    return received(case.case_number)
