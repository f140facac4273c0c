"""What reaches a case from outside: the signals and the `submit_task` update.

The part of the lean core (workflows/core.py) that reads messages, checks a completion against
the card and the recommendation, and records what it accepts or refuses. It builds on
CaseRecords (workflows/records.py), which holds the case's state and answers the snapshot query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from procedure import earlier_rules, rules
    from schemas.activities import TaskFlagsRequest
    from schemas.common import Actor, Phase, StaffRole, TaskStatus
    from schemas.decisions import (
        DECISION_TYPES,
        EvaluateDecision,
        FollowUpDecision,
        UncoverDecision,
    )
    from schemas.messages import (
        CaseNote,
        NewIncident,
        PressInquiry,
        Reassignment,
        TaskCompletion,
        Withdrawal,
    )
    from schemas.snapshot import EventKind, Recommendation, TaskView
    from workflows import inbound, rejections, texts
    from workflows.records import CaseRecords
    from workflows.rejections import M, Rejection
    from workflows.state import CaseState

# A message naming a task waits this long for the case to open it: such a task can only appear
# in the same activation (where the wait ends without a timer in the history).
TASK_WAIT = timedelta(seconds=2)
# Messages taken up in one activation. A backlog (a worker back after a while, a flood) is
# worked off in slices, each ended by its store write, so that no activation comes near the
# SDK's 2-second deadlock detector.
MESSAGE_SLICE = 100


class CaseMessages(CaseRecords):
    def __init__(self, state: CaseState) -> None:
        super().__init__(state)
        self._mail: list[tuple[str, Sequence[RawValue]]] = []
        # Set by the run from its markers (workflows/core.py CARD_ROUND_TWO, CARD_ROUND_THREE):
        # the rules a case started with, 1 for a case started before either.
        self._card_round = 1
        self._in_hand = 0
        self._finished = False

    # ------------------------------------------------------------- inbound

    async def message(self, name: str, args: Sequence[RawValue]) -> None:
        """A signal is only queued here; the mailroom takes it up in arrival order."""
        self._mail.append((name, args))

    def mail_done(self) -> bool:
        return not self._mail and self._in_hand == 0

    async def _mailroom(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._mail) or self._finished)
            if not self._mail:
                return
            for name, args in self._mail[:MESSAGE_SLICE]:
                self._in_hand += 1
                asyncio.create_task(self._handle(name, args))
            del self._mail[:MESSAGE_SLICE]
            if self._mail:
                # The rest waits for this slice's store write, whose result comes back in a
                # new activation.
                await workflow.wait_condition(
                    lambda: self._in_hand == 0 and self.effects.settled(self.state.timeline)
                )

    async def _handle(self, name: str, args: Sequence[RawValue]) -> None:
        try:
            await self._handle_one(name, args)
        finally:
            self._in_hand -= 1

    async def _handle_one(self, name: str, args: Sequence[RawValue]) -> None:
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
            raw = inbound.read_one(
                [arg.payload for arg in args],
                workflow.payload_converter(),
                sealed_only=self._sealed_only(),
            )
        except Rejection as rejection:
            self._reject(name, rejection, None)
            return
        await handler(raw)

    async def submit_task(self, raw: Any, unsealed: bool = False) -> TaskView:
        try:
            raw = self._opened(raw, unsealed)
        except Rejection as rejection:
            raise ApplicationError(
                str(rejection), type="TaskRejected", non_retryable=True
            ) from None
        # Accepted by the validator, so the task was open then; on replay the SDK may deliver
        # this update before the event that opened the task, in the same activation.
        await self._until_task_present(raw)
        try:
            completion, view, deviations = self._check_completion(raw)
        except Rejection as rejection:
            raise ApplicationError(
                str(rejection), type="TaskRejected", non_retryable=True
            ) from None
        self._accept(completion, view, deviations)
        # Read-your-writes: the caller's next look at the inbox shows this task done and the
        # tasks it opened.
        await workflow.wait_condition(lambda: self.effects.settled(self.state.timeline))
        return view

    def validate_submit_task(self, raw: Any, unsealed: bool = False) -> None:
        """The update takes exactly one argument (workflows/case.py): a call with more or fewer
        fails in the SDK before it reaches here, refused."""
        try:
            raw = self._opened(raw, unsealed)
            if self._not_opened_yet(raw):
                # Staff may see a task whose opening event is in this very activation (a
                # workflow task retried after its worker died had already written the inbox
                # row), and updates come before timers and results in an activation. Checked
                # in its shape here, and in full by the handler once the task is there.
                self._check_shape(raw)
                return
            _, view, _ = self._check_completion(raw)
            if (
                self.state.opened_in.get(view.task_id)
                == workflow.info().get_current_history_length()
            ):
                # Opened in this very workflow task, not recorded yet: accepted now, the update
                # would share a workflow task with the event that opened the task.
                raise rejections.being_opened(view.task_id)
        except Rejection as rejection:
            raise ApplicationError(
                str(rejection), type="TaskRejected", non_retryable=True
            ) from None

    def _not_opened_yet(self, raw: Any) -> bool:
        if not isinstance(raw, dict) or raw.get("task_key") not in DECISION_TYPES:
            return False
        task_id = raw.get("task_id")
        if task_id is None:
            return not any(v.key == raw["task_key"] for v in self.state.tasks.values())
        return isinstance(task_id, str) and task_id not in self.state.tasks

    def _check_shape(self, raw: Any) -> None:
        self._require_active()
        completion = self._parse(TaskCompletion, raw)
        key = completion.task_key
        if completion.decision.task != key:
            raise rejections.wrong_decision(key, completion.decision.task)
        if self.state.procedure is not None:
            role = self.state.procedure.task(key).role
            if completion.actor.role not in (role, StaffRole.OPERATOR):
                raise rejections.wrong_role(key, role.value, completion.actor.role.value)

    async def _on_complete_task(self, raw: Any) -> None:
        await self._until_task_present(raw)
        try:
            completion, view, deviations = self._check_completion(raw)
        except Rejection as rejection:
            self._reject("complete_task", rejection, raw)
            return
        self._accept(completion, view, deviations)

    async def _on_press_inquiry(self, raw: Any) -> None:
        try:
            self._require_active()
            inquiry = self._parse(PressInquiry, raw)
        except Rejection as rejection:
            self._reject("press_inquiry", rejection, raw)
            return
        self.state.press_queue.append(inquiry)
        self._event(
            EventKind.PRESS_INQUIRY,
            f"Pressehenvendelse fra {inquiry.medium}: kommunikationsafdelingen inddrages"
            + (f". Spørgsmålet: {inquiry.summary}" if inquiry.summary else ""),
            actor=inquiry.received_by,
        )

    async def _on_new_incident(self, raw: Any) -> None:
        try:
            self._require_active()
            incident = self._parse(NewIncident, raw)
        except Rejection as rejection:
            self._reject("new_incident", rejection, raw)
            return
        self._event(
            EventKind.NEW_INCIDENT,
            f"Ny hændelse registreret: {incident.description}",
            actor=incident.reported_by,
        )
        if incident.reopen_assessment and self.state.phase != Phase.ASSESS:
            self.state.reopen_pending = True

    async def _on_add_note(self, raw: Any) -> None:
        try:
            note = self._parse(CaseNote, raw)
        except Rejection as rejection:
            self._reject("add_note", rejection, raw)
            return
        self._event(EventKind.NOTE_ADDED, note.text, actor=note.author)

    async def _on_withdraw_case(self, raw: Any) -> None:
        try:
            self._require_active()
            withdrawal = self._parse(Withdrawal, raw)
            if withdrawal.by.role not in (
                StaffRole.LEADERSHIP,
                StaffRole.OPERATOR,
                StaffRole.CASE_OWNER,
            ):
                raise Rejection(
                    "Kun sagsejer, ledelse eller driften kan trække en sag tilbage / "
                    "Only the case owner, leadership or an operator can withdraw a case"
                )
        except Rejection as rejection:
            self._reject("withdraw_case", rejection, raw)
            return
        self.state.withdrawal = withdrawal

    async def _on_reassign_task(self, raw: Any) -> None:
        await self._until_task_present(raw)
        try:
            self._require_active()
            change = self._parse(Reassignment, raw)
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
        self.effects.flags.append(
            TaskFlagsRequest(
                workflow_id=workflow.info().workflow_id,
                task_id=view.task_id,
                assignee=change.assignee,
            )
        )

    async def _until_task_present(self, raw: Any) -> None:
        """Let a message naming a task wait, bounded, for the case to open it: the event that
        opens it may come after the message in the same activation. Nothing is awaited when
        the task is there."""
        if not isinstance(raw, dict):
            return
        key, task_id = raw.get("task_key"), raw.get("task_id")
        if not isinstance(key, str) or key not in DECISION_TYPES:
            return
        if task_id is not None and not isinstance(task_id, str):
            return
        s = self.state

        def present() -> bool:
            if s.ended():
                return True
            if task_id is not None:
                return task_id in s.tasks
            return any(view.key == key for view in s.tasks.values())

        if present():
            return
        try:
            await workflow.wait_condition(present, timeout=TASK_WAIT)
        except TimeoutError:
            pass

    # ----------------------------------------------------------- completion

    def _parse(self, model: type[M], raw: Any) -> M:
        """A message into its model, its texts judged by the guard the case started with."""
        return rejections.parse(model, raw, earlier_guard=self._card_round < 3)

    def _sealed_only(self) -> bool:
        """A case started encrypted (its memo says so) by this build ("card-round-three")
        takes messages only encrypted: one sent unencrypted came past the API and the codec
        server, in a name no one can vouch for and with no entry in the access log."""
        sealed = workflow.memo_value(inbound.SEALED_MEMO, False, type_hint=bool)
        return self._card_round >= 3 and sealed

    def _opened(self, raw: Any, unsealed: bool) -> Any:
        """An update's argument: refused when it came in unencrypted to a case that runs
        encrypted, else as it is."""
        if unsealed and self._sealed_only():
            raise Rejection(inbound.UNSEALED)
        return raw

    def _advice(self, uncover: UncoverDecision | None) -> Recommendation:
        """The recommendation under the rules the case started with."""
        engine = rules if self._card_round >= 3 else earlier_rules
        return engine.recommend(self.state.case, uncover)

    def _check_completion(self, raw: Any) -> tuple[TaskCompletion, TaskView, list[str]]:
        self._require_active()
        # Name an unknown task plainly, before complaining about its decision's shape.
        if (
            isinstance(raw, dict)
            and isinstance(raw.get("task_key"), str)
            and raw["task_key"] not in DECISION_TYPES
        ):
            raise rejections.unknown_task(raw["task_key"])
        completion = self._parse(TaskCompletion, raw)
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
            and self.state.follow_ups_left == 0
        ):
            raise rejections.no_follow_up_left()
        deviations = rules.deviations(
            completion.decision,
            self.state.recommendation,
            self.state.case,
            card_round=self._card_round,
            evaluation=self.state.latest_decision_if_any("assess.evaluate", EvaluateDecision),
            for_child=view.participant,
        )
        if deviations and not completion.reason:
            raise rejections.reason_required(deviations)
        if self._card_round >= 2:
            implausible = rejections.implausible_time(
                completion.decision,
                workflow.now(),
                self.state.case.reported_at,
                self.state.underretning_submitted_at,
            )
            if implausible is not None:
                raise implausible
        return completion, view, deviations

    def _resolve_open_task(self, key: str, task_id: str | None) -> TaskView:
        tasks = self.state.tasks
        if task_id is not None:
            view = tasks.get(task_id)
            if view is None or view.key != key:
                raise rejections.unknown_instance(task_id)
            if view.status != TaskStatus.OPEN:
                raise rejections.already_done(task_id, view.status.value)
            return view
        if key not in DECISION_TYPES:
            raise rejections.unknown_task(key)
        candidates = [v for v in tasks.values() if v.key == key]
        open_ones = [v for v in candidates if v.status == TaskStatus.OPEN]
        if open_ones:
            return min(open_ones, key=lambda v: v.opened_at)
        if candidates:
            raise rejections.already_done(key, candidates[-1].status.value)
        raise rejections.not_open_yet(key)

    def _accept(self, completion: TaskCompletion, view: TaskView, deviations: list[str]) -> None:
        view.status = TaskStatus.DONE
        view.completed_at = self._now()
        view.completed_by = completion.actor
        view.decision = completion.decision.model_dump(mode="json")
        view.reason = completion.reason
        view.deviations = deviations
        self.state.decisions[view.task_id] = completion.decision
        self._event(
            EventKind.TASK_COMPLETED,
            f"Opgave udført: {view.title}" + (" (afviger fra anbefalingen)" if deviations else ""),
            actor=completion.actor,
            task_id=view.task_id,
            reason=completion.reason,
        )
        if isinstance(completion.decision, UncoverDecision):
            # Advice is recorded the moment the facts are in, before anyone evaluates.
            advice = self._advice(completion.decision)
            self.state.recommendation = advice
            text, reason = texts.recommendation_event(advice)
            self._event(EventKind.RECOMMENDATION, text, reason=reason)

    def _reject(self, message: str, rejection: Rejection, raw: Any) -> None:
        actor = None
        if isinstance(raw, dict):
            for field in ("actor", "by", "author", "received_by", "reported_by"):
                try:
                    actor = Actor.model_validate(raw.get(field))
                    break
                except Exception:  # noqa: BLE001, S112 - an unreadable actor is simply not named
                    continue
        task_id = (raw.get("task_id") or raw.get("task_key")) if isinstance(raw, dict) else None
        if not isinstance(task_id, str) or (
            task_id not in self.state.tasks and task_id not in DECISION_TYPES
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
        s = self.state
        if s.ended():
            raise rejections.case_ended("withdrawn" if s.withdrawal else s.status.value)
