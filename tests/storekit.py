"""Builders of activity requests for store and activity tests: valid, minimal, keyed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.activities import (
    CaseRecord,
    CloseTaskRequest,
    NotificationKind,
    NotificationRequest,
    OpenTaskRequest,
    TaskFlagsRequest,
    TimelineBatch,
)
from schemas.common import (
    Actor,
    CaseStatus,
    Phase,
    Route,
    Severity,
    StaffRole,
    TaskStatus,
    case_workflow_id,
)
from schemas.snapshot import EventKind, TimelineEvent
from tests.activity_probe_workflow import InboxProbe

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
SCHOOL = "vibeke-skolen"


def workflow_id(case_number: str) -> str:
    return case_workflow_id(case_number)


def case_record(case_number: str, phase: Phase = Phase.ASSESS) -> CaseRecord:
    return CaseRecord(
        workflow_id=workflow_id(case_number),
        case_number=case_number,
        school_id=SCHOOL,
        phase=phase,
        status=CaseStatus.ACTIVE,
        route=Route.UNDECIDED,
        severity=Severity.UNASSESSED,
        opened_at=T0,
    )


def open_task(
    case_number: str,
    task_id: str = "assess.uncover-1",
    *,
    due_in: timedelta = timedelta(days=1),
    role: StaffRole = StaffRole.CASE_OWNER,
    school_id: str = SCHOOL,
) -> OpenTaskRequest:
    return OpenTaskRequest(
        workflow_id=workflow_id(case_number),
        case_number=case_number,
        school_id=school_id,
        task_id=task_id,
        key=task_id.split("-")[0],
        title="Afdæk: Få et overblik over krænkelsen og dens alvorlighed",
        guidance="Spørg ind til, hvad der er sket.",
        role=role,
        opened_at=T0,
        due_at=T0 + due_in,
    )


def close_task(case_number: str, task_id: str = "assess.uncover-1") -> CloseTaskRequest:
    return CloseTaskRequest(
        workflow_id=workflow_id(case_number),
        task_id=task_id,
        status=TaskStatus.DONE,
        closed_at=T0 + timedelta(hours=3),
        completed_by="ab",
    )


def reminded(case_number: str, task_id: str = "assess.uncover-1") -> TaskFlagsRequest:
    return TaskFlagsRequest(workflow_id=workflow_id(case_number), task_id=task_id, reminded=True)


def timeline(case_number: str, seqs: range = range(1, 4)) -> TimelineBatch:
    return TimelineBatch(
        workflow_id=workflow_id(case_number),
        case_number=case_number,
        events=[
            TimelineEvent(
                seq=seq,
                at=T0 + timedelta(minutes=seq),
                kind=EventKind.NOTE_ADDED,
                text=f"Notat {seq}",
                actor=Actor(id="ab", role=StaffRole.CASE_OWNER),
                task_id="assess.uncover-1",
            )
            for seq in seqs
        ],
    )


def notification(case_number: str, task_id: str = "assess.uncover-1") -> NotificationRequest:
    kind = NotificationKind.TASK_OPENED
    return NotificationRequest(
        key=f"{workflow_id(case_number)}:{task_id}:{kind.value}",
        workflow_id=workflow_id(case_number),
        case_number=case_number,
        school_id=SCHOOL,
        kind=kind,
        role=StaffRole.CASE_OWNER,
        task_id=task_id,
        subject=f"Ny opgave i sag {case_number}",
        body="Frist: 03.03.2026 kl. 09:30",
        created_at=T0,
    )


def inbox_probe(case_number: str) -> InboxProbe:
    """Every kind of inbox write of one case, for the probe workflow to make."""
    return InboxProbe(
        case=case_record(case_number),
        task=open_task(case_number),
        reminder=reminded(case_number),
        timeline=timeline(case_number),
        notification=notification(case_number),
        close=close_task(case_number),
    )
