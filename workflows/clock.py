"""The case's one timer: the next moment that matters, for every deadline and timer it has.

Part of the lean core (workflows/core.py). Instead of a durable timer per open task (deadline,
then escalation) and one per case timer, the clock keeps ONE timer, for the earliest of them,
and re-arms it only when that moment comes earlier; a later one lets the armed timer fire and
is armed then. What is due when it fires is done: reminders, a task's own overdue handler (the
missing underretning receipt), escalations, and waking the evaluation and follow-ups.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from procedure.calendar import local_time
    from schemas.activities import NotificationKind
    from schemas.common import StaffRole
    from schemas.snapshot import EventKind, NextTimer, TaskView
    from workflows.state import CaseState


class CaseClock:
    state: CaseState
    _closing: bool
    _wake_at: datetime | None
    _woken: bool
    _overdue: dict[str, Callable[[TaskView], Coroutine[Any, Any, None]]]
    _flag: Callable[..., None]
    _event: Callable[..., None]
    _wait: Callable[..., Coroutine[Any, Any, None]]

    def _next_moment(self) -> tuple[datetime, str] | None:
        """The earliest moment that needs the case: a deadline, an escalation, a case timer."""
        moments: list[tuple[datetime, str]] = []
        for view in self.state.open_tasks():
            if view.task_id not in self.state.past_due:
                moments.append((view.due_at, f"Frist: {view.title}"))
            elif view.escalate_at is not None and not view.escalated:
                moments.append((view.escalate_at, f"Eskalering: {view.title}"))
        if self._wake_at is not None and not self._woken:
            moments.append(
                (self._wake_at, self.state.next_timer.what if self.state.next_timer else "Timer")
            )
        return min(moments, default=None)

    async def _clock(self) -> None:
        """ONE timer per case, for the next moment; re-armed only when that moment comes
        earlier (a later one lets the armed timer fire, and the clock re-arms then)."""
        while not self._closing:
            armed = self._next_moment()
            if armed is None:
                await workflow.wait_condition(
                    lambda: self._closing or self._next_moment() is not None
                )
                continue
            at, what = armed

            def earlier(at: datetime = at) -> bool:
                moment = self._next_moment()
                return self._closing or (moment is not None and moment[0] < at)

            timeout = at - workflow.now()
            if timeout > timedelta(0):
                try:
                    await workflow.wait_condition(
                        earlier,
                        timeout=timeout,
                        timeout_summary=f"{what} {local_time(at, self.state.tz)}",
                    )
                    continue
                except TimeoutError:
                    pass
            await self._fire(workflow.now())

    async def _fire(self, now: datetime) -> None:
        s = self.state
        for view in sorted(s.open_tasks(), key=lambda v: (v.due_at, v.task_id)):
            if view.task_id not in self.state.past_due and view.due_at <= now:
                self.state.past_due.add(view.task_id)
                handler = self._overdue.get(view.task_id)
                if handler is not None:
                    await handler(view)
                else:
                    view.reminded = True
                    self._flag(
                        view,
                        EventKind.TASK_REMINDED,
                        f"Påmindelse: fristen for '{view.title}' er overskredet",
                        NotificationKind.REMINDER,
                        view.role,
                        reminded=True,
                    )
            elif (
                view.task_id in self.state.past_due
                and not view.escalated
                and view.escalate_at is not None
                and view.escalate_at <= now
            ):
                view.escalated = True
                self._flag(
                    view,
                    EventKind.TASK_ESCALATED,
                    f"Eskaleret til ledelsen: '{view.title}' er ikke udført",
                    NotificationKind.ESCALATION,
                    StaffRole.LEADERSHIP,
                    escalated=True,
                )
        if self._wake_at is not None and self._wake_at <= now:
            self._woken = True

    async def _sleep_until(self, at: datetime, what: str) -> None:
        s = self.state
        key = f"{s.round}:{what}"
        if key in s.fired:
            return  # a case continued as new after this timer had fired
        if key in s.timers:
            at = s.timers[key]  # set by an earlier run of the case: the same moment
        else:
            s.timers[key] = at
            self._event(EventKind.TIMER_SET, f"{what} planlagt til {local_time(at, s.tz)}")
        s.next_timer = NextTimer(what=what, at=at)
        self._wake_at, self._woken = at, False
        try:
            await self._wait(lambda: self._woken, reopenable=True)
            s.fired.add(key)
        finally:
            # Also when interrupted: the timer is gone (the clock forgets it).
            s.next_timer, self._wake_at, self._woken = None, None, False
