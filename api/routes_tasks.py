"""Tasks: my inbox, completing a task (the validated `submit_task` update), reassigning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api import policy
from api.access import AuditDep
from api.deps import (
    CaseNumberPath,
    ServiceDep,
    StoreDep,
    TaskIdPath,
    recorded,
    require_running,
    snapshot_of,
    task_key_of,
)
from api.errors import InvalidRequest, error_responses
from api.models import Accepted, CompleteTaskRequest, InboxPage, InboxTask, ReassignRequest
from api.routes_cases import RECEIVED
from api.staff import Staff
from schemas.common import Actor, StaffRole
from schemas.messages import Reassignment, TaskCompletion
from schemas.snapshot import CaseSnapshot, TaskView
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
            if StaffRole.COMMUNICATIONS in staff.roles else [],
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


def _open_task(snapshot: CaseSnapshot, task_id: str) -> TaskView | None:
    return next((task for task in snapshot.open_tasks if task.task_id == task_id), None)


def _acting_role(staff: Staff, task: TaskView | None) -> StaffRole:
    """The task's role if the caller has it; an operator acts as operator. A task that is not
    open is left to the case to refuse, in a role the caller really holds."""
    if task is not None and task.role in staff.roles:
        return task.role
    if staff.is_operator:
        return StaffRole.OPERATOR
    return staff.preferred_role() or StaffRole.OPERATOR


@router.post(
    "/cases/{case_number}/tasks/{task_id}/complete",
    response_model=TaskView,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Complete a task / Udfør en opgave",
    description="Completes an open task with its decision through the case's validated "
    "`submit_task` update: an unknown task, a task not open yet or already done, the wrong "
    "role, the wrong decision type or a missing reason is refused with 422 and the reason in "
    "Danish and English, and nothing is recorded in the case. Only in the caller's own role "
    "(operators: any); the communications department completes press tasks of every school.",
)
async def complete_task(
    case_number: CaseNumberPath,
    task_id: TaskIdPath,
    body: CompleteTaskRequest,
    audit: AuditDep,
    service: ServiceDep,
) -> TaskView:
    staff = audit.staff
    key = task_key_of(task_id)
    detail = f"task={task_id}"
    facts = await service.describe_case(case_number)
    # First without the task's role, so that no one outside the case gets further.
    if not staff.is_operator and not (
        key == policy.PRESS_TASK and StaffRole.COMMUNICATIONS in staff.roles
    ):
        denial = policy.read_case(staff, facts.school_id)
        if denial is not None:
            await audit.denied("complete_task", case_number, denial, detail)
    task = _open_task(await snapshot_of(service, case_number), task_id)
    if task is not None:
        await audit.check(
            policy.complete_task(staff, facts.school_id, task.key, task.role),
            "complete_task", case_number, detail,
        )
    else:
        await audit.allowed("complete_task", case_number, detail)
    async with recorded(audit, "complete_task", case_number, detail):
        require_running(facts)
        completion = TaskCompletion(
            task_key=key,
            # A task that is not open is named by its key alone, so that the case says
            # whether it is not open yet or already done.
            task_id=task_id if task is not None or task_id != key else None,
            actor=Actor(id=staff.id, role=_acting_role(staff, task)),
            decision=body.decision,
            reason=body.reason,
        )
        return await service.submit_task(case_number, completion)


@router.post(
    "/cases/{case_number}/tasks/{task_id}/reassign",
    status_code=202,
    response_model=Accepted,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Reassign a task / Giv en opgave til en anden",
    description="Gives an open task to another member of staff (it shows in their inbox). "
    "For the case owner and leadership of the school, and operators.",
)
async def reassign_task(
    case_number: CaseNumberPath,
    task_id: TaskIdPath,
    body: ReassignRequest,
    audit: AuditDep,
    service: ServiceDep,
) -> Accepted:
    staff = audit.staff
    detail = f"task={task_id}; assignee={body.assignee}"
    facts = await service.describe_case(case_number)
    await audit.check(policy.reassign(staff, facts.school_id), "reassign_task", case_number,
                      detail)
    async with recorded(audit, "reassign_task", case_number, detail):
        require_running(facts)
        if _open_task(await snapshot_of(service, case_number), task_id) is None:
            raise InvalidRequest(
                f"Opgaven '{task_id}' er ikke åben / Task '{task_id}' is not open"
            )
        role = staff.preferred_role(StaffRole.LEADERSHIP, StaffRole.CASE_OWNER,
                                    StaffRole.OPERATOR) or StaffRole.OPERATOR
        await service.reassign(
            case_number,
            Reassignment(task_key=task_key_of(task_id), task_id=task_id,
                         by=Actor(id=staff.id, role=role), assignee=body.assignee),
        )
    return Accepted(case_number=case_number, message=RECEIVED)
