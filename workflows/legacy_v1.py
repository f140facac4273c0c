"""The first case core, frozen: it runs the cases that were started before the lean core.

`DigitalViolationCase` (workflows/case.py) chooses it for a case whose history has no
`lean-core` marker, i.e. every case started by an earlier build; such a case must replay
exactly as it was recorded, so NOTHING here changes (docs/versioning.md). Delete this module
when no case started before the lean core is running any more.


assess -> document -> stop || report -> treat -> [timer] close (evaluation, follow-ups).
Every human step is a task: opened in the inbox (activity), awaited with its deadline as a
durable timer, reminded at the deadline, escalated to leadership after the grace period, and
closed (activity). The workflow is the source of truth; the store is its read model.

Deterministic code only: time from workflow.now(), every side effect in an activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from zoneinfo import ZoneInfo

    from procedure import calendar, earlier_rules, rules
    from procedure.models import Procedure
    from schemas.activities import (
        CaseRecord,
        CloseTaskRequest,
        LoadProcedureRequest,
        NoteFacts,
        NotificationKind,
        NotificationRequest,
        OpenTaskRequest,
        TaskFlagsRequest,
        TimelineBatch,
    )
    from schemas.case import CaseInput
    from schemas.common import (
        Actor,
        CaseStatus,
        Phase,
        Route,
        Severity,
        StaffRole,
        TaskStatus,
    )
    from schemas.decisions import (
        DECISION_TYPES,
        EvaluateDecision,
        FollowUpDecision,
        PreserveDecision,
        UncoverDecision,
        UnderretningDecision,
    )
    from schemas.labels import PARTICIPANT_ROLE_DA, PHASE_HEADING_DA
    from schemas.messages import (
        CaseNote,
        NewIncident,
        PressInquiry,
        Reassignment,
        TaskCompletion,
        Withdrawal,
    )
    from schemas.snapshot import (
        CaseOutcome,
        CaseSnapshot,
        EventKind,
        NextTimer,
        Recommendation,
        TaskView,
        TimelineEvent,
    )
    from workflows import inbound, rejections
    from workflows import search_attributes as sa
    from workflows.rejections import Rejection

TASK_QUEUE = "sagsflow-cases"

# Tasks that belong to the case, not to one round of assessment: a new incident that
# re-opens assessment does not supersede them (press is always handled; the underretning is
# a legal duty with its own deadline).
CASE_LEVEL_TASKS = {
    "treat.press",
    "report.underretning",
    "report.underretning_receipt",
    "report.underretning_follow_up",
    "assess.involve_custody",
}

ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownProcedureVersion", "InvalidProcedure"],
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)

# The signals of the public contract (DESIGN.md). They reach one dynamic handler that reads
# their payload itself, so that no message, however malformed, can fail a workflow task.
SIGNALS = (
    "complete_task",
    "press_inquiry",
    "new_incident",
    "add_note",
    "withdraw_case",
    "reassign_task",
)
# How long a message naming a task waits for the case to open it. Such a task can only appear
# in the same activation as the message (a timer or activity result delivered with it), where
# the wait ends without leaving a timer in the history; the bound is for tasks that never come.
TASK_WAIT = timedelta(seconds=2)
# Signals that waited for their task: guarded, since a history recorded before would replay a
# refusal at once where this code now starts a timer.
WAIT_FOR_TASK_PATCH = "message-waits-for-its-task"


def current_workflow_id() -> str:
    return workflow.info().workflow_id


class Reopened(Exception):
    """A new incident re-opened assessment: the current round stops where it is."""


class Withdrawn(Exception):
    """The case was withdrawn: everything stops."""


class LegacyCase:
    def __init__(self, case: CaseInput) -> None:
        self._case = case
        self._procedure: Procedure | None = None
        self._tz: ZoneInfo | None = None
        self._non_working: frozenset = frozenset()
        self._phase = Phase.ASSESS
        self._status = CaseStatus.ACTIVE
        self._round = 1
        self._route = Route.UNDECIDED
        self._severity = Severity.UNASSESSED
        self._underretning: bool | None = None
        self._recommendation: Recommendation | None = None
        self._tasks: dict[str, TaskView] = {}
        self._decisions: dict[str, Any] = {}
        self._timeline: list[TimelineEvent] = []
        self._synced_events = 0
        self._pending_flags: list[TaskFlagsRequest] = []
        self._next_timer: NextTimer | None = None
        self._press_queue: list[PressInquiry] = []
        self._reopen_pending = False
        self._withdrawal: Withdrawal | None = None
        self._closing = False
        self._press_closed = False
        self._follow_ups_left = 0
        self._round_started_at: datetime | None = None
        self._round_jobs: list[asyncio.Task] = []
        self._case_jobs: list[asyncio.Task] = []
        self._published: dict[str, Any] = {}
        self._custody_opened = False
        self._underretning_submitted_at: datetime | None = None
        # task id → history length of the workflow task that opened it (see the validator)
        self._opened_in: dict[str, int] = {}

    # ------------------------------------------------------------------ run

    async def run(self, case: CaseInput) -> CaseOutcome:
        self._round_started_at = case.reported_at
        self._event(
            EventKind.CASE_OPENED,
            f"Sag {case.case_number} oprettet på {case.school_id}",
            actor=case.opened_by,
        )
        self._procedure = await self._activity(
            "load_procedure",
            LoadProcedureRequest(year=case.reported_at.year, version=case.procedure_version),
            summary="Indlæs handlekortet",
            result_type=Procedure,
        )
        self._tz = calendar.zone(self._procedure.spec.timezone)
        self._non_working = frozenset(self._procedure.non_working_days)
        pump = asyncio.create_task(self._pump())
        press = asyncio.create_task(self._press_loop())
        self._publish()
        await self._record_case()

        try:
            while True:
                try:
                    await self._run_round()
                    await self._finish_case_jobs()
                    break
                except Reopened:
                    await self._supersede_round()
            # No await between these two lines: no press inquiry can slip in unhandled.
            self._status = CaseStatus.CLOSED
            self._press_closed = True
            await press
            self._event(EventKind.CASE_CLOSED, "Sagen er afsluttet")
        except Withdrawn:
            await self._settle(self._round_jobs + self._case_jobs + [press])
            for view in self._open_tasks():
                await self._close_task(view, TaskStatus.WITHDRAWN)
            self._status = CaseStatus.WITHDRAWN
            assert self._withdrawal is not None
            self._event(
                EventKind.CASE_WITHDRAWN,
                "Sagen er trukket tilbage",
                actor=self._withdrawal.by,
                reason=self._withdrawal.reason,
            )
        self._next_timer = None
        self._publish()
        await self._record_case(closed=True)
        self._closing = True
        await pump
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseOutcome(
            case_number=case.case_number,
            status=self._status,
            rounds=self._round,
            closed_at=workflow.now(),
            reason=self._withdrawal.reason if self._withdrawal else None,
        )

    async def _run_round(self) -> None:
        case = self._require_case()
        self._reopen_pending = False
        self._set_phase(Phase.ASSESS)
        if not case.parents_suspected and not self._custody_opened:
            # "Forældremyndighedsindehavere bør inddrages hurtigst muligt": from the start.
            self._custody_opened = True
            self._case_jobs.append(asyncio.create_task(self._run_task("assess.involve_custody")))

        uncover = await self._run_task("assess.uncover")
        evaluation = self._decision(await self._run_task("assess.evaluate"), EvaluateDecision)
        self._route = Route(evaluation.route)
        self._severity = Severity(evaluation.severity)
        self._underretning = evaluation.underretning
        self._publish()
        await self._record_case()
        if (
            case.parents_suspected
            and not evaluation.underretning
            and not self._custody_opened
            and workflow.patched("custody-when-no-underretning")
        ):
            # Suspected parents wait for the underretning; with none decided (a deviation,
            # so with a written reason) nothing would ever involve them. The card says "as
            # soon as possible": now, then.
            self._custody_opened = True
            self._case_jobs.append(asyncio.create_task(self._run_task("assess.involve_custody")))
        underretning_done: asyncio.Future[TaskView] | None = None
        if evaluation.underretning:
            # The duty arises "straks": it does not wait for the report phase.
            underretning_done = asyncio.get_running_loop().create_future()
            self._case_jobs.append(asyncio.create_task(self._underretning_flow(underretning_done)))
        await self._all(
            self._run_task("assess.involve_leadership"), self._run_task("assess.involve_tk")
        )

        self._set_phase(Phase.DOCUMENT)
        preserve = await self._run_task("document.preserve")
        draft = await self._activity(
            "draft_note",
            self._note_facts(self._decision(preserve, PreserveDecision)),
            summary="Udkast til notat om forløbet",
            result_type=str,
        )
        await self._run_task("document.note", extra_guidance=f"Udkast til notat:\n\n{draft}")

        self._set_phase(Phase.STOP_REPORT)
        uncovered = self._decision(uncover, UncoverDecision)
        stop: list[Awaitable[Any]] = [
            self._run_task(
                "stop.cooperate" if self._route == Route.INTERNAL else "stop.police_handover"
            ),
            self._run_task("stop.action_plan"),
        ]
        if not case.offender_known or uncovered.material_online:
            stop.append(self._run_task("stop.unknown_offender"))
        report: list[Awaitable[Any]] = [self._run_task("report.insurance")]
        if self._route == Route.POLICE:
            report.append(self._run_task("report.police"))
        if underretning_done is not None:
            report.append(self._wait_future(underretning_done))
        await self._all(*stop, *report)

        self._set_phase(Phase.TREAT)
        spec = self._require_procedure().spec
        evaluation_at = calendar.offset_after(
            workflow.now(), spec.timers.evaluation_after, self._require_tz()
        )
        treat = [self._run_task("treat.help"), self._run_task("treat.surroundings")]
        if case.victim_and_offender_same_school():
            treat.append(self._run_task("treat.same_school"))
        treat_job = asyncio.create_task(self._all(*treat))
        self._round_jobs.append(treat_job)
        await self._sleep_until(evaluation_at, "Evaluering")

        self._set_phase(Phase.CLOSE)
        evaluated = await self._run_task("close.evaluate")
        assert evaluated.completed_at is not None
        follow_ups = spec.timers.follow_ups
        for number, offset in enumerate(follow_ups, start=1):
            self._follow_ups_left = len(follow_ups) - number
            at = calendar.offset_after(evaluated.completed_at, offset, self._require_tz())
            await self._sleep_until(at, f"Opfølgning {number}")
            view = await self._run_task("close.follow_up")
            outcome = self._decision(view, FollowUpDecision).outcome
            if outcome == "close":
                break
            if outcome == "reopen":
                self._reopen_pending = True
                raise Reopened()
        await self._all(treat_job)
        self._round_jobs.clear()

    # ------------------------------------------------------------ branches

    async def _underretning_flow(self, submitted: asyncio.Future[TaskView]) -> None:
        """Underretning "straks", then the municipality's receipt within 6 weekdays."""
        case = self._require_case()
        view = await self._run_task("report.underretning")
        submitted.set_result(view)
        self._underretning_submitted_at = self._decision(view, UnderretningDecision).submitted_at
        if case.parents_suspected and not self._custody_opened:
            # Suspected parents are not contacted first: only now that the municipality knows.
            self._custody_opened = True
            self._case_jobs.append(asyncio.create_task(self._run_task("assess.involve_custody")))
        await self._run_task(
            "report.underretning_receipt",
            on_overdue=self._receipt_missing,
        )

    async def _receipt_missing(self, receipt: TaskView) -> None:
        self._event(
            EventKind.RECEIPT_MISSING,
            "Kommunen har ikke kvitteret for underretningen inden 6 hverdage",
            task_id=receipt.task_id,
        )
        self._case_jobs.append(
            asyncio.create_task(self._run_task("report.underretning_follow_up"))
        )

    async def _press_loop(self) -> None:
        while True:
            await workflow.wait_condition(
                lambda: bool(self._press_queue)
                or self._press_closed
                or self._withdrawal is not None
            )
            if self._withdrawal is not None:
                return
            if not self._press_queue:
                return
            self._press_queue.pop(0)
            self._case_jobs.append(asyncio.create_task(self._run_task("treat.press")))

    async def _finish_case_jobs(self) -> None:
        """Before closing: every case-level task (press, underretning) must be done too."""
        self._next_timer = None
        self._publish()
        while True:
            await self._wait(
                lambda: not self._press_queue
                and all(job.done() for job in self._case_jobs),
                until=None,
                summary=None,
                reopenable=True,
            )
            # Raise any failure; a new press inquiry may have arrived in between.
            for job in list(self._case_jobs):
                await job
            if not self._press_queue and all(job.done() for job in self._case_jobs):
                break

    async def _supersede_round(self) -> None:
        await self._settle(self._round_jobs)
        self._round_jobs.clear()
        for view in self._open_tasks():
            if view.key not in CASE_LEVEL_TASKS:
                await self._close_task(view, TaskStatus.SUPERSEDED)
        self._round += 1
        self._round_started_at = workflow.now()
        self._event(
            EventKind.ASSESSMENT_REOPENED,
            f"Ny hændelse: vurderingen genåbnes (runde {self._round})",
        )

    # --------------------------------------------------------------- tasks

    def _deadline_base(self, deadline_from: str, now: datetime) -> datetime:
        """Where a task's deadline is counted from, as the card's `deadline_from` says."""
        if deadline_from == "reported_at":
            # When the school learned of it: the report, or the new incident of this round.
            return self._round_started_at
        if deadline_from == "underretning_submitted" and self._underretning_submitted_at:
            return self._underretning_submitted_at
        return now

    async def _run_task(
        self,
        key: str,
        *,
        extra_guidance: str | None = None,
        on_overdue: Callable[[TaskView], Coroutine[Any, Any, None]] | None = None,
    ) -> TaskView:
        """Open a task, wait for it with reminder and escalation, close it; return it done."""
        case = self._require_case()
        spec = self._require_procedure().task(key)
        tz = self._require_tz()
        now = workflow.now()
        due = calendar.deadline_after(
            self._deadline_base(spec.deadline_from, now), spec.deadline, self._non_working, tz
        )
        escalate_at = (
            calendar.deadline_after(due, spec.escalation_grace, self._non_working, tz)
            if spec.escalate and spec.escalation_grace is not None
            else None
        )
        count = sum(1 for view in self._tasks.values() if view.key == key)
        task_id = key if count == 0 else f"{key}-{count + 1}"
        view = TaskView(
            task_id=task_id,
            key=key,
            title=spec.title,
            role=spec.role,
            round=self._round,
            status=TaskStatus.OPEN,
            opened_at=now,
            due_at=due,
            escalate_at=escalate_at,
        )
        self._tasks[task_id] = view
        self._opened_in[task_id] = workflow.info().get_current_history_length()
        self._event(
            EventKind.TASK_OPENED,
            f"Opgave åbnet: {spec.title} (frist {self._local(due)})",
            task_id=task_id,
        )
        guidance = spec.guidance if extra_guidance is None else f"{spec.guidance}\n\n{extra_guidance}"
        await self._activity(
            "open_task",
            OpenTaskRequest(
                workflow_id=current_workflow_id(),
                case_number=case.case_number,
                school_id=case.school_id,
                task_id=task_id,
                key=key,
                title=spec.title,
                guidance=guidance,
                role=spec.role,
                opened_at=now,
                due_at=due,
            ),
            summary=f"Åbn opgave: {spec.title}",
        )
        await self._notify(view, NotificationKind.TASK_OPENED, view.role)
        self._publish()

        reopenable = key not in CASE_LEVEL_TASKS
        if not await self._wait_task(view, due, f"Frist: {spec.title}", reopenable):
            if on_overdue is not None:
                await on_overdue(view)
                self._publish()
            else:
                await self._remind(view)
            if escalate_at is not None and not await self._wait_task(
                view, escalate_at, f"Eskalering: {spec.title}", reopenable
            ):
                await self._escalate(view)
            await self._wait_task(view, None, None, reopenable)
        await self._close_task(view, TaskStatus.DONE)
        return view

    async def _wait_task(
        self, view: TaskView, until: datetime | None, summary: str | None, reopenable: bool
    ) -> bool:
        return await self._wait(
            lambda: view.status != TaskStatus.OPEN,
            until=until,
            summary=summary,
            reopenable=reopenable,
        )

    async def _remind(self, view: TaskView) -> None:
        view.reminded = True
        await self._flag_overdue(
            view,
            EventKind.TASK_REMINDED,
            f"Påmindelse: fristen for '{view.title}' er overskredet",
            TaskFlagsRequest(workflow_id=current_workflow_id(), task_id=view.task_id, reminded=True),
            NotificationKind.REMINDER,
            view.role,
        )

    async def _escalate(self, view: TaskView) -> None:
        view.escalated = True
        await self._flag_overdue(
            view,
            EventKind.TASK_ESCALATED,
            f"Eskaleret til ledelsen: '{view.title}' er ikke udført",
            TaskFlagsRequest(workflow_id=current_workflow_id(), task_id=view.task_id, escalated=True),
            NotificationKind.ESCALATION,
            StaffRole.LEADERSHIP,
        )

    async def _flag_overdue(
        self,
        view: TaskView,
        kind: EventKind,
        text: str,
        flags: TaskFlagsRequest,
        notification: NotificationKind,
        recipient: StaffRole,
    ) -> None:
        self._event(kind, text, task_id=view.task_id)
        await self._update_task(flags)
        await self._notify(view, notification, recipient)
        self._publish()

    async def _close_task(self, view: TaskView, status: TaskStatus) -> None:
        if view.status == TaskStatus.OPEN:
            view.status = status
        if status != TaskStatus.DONE:
            self._event(
                EventKind.TASK_CLOSED,
                f"Opgave lukket ({status.value}): {view.title}",
                task_id=view.task_id,
            )
        await self._activity(
            "close_task",
            CloseTaskRequest(
                workflow_id=current_workflow_id(),
                task_id=view.task_id,
                status=view.status,
                closed_at=view.completed_at or workflow.now(),
                completed_by=view.completed_by.id if view.completed_by else None,
            ),
            summary=f"Luk opgave: {view.title}",
        )
        self._publish()

    async def _notify(self, view: TaskView, kind: NotificationKind, role: StaffRole) -> None:
        case = self._require_case()
        subject, body = self._notification_text(view, kind)
        await self._activity(
            "enqueue_notification",
            NotificationRequest(
                key=f"{current_workflow_id()}:{view.task_id}:{kind.value}",
                workflow_id=current_workflow_id(),
                case_number=case.case_number,
                school_id=case.school_id,
                kind=kind,
                role=role,
                assignee=view.assignee if role == view.role else None,
                task_id=view.task_id,
                subject=subject,
                body=body,
                created_at=workflow.now(),
            ),
            summary=f"Besked ({kind.value}): {view.title}",
        )

    def _notification_text(self, view: TaskView, kind: NotificationKind) -> tuple[str, str]:
        number = self._require_case().case_number
        due = self._local(view.due_at)
        if kind == NotificationKind.TASK_OPENED:
            subject = f"Sag {number}: Ny opgave – {view.title}"
            body = f"Der er en ny opgave i sag {number}: {view.title}. Frist: {due}."
        elif kind == NotificationKind.REMINDER:
            subject = f"Sag {number}: Påmindelse – {view.title}"
            body = f"Fristen for opgaven '{view.title}' i sag {number} var {due}."
        else:
            subject = f"Sag {number}: Eskalering – {view.title}"
            body = (
                f"Opgaven '{view.title}' i sag {number} er ikke udført. Fristen var {due}. "
                "Ledelsen bedes følge op."
            )
        return subject, body + " Se sagen på platformen. Beskeden indeholder ingen personoplysninger."

    # -------------------------------------------------------------- waiting

    async def _wait(
        self,
        done: Callable[[], bool],
        *,
        until: datetime | None,
        summary: str | None,
        reopenable: bool,
    ) -> bool:
        """Wait for `done` until a moment; False at the timeout.

        Raises Withdrawn / Reopened as soon as the case is withdrawn or assessment re-opened, so
        that every waiting step of the case stops at once and deterministically.
        """

        def interrupted() -> bool:
            return self._withdrawal is not None or (reopenable and self._reopen_pending)

        timeout: timedelta | None = None
        if until is not None:
            timeout = until - workflow.now()
            if timeout <= timedelta(0):
                return done()
        try:
            await workflow.wait_condition(
                lambda: done() or interrupted(), timeout=timeout, timeout_summary=summary
            )
        except asyncio.TimeoutError:
            return done()
        if done():
            return True
        if self._withdrawal is not None:
            raise Withdrawn()
        raise Reopened()

    async def _sleep_until(self, at: datetime, what: str) -> None:
        self._next_timer = NextTimer(what=what, at=at)
        self._event(EventKind.TIMER_SET, f"{what} planlagt til {self._local(at)}")
        self._publish()
        try:
            await self._wait(
                lambda: False, until=at, summary=f"{what} {self._local(at)}", reopenable=True
            )
        finally:
            # Also when a new incident or a withdrawal interrupts the wait: the timer is gone.
            # (Snapshot and current details only, no command: replays are unaffected.)
            self._next_timer = None

    async def _wait_future(self, future: asyncio.Future) -> None:
        await self._wait(lambda: future.done(), until=None, summary=None, reopenable=True)

    @staticmethod
    async def _all(*steps: Awaitable[Any]) -> list[Any]:
        """Run steps side by side; when one is interrupted, let all stop before raising."""
        results = await asyncio.gather(*steps, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    @staticmethod
    async def _settle(jobs: list[asyncio.Task]) -> None:
        await asyncio.gather(*jobs, return_exceptions=True)

    # ------------------------------------------------------------ messages

    async def message(self, name: str, args: Sequence[RawValue]) -> None:
        """Every signal of the contract, read here so that none can fail a workflow task."""
        handlers: dict[str, Callable[[Any], Awaitable[None]]] = {
            "complete_task": self._on_complete_task,
            "press_inquiry": self._on_press_inquiry,
            "new_incident": self._on_new_incident,
            "add_note": self._on_add_note,
            "withdraw_case": self._on_withdraw_case,
            "reassign_task": self._on_reassign_task,
        }
        handler = handlers.get(name)
        if handler is None:
            # The name is the sender's choice: it is not repeated in the timeline.
            self._event(
                EventKind.REJECTED,
                "Afvist ukendt besked",
                reason="Sagen kender ikke denne besked / The case does not know this message",
            )
            return
        try:
            raw = inbound.read_one([arg.payload for arg in args], workflow.payload_converter())
        except Rejection as rejection:
            self._reject(name, rejection, None)
            return
        await handler(raw)

    async def _on_complete_task(self, raw: Any) -> None:
        await self._until_task_present(raw, guarded=True)
        try:
            completion, view, deviations = self._check_completion(raw)
        except Rejection as rejection:
            self._reject("complete_task", rejection, raw)
            return
        self._accept(completion, view, deviations)

    async def submit_task(self, *args: Any) -> TaskView:
        raw = args[0] if args else None
        # Accepted by the validator, so the task was open then; on replay the SDK may deliver
        # this update before the timer or activity result that opened the task, in the same
        # activation: wait for it rather than refuse what was already accepted.
        await self._until_task_present(raw, guarded=False)
        try:
            completion, view, deviations = self._check_completion(raw)
        except Rejection as rejection:
            raise ApplicationError(str(rejection), type="TaskRejected", non_retryable=True) from None
        self._accept(completion, view, deviations)
        return view

    def validate_submit_task(self, *args: Any) -> None:
        try:
            if len(args) != 1:
                raise Rejection(
                    f"Beskeden skal indeholde præcis én værdi, ikke {len(args)} / "
                    f"The message must carry exactly one value, not {len(args)}"
                )
            _, view, _ = self._check_completion(args[0])
            if self._opened_in.get(view.task_id) == workflow.info().get_current_history_length():
                # Opened in this very workflow task, which is not recorded yet: accepting now
                # would put the update in the same workflow task as the event that opened the
                # task, which the SDK may replay in the other order.
                raise rejections.being_opened(view.task_id)
        except Rejection as rejection:
            raise ApplicationError(str(rejection), type="TaskRejected", non_retryable=True) from None

    async def _on_press_inquiry(self, raw: Any) -> None:
        try:
            self._require_active()
            inquiry = rejections.parse(PressInquiry, raw, earlier_guard=True)
        except Rejection as rejection:
            self._reject("press_inquiry", rejection, raw)
            return
        self._press_queue.append(inquiry)
        self._event(
            EventKind.PRESS_INQUIRY,
            f"Pressehenvendelse fra {inquiry.medium}: kommunikationsafdelingen inddrages",
            actor=inquiry.received_by,
        )

    async def _on_new_incident(self, raw: Any) -> None:
        try:
            self._require_active()
            incident = rejections.parse(NewIncident, raw, earlier_guard=True)
        except Rejection as rejection:
            self._reject("new_incident", rejection, raw)
            return
        self._event(
            EventKind.NEW_INCIDENT,
            f"Ny hændelse registreret: {incident.description}",
            actor=incident.reported_by,
        )
        if incident.reopen_assessment and self._phase != Phase.ASSESS:
            self._reopen_pending = True

    async def _on_add_note(self, raw: Any) -> None:
        try:
            note = rejections.parse(CaseNote, raw, earlier_guard=True)
        except Rejection as rejection:
            self._reject("add_note", rejection, raw)
            return
        self._event(EventKind.NOTE_ADDED, note.text, actor=note.author)

    async def _on_withdraw_case(self, raw: Any) -> None:
        try:
            self._require_active()
            withdrawal = rejections.parse(Withdrawal, raw, earlier_guard=True)
            if withdrawal.by.role not in (StaffRole.LEADERSHIP, StaffRole.OPERATOR,
                                          StaffRole.CASE_OWNER):
                raise rejections.Rejection(
                    "Kun sagsejer, ledelse eller driften kan trække en sag tilbage / "
                    "Only the case owner, leadership or an operator can withdraw a case"
                )
        except Rejection as rejection:
            self._reject("withdraw_case", rejection, raw)
            return
        self._withdrawal = withdrawal

    async def _on_reassign_task(self, raw: Any) -> None:
        await self._until_task_present(raw, guarded=True)
        try:
            self._require_active()
            change = rejections.parse(Reassignment, raw, earlier_guard=True)
            view = self._resolve_open_task(change.task_key, change.task_id)
        except Rejection as rejection:
            self._reject("reassign_task", rejection, raw)
            return
        view.assignee = change.assignee
        self._event(
            EventKind.TASK_REASSIGNED,
            f"Opgaven '{view.title}' er tildelt {change.assignee}",
            actor=change.by,
            task_id=view.task_id,
        )
        self._pending_flags.append(TaskFlagsRequest(
            workflow_id=current_workflow_id(), task_id=view.task_id, assignee=change.assignee
        ))

    async def _until_task_present(self, raw: Any, *, guarded: bool) -> None:
        """Let a message that names a task wait, bounded, for the case to open it.

        Whether the task exists must not depend on the order of jobs within one activation:
        the timer or activity result that opens it may come after the message. Nothing is
        awaited when the task is there (so histories without this wait replay unchanged).
        """
        if not isinstance(raw, dict):
            return
        key, task_id = raw.get("task_key"), raw.get("task_id")
        if not isinstance(key, str) or key not in DECISION_TYPES:
            return  # refused at once for what it is
        if task_id is not None and not isinstance(task_id, str):
            return

        def present() -> bool:
            if self._withdrawal is not None or self._status != CaseStatus.ACTIVE:
                return True  # nothing to wait for: the case refuses it as ended
            if task_id is not None:
                return task_id in self._tasks
            # By key alone: any instance will do (a done one is refused as done at once).
            return any(view.key == key for view in self._tasks.values())

        if present():
            return
        if guarded and not workflow.patched(WAIT_FOR_TASK_PATCH):
            return
        try:
            await workflow.wait_condition(present, timeout=TASK_WAIT)
        except asyncio.TimeoutError:
            pass

    def snapshot(self) -> CaseSnapshot:
        case = self._require_case()
        now = workflow.now()
        open_tasks = sorted(self._open_tasks(), key=lambda v: (v.due_at, v.task_id))
        done = [v for v in self._tasks.values() if v.status != TaskStatus.OPEN]
        return CaseSnapshot(
            case_number=case.case_number,
            school_id=case.school_id,
            workflow_id=current_workflow_id(),
            procedure_version=self._procedure.spec.version if self._procedure else "",
            phase=self._phase,
            status=self._status,
            round=self._round,
            route=self._route,
            severity=self._severity,
            underretning=self._underretning,
            recommendation=self._recommendation,
            open_tasks=open_tasks,
            done_tasks=done,
            timeline=list(self._timeline),
            next_timer=self._next_timer,
            has_overdue_task=any(v.overdue(now) for v in open_tasks),
            next_deadline=min((v.due_at for v in open_tasks), default=None),
            as_of=now,
        )

    # ----------------------------------------------------------- completion

    def _check_completion(self, raw: Any) -> tuple[TaskCompletion, TaskView, list[str]]:
        self._require_active()
        if isinstance(raw, dict) and isinstance(raw.get("task_key"), str):
            # Name an unknown task plainly, before complaining about its decision's shape.
            if raw["task_key"] not in DECISION_TYPES:
                raise rejections.unknown_task(raw["task_key"])
        completion = rejections.parse(TaskCompletion, raw, earlier_guard=True)
        key = completion.task_key
        if key not in DECISION_TYPES:
            raise rejections.unknown_task(key)
        if completion.decision.task != key:
            raise rejections.wrong_decision(key, completion.decision.task)
        view = self._resolve_open_task(key, completion.task_id)
        if completion.actor.role not in (view.role, StaffRole.OPERATOR):
            raise rejections.wrong_role(key, view.role.value, completion.actor.role.value)
        if (
            isinstance(completion.decision, FollowUpDecision)
            and completion.decision.outcome == "continue"
            and self._follow_ups_left == 0
        ):
            raise rejections.no_follow_up_left()
        deviations = rules.deviations(completion.decision, self._recommendation)
        if deviations and not completion.reason:
            raise rejections.reason_required(deviations)
        return completion, view, deviations

    def _resolve_open_task(self, key: str, task_id: str | None) -> TaskView:
        if task_id is not None:
            view = self._tasks.get(task_id)
            if view is None or view.key != key:
                raise rejections.unknown_instance(task_id)
            if view.status != TaskStatus.OPEN:
                raise rejections.already_done(task_id, view.status.value)
            return view
        if key not in DECISION_TYPES:
            raise rejections.unknown_task(key)
        candidates = [v for v in self._tasks.values() if v.key == key]
        open_ones = [v for v in candidates if v.status == TaskStatus.OPEN]
        if open_ones:
            return min(open_ones, key=lambda v: v.opened_at)
        if candidates:
            raise rejections.already_done(key, candidates[-1].status.value)
        raise rejections.not_open_yet(key)

    def _accept(self, completion: TaskCompletion, view: TaskView, deviations: list[str]) -> None:
        view.status = TaskStatus.DONE
        view.completed_at = workflow.now()
        view.completed_by = completion.actor
        view.decision = completion.decision.model_dump(mode="json")
        view.reason = completion.reason
        view.deviations = deviations
        self._decisions[view.task_id] = completion.decision
        self._event(
            EventKind.TASK_COMPLETED,
            f"Opgave udført: {view.title}"
            + (" (afviger fra anbefalingen)" if deviations else ""),
            actor=completion.actor,
            task_id=view.task_id,
            reason=completion.reason,
        )
        if isinstance(completion.decision, UncoverDecision):
            self._recommend(completion.decision)

    def _recommend(self, uncover: UncoverDecision) -> None:
        """Advice is recorded the moment the facts are in, before anyone evaluates."""
        advice = earlier_rules.recommend(self._case, uncover)
        self._recommendation = advice
        advised = [
            label
            for label, on in (
                ("politianmeldelse", advice.police_report),
                ("underretning", advice.underretning),
                ("SSP", advice.ssp),
            )
            if on
        ]
        self._event(
            EventKind.RECOMMENDATION,
            "Anbefaling: " + (", ".join(advised) if advised else "intern håndtering"),
            reason=" ".join(advice.reasons),
        )

    def _reject(self, message: str, rejection: Rejection, raw: Any) -> None:
        actor = None
        if isinstance(raw, dict):
            for field in ("actor", "by", "author", "received_by", "reported_by"):
                try:
                    actor = Actor.model_validate(raw.get(field))
                    break
                except Exception:  # noqa: BLE001 - an unreadable actor is simply not named
                    continue
        task_id = (raw.get("task_id") or raw.get("task_key")) if isinstance(raw, dict) else None
        if not isinstance(task_id, str) or (
            task_id not in self._tasks and task_id not in DECISION_TYPES
        ):
            task_id = None  # only ids we know: a rejected message's text is not repeated
        self._event(
            EventKind.REJECTED,
            f"Afvist besked '{message}'",
            actor=actor,
            task_id=task_id,
            reason=str(rejection),
        )

    def _require_active(self) -> None:
        if self._status != CaseStatus.ACTIVE or self._withdrawal is not None:
            status = CaseStatus.WITHDRAWN if self._withdrawal else self._status
            raise rejections.case_ended(status.value)

    # ---------------------------------------------------------- bookkeeping

    def _event(
        self,
        kind: EventKind,
        text: str,
        *,
        actor: Actor | None = None,
        task_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        self._timeline.append(
            TimelineEvent(
                seq=len(self._timeline) + 1,
                at=workflow.now(),
                kind=kind,
                text=text,
                actor=actor,
                task_id=task_id,
                reason=reason,
            )
        )

    async def _pump(self) -> None:
        """Carry timeline events and inbox changes recorded by handlers to the store."""
        case = self._require_case()
        while True:
            await workflow.wait_condition(
                lambda: self._synced_events < len(self._timeline)
                or bool(self._pending_flags)
                or self._closing
            )
            if self._synced_events < len(self._timeline):
                end = len(self._timeline)
                await self._activity(
                    "append_timeline",
                    TimelineBatch(
                        workflow_id=current_workflow_id(),
                        case_number=case.case_number,
                        events=self._timeline[self._synced_events:end],
                    ),
                    summary="Tidslinje",
                )
                self._synced_events = end
            while self._pending_flags:
                await self._update_task(self._pending_flags.pop(0))
            if self._closing and self._synced_events == len(self._timeline):
                return

    async def _update_task(self, request: TaskFlagsRequest) -> None:
        await self._activity("update_task", request, summary="Opdater opgave")

    async def _record_case(self, closed: bool = False) -> None:
        case = self._require_case()
        await self._activity(
            "record_case",
            CaseRecord(
                workflow_id=current_workflow_id(),
                case_number=case.case_number,
                school_id=case.school_id,
                phase=self._phase,
                status=self._status,
                route=self._route,
                severity=self._severity,
                opened_at=workflow.info().start_time,
                closed_at=workflow.now() if closed else None,
            ),
            summary=f"Sagens status: {PHASE_HEADING_DA[self._phase]}",
        )

    def _set_phase(self, phase: Phase) -> None:
        self._phase = phase
        self._event(EventKind.PHASE_ENTERED, f"Fase: {PHASE_HEADING_DA[phase]}")
        self._publish()

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the case."""
        case = self._require_case()
        now = workflow.now()
        open_tasks = self._open_tasks()
        values: dict[str, Any] = {
            sa.CASE_NUMBER.name: case.case_number,
            sa.SCHOOL_ID.name: case.school_id,
            sa.CASE_PHASE.name: self._phase.value,
            sa.CASE_STATUS.name: self._status.value,
            sa.CASE_ROUTE.name: self._route.value,
            sa.CASE_SEVERITY.name: self._severity.value,
            sa.OPEN_TASK_COUNT.name: len(open_tasks),
            sa.NEXT_DEADLINE.name: min((v.due_at for v in open_tasks), default=None),
            sa.HAS_OVERDUE_TASK.name: any(v.overdue(now) for v in open_tasks),
        }
        changed = {k: v for k, v in values.items() if self._published.get(k, ...) != v}
        if not changed:
            return
        updates = []
        for key in sa.ALL:
            if key.name not in changed:
                continue
            value = changed[key.name]
            updates.append(key.value_unset() if value is None else key.value_set(value))
        workflow.upsert_search_attributes(updates)
        self._published.update(changed)
        lines = [
            f"**Sag {case.case_number}** · {case.school_id}",
            f"Fase: {PHASE_HEADING_DA[self._phase]} · Status: {self._status.value} · "
            f"Spor: {self._route.value} · Alvor: {self._severity.value}",
        ]
        for view in sorted(open_tasks, key=lambda v: v.due_at):
            lines.append(f"- {view.title} ({view.role.value}), frist {self._local(view.due_at)}")
        if self._next_timer is not None:
            lines.append(f"Næste timer: {self._next_timer.what} {self._local(self._next_timer.at)}")
        workflow.set_current_details("\n".join(lines))

    def _note_facts(self, preserve: PreserveDecision) -> NoteFacts:
        case = self._require_case()
        uncover = self._latest_decision("assess.uncover", UncoverDecision)
        return NoteFacts(
            case_number=case.case_number,
            school_id=case.school_id,
            reported_at=case.reported_at,
            participants=[
                f"{p.pseudonym} ({PARTICIPANT_ROLE_DA[p.role]}, {p.age} år"
                + (", samme skole)" if p.same_school else ", anden skole)")
                for p in case.participants
            ],
            violation_types=[v.value for v in case.violation_types],
            what=uncover.what,
            where=uncover.where,
            when_occurred=uncover.when_occurred,
            evidence=[
                f"{item.kind}, opbevares af {item.held_by}, sikret {self._local(item.secured_at)}"
                + (", brugernavne noteret" if item.usernames_noted else "")
                + (", tidspunkter noteret" if item.times_noted else "")
                for item in preserve.evidence
            ],
            route=self._route,
            severity=self._severity,
        )

    # --------------------------------------------------------------- helpers

    async def _activity(
        self, name: str, arg: Any, *, summary: str, result_type: type | None = None
    ) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            summary=summary,
            result_type=result_type,
        )

    def _open_tasks(self) -> list[TaskView]:
        return [v for v in self._tasks.values() if v.status == TaskStatus.OPEN]

    def _decision(self, view: TaskView, kind: type) -> Any:
        decision = self._decisions[view.task_id]
        assert isinstance(decision, kind)
        return decision

    def _latest_decision(self, key: str, kind: type) -> Any:
        done = [v for v in self._tasks.values() if v.key == key and v.task_id in self._decisions]
        return self._decision(max(done, key=lambda v: v.completed_at or v.opened_at), kind)

    def _local(self, moment: datetime) -> str:
        tz = self._tz or calendar.COPENHAGEN
        return moment.astimezone(tz).strftime("%d.%m.%Y kl. %H:%M")

    def _require_case(self) -> CaseInput:
        return self._case

    def _require_procedure(self) -> Procedure:
        assert self._procedure is not None
        return self._procedure

    def _require_tz(self) -> ZoneInfo:
        assert self._tz is not None
        return self._tz
