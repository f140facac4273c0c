"""The lean case core: the card's orchestration, with one store write and one timer per case.

assess -> document -> stop || report -> treat -> [timer] close (evaluation, follow-ups).
Every human step is a task (workflows/steps.py). Whatever one activation changes (tasks opened,
closed or flagged, timeline, notifications, the case row) goes to the store as ONE EffectBatch
through a local activity (workflows/state.py, workflows/writer.py). Deadlines, reminders,
escalations and the case's own timers share ONE durable timer: the next moment that matters,
re-armed only when it comes earlier (workflows/clock.py). Messages and the snapshot reach it
through workflows/handlers.py and workflows/records.py.

This module owns the run itself: the rounds, the phases, the branches (underretning, press,
custody) and how a case ends, is withdrawn or continues as new; CaseCore puts the mixins
together.

Deterministic code only: time from workflow.now(), side effects in the local activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import CaseActivities
    from activities.note import render_note
    from procedure import calendar, rules
    from schemas.activities import LoadProcedureRequest
    from schemas.case import CaseInput
    from schemas.common import CaseStatus, Phase, Route, Severity, TaskStatus
    from schemas.decisions import (
        EvaluateDecision,
        FollowUpDecision,
        PoliceHandoverDecision,
        PoliceReportDecision,
        PreserveDecision,
        UncoverDecision,
        UnderretningDecision,
    )
    from schemas.labels import PHASE_HEADING_DA
    from schemas.snapshot import CarriedCase, CaseOutcome, EventKind, TaskView
    from workflows import continuation, inbound, texts
    from workflows.clock import CaseClock
    from workflows.handlers import CaseMessages
    from workflows.state import CaseState
    from workflows.steps import CASE_LEVEL_TASKS, CaseSteps, Continuing, Reopened, Withdrawn
    from workflows.writer import STORE_RETRY, STORE_TIMEOUT, CaseWriter

# What a case started by this build does differently from the cases before it (issue 13's
# "card, law and a case worker's day": the evaluation after the help, follow-ups on working
# days, the action plan from the start, reasons for help not given and for departures both ways,
# the underretning when the facts call for it and its times checked, task ids per round, the
# police route's fallbacks, custody holders of every child each round). One marker for them
# all, recorded in the case's first workflow task before its first local activity (a marker
# recorded after one can land in another workflow task on replay): a case started before keeps
# running as it started (docs/versioning.md), and a case pays one history event, not ten.
CARD_ROUND_TWO = "card-round-two"
# What a case started by this build does beyond that ("card-round-three", issue 13 continued):
# advice from rules with their legal basis (procedure/rules.py; earlier cases keep
# procedure/earlier_rules.py), the school's own cooperation on the police route when SSP was
# chosen or no report was filed, the cooperation checked against SSP and the police's advice
# on an offender under 15, and a custody task per child. A new case records only this marker:
# it implies the one before.
CARD_ROUND_THREE = "card-round-three"


class CaseCore(CaseSteps, CaseWriter, CaseClock, CaseMessages):
    def __init__(self, case: CaseInput) -> None:
        super().__init__(CaseState(case=case))
        self._round_jobs: list[asyncio.Task[Any]] = []
        self._case_jobs: list[asyncio.Task[Any]] = []
        self._overdue: dict[str, Callable[[TaskView], Coroutine[Any, Any, None]]] = {}
        # (round, key) → how many times this run has run that task (see _claim)
        self._claims: dict[tuple[int, str], int] = {}
        self._continue_now = False
        self._wake_at: datetime | None = None
        self._woken = False
        self._closing = False

    # ------------------------------------------------------------------ run

    async def run(self, case: CaseInput, carried: CarriedCase | None = None) -> CaseOutcome:
        s = self.state
        s.round_started_at = case.reported_at
        mailroom = asyncio.create_task(self._mailroom())
        if carried is not None:
            continuation.restore(s, self.effects, carried)
        else:
            self._event(
                EventKind.CASE_OPENED,
                f"Sag {case.case_number} oprettet på {case.school_id}",
                actor=case.opened_by,
            )
        # After a local activity the SDK may resume the workflow at a time that differs between
        # the first run of a workflow task and its replays (when the worker dropped the case in
        # between, the first run resumes at the next task's time, a replay at the activity's
        # completion). The first steps therefore take their times from this first activation,
        # which every replay agrees on, so the inbox and the case show the same deadlines.
        self._held_time = workflow.now()
        # Asked here, before the local activity, for the same reason (CARD_ROUND_TWO).
        # A case started by this build records only the newest marker, which implies the ones
        # before it; a case started earlier replays the one it recorded (or none).
        if carried is not None and carried.card_round is not None:
            # A continued case keeps the rules it started with (not a new case's).
            self._card_round = carried.card_round
        elif workflow.patched(CARD_ROUND_THREE):
            self._card_round = 3
        elif workflow.patched(CARD_ROUND_TWO):
            self._card_round = 2
        s.procedure = await workflow.execute_local_activity_method(
            CaseActivities.load_procedure,
            LoadProcedureRequest(year=case.reported_at.year, version=case.procedure_version),
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY,
            summary="Indlæs handlekortet",
        )
        s.tz = calendar.zone(s.procedure.spec.timezone)
        s.non_working = frozenset(s.procedure.non_working_days)
        self._record_case()
        background = [
            asyncio.create_task(self._store_writer()),
            asyncio.create_task(self._clock()),
            asyncio.create_task(self._release_held_time()),
        ]
        press = asyncio.create_task(self._press_loop())
        try:
            while True:
                try:
                    await self._run_round()
                    await self._finish_case_jobs()
                    break
                except Reopened:
                    await self._supersede_round()
            # No await between these two lines: no press inquiry can slip in unhandled.
            s.status = CaseStatus.CLOSED
            s.press_closed = True
            await press
            self._event(EventKind.CASE_CLOSED, "Sagen er afsluttet")
        except Continuing:
            await self._settle(self._round_jobs + self._case_jobs + [press])
            await self._wind_down(mailroom, background)
            sealed = workflow.memo_value(inbound.SEALED_MEMO, False, type_hint=bool)
            workflow.continue_as_new(
                args=[case],
                memo={
                    "carried": continuation.carried(s, self._card_round),
                    inbound.SEALED_MEMO: sealed,
                },
            )
        except Withdrawn:
            await self._settle(self._round_jobs + self._case_jobs + [press])
            for view in s.open_tasks():
                self._close(view, TaskStatus.WITHDRAWN)
            s.status = CaseStatus.WITHDRAWN
            assert s.withdrawal is not None
            self._event(
                EventKind.CASE_WITHDRAWN,
                "Sagen er trukket tilbage",
                actor=s.withdrawal.by,
                reason=s.withdrawal.reason,
            )
        s.next_timer = None
        self._record_case(closed=True)
        await self._wind_down(mailroom, background)
        return CaseOutcome(
            case_number=case.case_number,
            status=s.status,
            rounds=s.round,
            closed_at=workflow.now(),
            reason=s.withdrawal.reason if s.withdrawal else None,
        )

    async def _wind_down(
        self, mailroom: asyncio.Task[Any], background: list[asyncio.Task[Any]]
    ) -> None:
        """Every message taken up (once the case has ended: refused) and written, every update
        answered, before this run ends (the case completes or continues as new); then the
        mailroom and the background jobs stop."""
        self._closing = True
        await workflow.wait_condition(
            lambda: (
                workflow.all_handlers_finished()
                and self.mail_done()
                and self.effects.settled(self.state.timeline)
            )
        )
        self._finished = True
        await asyncio.gather(mailroom, *background)

    async def _run_round(self) -> None:
        s, case = self.state, self.state.case
        s.reopen_pending = False
        self._set_phase(Phase.ASSESS)
        if not case.parents_suspected and self._custody_due():
            # "Forældremyndighedsindehavere bør inddrages hurtigst muligt": from the start.
            self._involve_custody()
        action_plan: asyncio.Task[TaskView] | None = None
        if self._card_round >= 2:
            # Undervisningsmiljøloven § 1 c: the plan is due 10 working days after the school
            # learned of it, so leadership sees it from the first day; the stop phase waits.
            action_plan = asyncio.create_task(self._run_task("stop.action_plan"))
            self._round_jobs.append(action_plan)
        underretning_done: asyncio.Future[TaskView] | None = None

        def underretning_now() -> asyncio.Future[TaskView]:
            # The duty arises "straks": it does not wait for the report phase.
            done: asyncio.Future[TaskView] = asyncio.get_running_loop().create_future()
            self._case_jobs.append(asyncio.create_task(self._underretning_flow(done)))
            return done

        if self._card_round >= 2 and self._advice(None).underretning:
            # Barnets lov § 133: what the school knows from the start already calls for it.
            underretning_done = underretning_now()
        uncover = await self._run_task("assess.uncover")
        if (
            self._card_round >= 2
            and underretning_done is None
            and s.recommendation is not None
            and s.recommendation.underretning
        ):
            underretning_done = underretning_now()  # what uncovering found calls for it
        evaluation = s.decision(await self._run_task("assess.evaluate"), EvaluateDecision)
        s.route, s.severity = Route(evaluation.route), Severity(evaluation.severity)
        s.underretning = evaluation.underretning
        self._record_case()
        if case.parents_suspected and not evaluation.underretning and self._custody_due():
            # With no underretning decided nothing else would ever involve them.
            self._involve_custody()
        if evaluation.underretning and underretning_done is None:
            underretning_done = underretning_now()
        elif not evaluation.underretning and underretning_done is not None:
            # Decided against, with a reason (a deviation): a task not yet done is withdrawn.
            for view in s.open_tasks():
                if view.key == "report.underretning" and view.round == s.round:
                    self._close(view, TaskStatus.WITHDRAWN)
            underretning_done = None
        await self._all(
            self._run_task("assess.involve_leadership"), self._run_task("assess.involve_tk")
        )

        self._set_phase(Phase.DOCUMENT)
        preserve = s.decision(await self._run_task("document.preserve"), PreserveDecision)
        draft = render_note(
            texts.note_facts(
                case,
                s.latest_decision("assess.uncover", UncoverDecision),
                preserve,
                s.route,
                s.severity,
                s.tz,
            )
        )
        await self._run_task("document.note", extra_guidance=f"Udkast til notat:\n\n{draft}")

        self._set_phase(Phase.STOP_REPORT)
        uncovered = s.decision(uncover, UncoverDecision)
        if self._card_round >= 3:
            stop: Awaitable[Any] = self._stop_it(evaluation, uncovered)
        elif s.route == Route.POLICE and self._card_round >= 2:
            stop = self._police_stop(shared=uncovered.material_shared)
        else:
            stop = self._run_task(
                "stop.cooperate" if s.route == Route.INTERNAL else "stop.police_handover"
            )
        steps: list[Awaitable[Any]] = [
            stop,
            self._run_task("stop.action_plan") if action_plan is None else action_plan,
        ]
        if not case.offender_known or uncovered.material_online:
            steps.append(self._run_task("stop.unknown_offender"))
        steps.append(
            self._run_task(
                "report.insurance",
                # The family may still report to the police itself (the card's ANMELD).
                extra_guidance=texts.POLICE_REPORT_BY_THE_FAMILY
                if s.route == Route.INTERNAL
                else None,
            )
        )
        if s.route == Route.POLICE and self._card_round < 3:
            steps.append(self._run_task("report.police"))  # since round three: in _stop_it
        if underretning_done is not None:
            steps.append(self._wait(underretning_done.done, reopenable=True))
        await self._all(*steps)

        self._set_phase(Phase.TREAT)
        spec = self._procedure().spec
        assert s.tz is not None  # set with the procedure, in run()
        evaluation_at = calendar.offset_after(self._now(), spec.timers.evaluation_after, s.tz)
        treat = [self._run_task("treat.help"), self._run_task("treat.surroundings")]
        if case.victim_and_offender_same_school():
            treat.append(self._run_task("treat.same_school"))
        treat_job = asyncio.create_task(self._all(*treat))
        self._round_jobs.append(treat_job)
        if self._card_round >= 2:
            # The evaluation looks back on the help given: it waits until the treat tasks are
            # done, and its weeks count from then. Cases started before keep their timer.
            await self._wait(treat_job.done, reopenable=True)
            await treat_job  # raises what failed
            evaluation_at = calendar.offset_after(self._now(), spec.timers.evaluation_after, s.tz)
        await self._sleep_until(evaluation_at, "Evaluering")

        self._set_phase(Phase.CLOSE)
        evaluated = await self._run_task("close.evaluate")
        assert evaluated.completed_at is not None
        follow_ups = spec.timers.follow_ups
        for number, offset in enumerate(follow_ups, start=1):
            s.follow_ups_left = len(follow_ups) - number
            follow_up_at = calendar.offset_after(evaluated.completed_at, offset, s.tz)
            if self._card_round >= 2:
                follow_up_at = calendar.on_a_working_day(follow_up_at, s.non_working, s.tz)
            await self._sleep_until(follow_up_at, f"Opfølgning {number}")
            outcome = s.decision(await self._run_task("close.follow_up"), FollowUpDecision).outcome
            if outcome == "close":
                break
            if outcome == "reopen":
                s.reopen_pending = True
                raise Reopened()
        await self._all(treat_job)
        self._round_jobs.clear()

    # ------------------------------------------------------------ branches

    async def _stop_it(self, evaluation: EvaluateDecision, uncovered: UncoverDecision) -> None:
        """Stopping the violation, with the police route's fallbacks ("card-round-three").

        Internal route: the school's cooperation. Police route: the handover and the report,
        and the school's own cooperation beside them when material went round among pupils,
        when SSP was chosen (the SSP cooperation), when the police do not take over, or when no
        report was filed (or nobody knows): the police act only on a report."""
        s = self.state
        advice = s.recommendation
        needs: list[str] = []
        if evaluation.ssp:
            needs.append(texts.SSP_CHOSEN)
        if advice is not None and advice.police_advice:
            needs.append(texts.POLICE_ADVICE_FOR_A_YOUNG_OFFENDER)
        if s.route == Route.INTERNAL:
            await self._run_task("stop.cooperate", extra_guidance="\n\n".join(needs) or None)
            return
        if uncovered.material_shared:
            needs.insert(0, texts.MATERIAL_SHARED_ON_THE_POLICE_ROUTE)
        cooperation: list[asyncio.Task[TaskView]] = []

        def cooperate(why: str) -> None:
            if cooperation:
                return  # one cooperation; the decision that also calls for it is on record
            job = asyncio.create_task(self._run_task("stop.cooperate", extra_guidance=why))
            self._round_jobs.append(job)
            cooperation.append(job)

        if needs:
            cooperate("\n\n".join(needs))

        async def handover() -> None:
            view = await self._run_task("stop.police_handover")
            if not s.decision(view, PoliceHandoverDecision).police_took_over:
                cooperate(texts.POLICE_DID_NOT_TAKE_OVER)

        async def report() -> None:
            view = await self._run_task("report.police")
            filed = s.decision(view, PoliceReportDecision).filed
            if filed != "yes":
                cooperate(texts.police_report_not_filed(filed))

        await self._all(handover(), report())
        await self._all(*cooperation)

    async def _police_stop(self, *, shared: bool) -> None:
        """The police take over the efforts to stop it; the school does its own part where
        material went round among pupils (deletion, the class), and all of it if the police
        do not take over."""
        steps = [self._run_task("stop.police_handover")]
        if shared:
            steps.append(self._run_task("stop.cooperate"))
        handover, *_ = await self._all(*steps)
        if (
            not shared
            and not self.state.decision(handover, PoliceHandoverDecision).police_took_over
        ):
            await self._run_task("stop.cooperate")

    async def _underretning_flow(self, submitted: asyncio.Future[TaskView]) -> None:
        """Underretning "straks", then the municipality's receipt within 6 weekdays."""
        s = self.state
        view = await self._run_task("report.underretning")
        submitted.set_result(view)
        if view.status == TaskStatus.WITHDRAWN:
            return  # the evaluation decided against it
        s.underretning_submitted_at = s.decision(view, UnderretningDecision).submitted_at
        if s.case.parents_suspected and self._custody_due():
            # Suspected parents are not contacted first: only now that the municipality knows.
            self._involve_custody()
        await self._run_task("report.underretning_receipt", on_overdue=self._receipt_missing)

    async def _receipt_missing(self, receipt: TaskView) -> None:
        self._event(
            EventKind.RECEIPT_MISSING,
            "Kommunen har ikke kvitteret for underretningen inden 6 hverdage",
            task_id=receipt.task_id,
        )
        self._case_jobs.append(asyncio.create_task(self._run_task("report.underretning_follow_up")))

    async def _press_loop(self) -> None:
        s = self.state
        while True:
            await workflow.wait_condition(
                lambda: (
                    bool(s.press_queue)
                    or s.press_closed
                    or s.withdrawal is not None
                    or self._continue_now
                )
            )
            if s.withdrawal is not None or not s.press_queue or self._continue_now:
                return
            inquiry = s.press_queue.pop(0)
            self._case_jobs.append(
                asyncio.create_task(
                    self._run_task("treat.press", extra_guidance=texts.press_guidance(inquiry))
                )
            )

    async def _finish_case_jobs(self) -> None:
        """Before closing: every case-level task (press, underretning) must be done too."""
        s = self.state
        while True:
            await self._wait(
                lambda: not s.press_queue and all(job.done() for job in self._case_jobs),
                reopenable=True,
            )
            for job in list(self._case_jobs):
                await job  # raises a failure; a press inquiry may have arrived meanwhile
            if not s.press_queue and all(job.done() for job in self._case_jobs):
                break

    async def _supersede_round(self) -> None:
        s = self.state
        await self._settle(self._round_jobs)
        self._round_jobs.clear()
        for view in s.open_tasks():
            if view.key not in CASE_LEVEL_TASKS:
                self._close(view, TaskStatus.SUPERSEDED)
        s.round += 1
        s.round_started_at = workflow.now()
        self._event(
            EventKind.ASSESSMENT_REOPENED, f"Ny hændelse: vurderingen genåbnes (runde {s.round})"
        )

    def _involve_custody(self) -> None:
        """The custody holders' task; since "card-round-three" one per child (every victim and
        known offender): different families, often told by different people at other times."""
        s = self.state
        s.custody_opened = True
        s.custody_round = s.round
        if self._card_round < 3:
            self._case_jobs.append(asyncio.create_task(self._run_task("assess.involve_custody")))
            return
        for child in rules.custody_children(s.case):
            self._case_jobs.append(
                asyncio.create_task(
                    self._run_task(
                        "assess.involve_custody",
                        participant=child,
                        extra_guidance=texts.custody_guidance(child, s.case),
                    )
                )
            )

    def _custody_due(self) -> bool:
        """Custody holders are involved once a case; since "card-round-two", again in each new
        round (a new incident is news to them too)."""
        s = self.state
        if self._card_round >= 2:
            return s.custody_round < s.round
        return not s.custody_opened

    # -------------------------------------------------------------- phases

    def _set_phase(self, phase: Phase) -> None:
        s = self.state
        s.phase = phase
        key = f"{s.round}:{phase.value}"
        if key not in s.phases_entered:  # not again when a continued case takes its round up
            s.phases_entered.add(key)
            self._event(EventKind.PHASE_ENTERED, f"Fase: {PHASE_HEADING_DA[phase]}")
        self._record_case()
