"""A human step of the card as a task: opened, waited on until it is done, closed.

Part of the lean core (workflows/core.py). `_run_task` opens a task (or takes up the one an
earlier run of the case opened: `_claim`) and waits until it is done; `_close`, `_notify` and
`_flag` record what happens to a task as effects for the next store batch. Every step waits
through `_wait`, which stops it the moment the case is withdrawn, assessment is re-opened or the
case continues as new (Withdrawn, Reopened, Continuing); `_all` and `_settle` run and stop
steps side by side.

Deterministic code only: time from workflow.now() (through `_now`), side effects as effects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procedure import calendar
    from procedure.models import Procedure
    from schemas.activities import (
        CloseTaskRequest,
        NotificationKind,
        NotificationRequest,
        OpenTaskRequest,
        TaskFlagsRequest,
    )
    from schemas.common import StaffRole, TaskStatus
    from schemas.snapshot import EventKind, TaskView
    from workflows import texts
    from workflows.state import CaseState, Effects

# Tasks of the case, not of one round: a new incident does not supersede them.
CASE_LEVEL_TASKS = {
    "treat.press",
    "report.underretning",
    "report.underretning_receipt",
    "report.underretning_follow_up",
    "assess.involve_custody",
}


# The roles the card's "ER DU FORTSAT I TVIVL, SÅ KONTAKT" speaks to.
SCHOOL_STAFF = frozenset({StaffRole.CASE_OWNER, StaffRole.LEADERSHIP})


class Reopened(Exception):
    """A new incident re-opened assessment: the current round stops where it is."""


class Withdrawn(Exception):
    """The case was withdrawn: everything stops."""


class Continuing(Exception):
    """The case continues as new: every step stops where it is, to be taken up again."""


class CaseSteps:
    state: CaseState
    effects: Effects
    _claims: dict[tuple[int, str], int]
    _overdue: dict[str, Callable[[TaskView], Coroutine[Any, Any, None]]]
    _continue_now: bool
    _card_round: int
    _event: Callable[..., None]
    _now: Callable[[], datetime]
    _procedure: Callable[[], Procedure]

    async def _run_task(
        self,
        key: str,
        *,
        extra_guidance: str | None = None,
        on_overdue: Callable[[TaskView], Coroutine[Any, Any, None]] | None = None,
        participant: str | None = None,
    ) -> TaskView:
        """Open a task and wait until it is done; the clock reminds and escalates.
        `participant`: the child a task of one per child is for (its pseudonym, in the title)."""
        s = self.state
        claimed = self._claim(key)
        if claimed is not None:
            # Run by an earlier run of the case (it continued as new): taken up where it is.
            if on_overdue is not None:
                self._overdue[claimed.task_id] = on_overdue
            if claimed.status == TaskStatus.OPEN:
                await self._wait(
                    lambda: claimed.status != TaskStatus.OPEN,
                    reopenable=key not in CASE_LEVEL_TASKS,
                )
                self._close(claimed, TaskStatus.DONE)
            return claimed
        spec = self._procedure().task(key)
        assert s.tz is not None  # set with the procedure, in run()
        now = self._now()
        base = now
        if spec.deadline_from == "reported_at":
            base = s.round_started_at or now  # when the school learned of it (this round)
        elif spec.deadline_from == "underretning_submitted" and s.underretning_submitted_at:
            base = s.underretning_submitted_at
        due = calendar.deadline_after(base, spec.deadline, s.non_working, s.tz)
        escalate_at = (
            calendar.deadline_after(due, spec.escalation_grace, s.non_working, s.tz)
            if spec.escalate and spec.escalation_grace is not None
            else None
        )
        task_id = self._new_task_id(key)
        title = spec.title if participant is None else f"{spec.title} ({participant})"
        view = TaskView(
            task_id=task_id,
            key=key,
            title=title,
            participant=participant,
            role=spec.role,
            round=s.round,
            status=TaskStatus.OPEN,
            opened_at=now,
            due_at=due,
            escalate_at=escalate_at,
        )
        s.tasks[task_id] = view
        s.opened_in[task_id] = workflow.info().get_current_history_length()
        if on_overdue is not None:
            self._overdue[task_id] = on_overdue
        self._event(
            EventKind.TASK_OPENED,
            f"Opgave åbnet: {title} (frist {calendar.local_time(due, s.tz)})",
            task_id=task_id,
        )
        guidance = "\n\n".join(
            part
            for part in (
                spec.guidance,
                extra_guidance,
                # The card's contacts, where the school's staff do the work: text for the
                # inbox only, so adding them changes no command of a running case.
                texts.contacts_guidance(self._procedure().spec.contacts)
                if spec.role in SCHOOL_STAFF
                else None,
            )
            if part
        )
        case = s.case
        self.effects.opened.append(
            OpenTaskRequest(
                workflow_id=workflow.info().workflow_id,
                case_number=case.case_number,
                school_id=case.school_id,
                task_id=task_id,
                key=key,
                title=title,
                guidance=guidance,
                role=spec.role,
                opened_at=now,
                due_at=due,
            )
        )
        self._notify(view, NotificationKind.TASK_OPENED, view.role)
        await self._wait(
            lambda: view.status != TaskStatus.OPEN, reopenable=key not in CASE_LEVEL_TASKS
        )
        self._close(view, TaskStatus.DONE)
        return view

    def _new_task_id(self, key: str) -> str:
        """`<key>`, `<key>-2`, … in the first round; `<key>-r<round>`, `<key>-r<round>-2`, …
        in later rounds (schemas.common.TASK_ID_PATTERN). Cases started before the
        "card-round-two" marker number a key across the whole case."""
        s = self.state
        if self._card_round < 2:
            count = sum(1 for view in s.tasks.values() if view.key == key)
            return key if count == 0 else f"{key}-{count + 1}"
        count = sum(1 for view in s.tasks.values() if view.key == key and view.round == s.round)
        base = key if s.round == 1 else f"{key}-r{s.round}"
        return base if count == 0 else f"{base}-{count + 1}"

    def _claim(self, key: str) -> TaskView | None:
        """The task this call of _run_task stands for, if an earlier run opened it: the n-th
        call for a key in a round is the n-th task of that key the round opened. In a run that
        did not continue another, no task is ever claimed."""
        s = self.state
        n = self._claims.get((s.round, key), 0)
        self._claims[(s.round, key)] = n + 1
        earlier = sorted(
            (v for v in s.tasks.values() if v.key == key and v.round == s.round),
            key=lambda v: (v.opened_at, v.task_id),
        )
        return earlier[n] if n < len(earlier) else None

    def _close(self, view: TaskView, status: TaskStatus) -> None:
        if view.status == TaskStatus.OPEN:
            view.status = status
        if status != TaskStatus.DONE:
            self._event(
                EventKind.TASK_CLOSED,
                f"Opgave lukket ({status.value}): {view.title}",
                task_id=view.task_id,
            )
        closed_at = view.completed_at or self._now()
        completed_by = view.completed_by.id if view.completed_by else None
        self.state.closed[view.task_id] = (closed_at, completed_by)
        self.effects.closed.append(
            CloseTaskRequest(
                workflow_id=workflow.info().workflow_id,
                task_id=view.task_id,
                status=view.status,
                closed_at=closed_at,
                completed_by=completed_by,
            )
        )

    def _notify(self, view: TaskView, kind: NotificationKind, role: StaffRole) -> None:
        case = self.state.case
        subject, body = texts.notification(case.case_number, view, kind, self.state.tz)
        workflow_id = workflow.info().workflow_id
        key = f"{workflow_id}:{view.task_id}:{kind.value}"
        self.state.notified.add(key)
        self.effects.notifications.append(
            NotificationRequest(
                key=key,
                workflow_id=workflow_id,
                case_number=case.case_number,
                school_id=case.school_id,
                kind=kind,
                role=role,
                assignee=view.assignee if role == view.role else None,
                task_id=view.task_id,
                subject=subject,
                body=body,
                created_at=self._now(),
            )
        )

    def _flag(
        self,
        view: TaskView,
        kind: EventKind,
        text: str,
        notification: NotificationKind,
        recipient: StaffRole,
        **flags: bool,
    ) -> None:
        self._event(kind, text, task_id=view.task_id)
        self.effects.flags.append(
            TaskFlagsRequest(workflow_id=workflow.info().workflow_id, task_id=view.task_id, **flags)
        )
        self._notify(view, notification, recipient)

    async def _wait(self, done: Callable[[], bool], *, reopenable: bool) -> None:
        """Wait for `done`; raise Withdrawn / Reopened the moment the case is withdrawn or
        assessment re-opened, so every waiting step stops at once and deterministically."""
        s = self.state

        def interrupted() -> bool:
            return (
                s.withdrawal is not None or (reopenable and s.reopen_pending) or self._continue_now
            )

        await workflow.wait_condition(lambda: done() or interrupted())
        if done():
            return
        if s.withdrawal is not None:
            raise Withdrawn()
        if self._continue_now:
            raise Continuing()
        raise Reopened()

    @staticmethod
    async def _all(*steps: Awaitable[Any]) -> list[Any]:
        """Run steps side by side; when one is interrupted, let all stop before raising."""
        results = await asyncio.gather(*steps, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    @staticmethod
    async def _settle(jobs: list[asyncio.Task[Any]]) -> None:
        await asyncio.gather(*jobs, return_exceptions=True)
