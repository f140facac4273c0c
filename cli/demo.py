"""`sagsflow demo`: one realistic case from report to closing, in well under a minute.

It opens a case on the `demo` card (procedure/demo.yaml: the real card with its timers in
seconds), then plays the staff: it watches the case through the `snapshot` query and completes
each task as it opens, with the decision a school would make; a journalist calls during the
stop/report phase; the municipality's receipt for the underretning is late, so its follow-up
task shows too; the evaluation and both follow-ups run on their (accelerated) durable timers.
Everything it does goes through `CaseService`, like the platform would. It prints the course
in Danish, each step with the seconds since the start.

The story is fictional and uses pseudonyms only: no names are given, so none are stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.text import Text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from cli import render
from cli.demo_command import STALL_SECONDS
from cli.service import fail, run
from core.settings import Settings
from driver.decisions import (
    COMMS,
    DEMO_ROUTE,
    DEMO_VERSION,
    FOLLOW_UP,
    LEADER,
    RECEIPT,
    RECEIPT_FOLLOW_UP,
    ROLE_ACTORS,
    TEACHER,
    TK,
    demo_decision,
    route_case_input,
)
from schemas.case import CaseInput
from schemas.common import Actor, CaseStatus, Phase, StaffRole
from schemas.messages import PressInquiry, TaskCompletion, Withdrawal
from schemas.snapshot import CaseOutcome, CaseSnapshot, EventKind, TaskView, TimelineEvent
from service.cases import CaseError, CaseService, TaskRejected

DEMO_SCHOOL = "lindely-skolen"  # fictional
POLL_SECONDS = 0.2
QUERY_SECONDS = 5.0
CHECK_EVERY_POLLS = 10  # describe the workflow every ~2 s: has it failed?

STAFF = ROLE_ACTORS
STAFF_DA = {
    TEACHER.id: "kontaktlærer",
    LEADER.id: "skoleleder",
    COMMS.id: "kommunikationsafdelingen",
    TK.id: "Tryghed og Kriminalitetsforebyggelse",
}


class DemoStalled(Exception):
    """Nothing moved for too long: most likely no worker polls the task queue."""


class DemoFailed(Exception):
    """The case workflow itself ended in failure (e.g. a worker without the demo card)."""


# ------------------------------------------------------------------------ the story


def demo_case(case_number: str, reported_at: datetime) -> CaseInput:
    """8. årgang: P2 (15) has shared an intimate image of P1 (14); P3 saw it and told."""
    return route_case_input(
        DEMO_ROUTE,
        reported_at,
        case_number=case_number,
        school_id=DEMO_SCHOOL,
        procedure_version=DEMO_VERSION,
    )


@dataclass(frozen=True)
class Step:
    """What staff decide on a task, and how the demo tells it."""

    decision: dict[str, Any]
    told: str


# How the demo tells each decision (the decisions themselves: `driver.decisions`).
TOLD: dict[str, str] = {
    "assess.involve_custody": "Forældrene til P1 og P2 er ringet op og inddraget.",
    "assess.uncover": (
        "Afdækket: intimt billede af P1 delt af P2 på Snapchat; billedet ligger stadig online."
    ),
    "assess.evaluate": "Vurdering: alvor høj · politispor · underretning · SSP (som anbefalet).",
    "assess.involve_leadership": "Skolelederen er enig i forløbet.",
    "assess.involve_tk": "TK er kontaktet for sparring og tilbyder samtaler.",
    "report.underretning": (
        "Underretning sendt til kommunen (Barnets lov § 133) – personligt og straks."
    ),
    RECEIPT_FOLLOW_UP: "Kommunen er ringet op: underretningen er modtaget.",
    RECEIPT: "Kommunens kvittering er registreret.",
    "document.preserve": (
        "Beviser sikret hos familien og politiet; intet materiale på personalets enheder."
    ),
    "document.note": "Notatet om forløbet er godkendt.",
    "stop.police_handover": "Politiet har overtaget; skolen holder kontakten til familien.",
    "stop.action_plan": "Skriftlig handlingsplan er lavet (undervisningsmiljøloven § 1 c).",
    "stop.unknown_offender": (
        "Familien er vejledt om sletning og henvist til Red Barnets SletDet."
    ),
    "report.police": "Familien har anmeldt til politiet (politi.dk/anmeld).",
    "report.insurance": "Familien er vejledt om egen forsikring (psykolog).",
    "treat.help": "Hjælp: TK og psykolog til P1, TK-forløb til P2.",
    "treat.surroundings": "Klassen og forældrene i 8. årgang er orienteret – uden navne.",
    "treat.same_school": "Særlige tiltag, fordi P1 og P2 går på samme skole.",
    "treat.press": (
        "Kommunikationsafdelingen har givet en kort udtalelse – uden detaljer om eleverne."
    ),
    "close.evaluate": "Forløbet er evalueret med familien, TK og skolen.",
}
FOLLOW_UP_TOLD = {
    "continue": "Første opfølgning: der går stadig lidt rygter – vi følger op igen.",
    "close": "Sidste opfølgning: ingen rygter, god stemning i klassen, hjælpen er modtaget "
    "– sagen lukkes.",
}


def demo_step(key: str, task_id: str | None, now: datetime) -> Step:
    """A complete, sensible decision for each task of the demo's story (JSON, as sent)."""
    decided = demo_decision(key, task_id, now)
    told = FOLLOW_UP_TOLD[decided["outcome"]] if key == FOLLOW_UP else TOLD.get(key, "")
    return Step(decided, told)


# ------------------------------------------------------------------------ the run


@dataclass
class Demo:
    service: CaseService
    out: Console
    case_number: str
    task_queue: str
    stall_seconds: float = STALL_SECONDS
    poll_seconds: float = POLL_SECONDS
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    _printed: int = 0
    _acted: set[str] = field(default_factory=set)
    _told: dict[str, str] = field(default_factory=dict)
    _pressed: bool = False
    _last_progress: float = field(default_factory=time.monotonic)

    async def run(self) -> CaseOutcome:
        case = demo_case(self.case_number, self.started)
        handle: WorkflowHandle = await self.service.open_case(case)
        self._intro(handle.id)
        await self._warn_without_worker()
        snap = await self._follow(handle)
        outcome = await self._result(handle)
        self._outro(snap, outcome)
        return outcome

    async def _follow(self, handle: WorkflowHandle) -> CaseSnapshot:
        """Poll, print what happened, act on what opened, until the case ends."""
        polls = 0
        while True:
            polls += 1
            if polls % CHECK_EVERY_POLLS == 0:
                await self._check_running(handle)
            snap = await self._snapshot()
            if snap is not None:
                self._print_new(snap)
                if snap.status != CaseStatus.ACTIVE:
                    return snap
                await self._act(snap)
            if self._stalled(snap):
                raise DemoStalled()
            await asyncio.sleep(self.poll_seconds)

    async def _snapshot(self) -> CaseSnapshot | None:
        try:
            return await asyncio.wait_for(
                self.service.snapshot(self.case_number), min(QUERY_SECONDS, self.stall_seconds)
            )
        except (TimeoutError, RPCError):
            return None  # no worker (yet) to answer: the stall check decides
        except CaseError as exc:
            if "findes ikke" in str(exc):
                raise
            return None

    async def _act(self, snap: CaseSnapshot) -> None:
        if snap.phase == Phase.STOP_REPORT and not self._pressed:
            self._pressed = True
            await self.service.press_inquiry(
                self.case_number,
                PressInquiry(
                    received_by=LEADER,
                    medium="Lokalavisen",
                    summary="Journalist spørger til en sag om et delt billede på 8. årgang",
                ),
            )
            self._progress()
        for view in snap.open_tasks:
            if view.task_id in self._acted or not self._ready(view, snap):
                continue
            await self._complete(view, snap)

    def _ready(self, view: TaskView, snap: CaseSnapshot) -> bool:
        if view.key != RECEIPT:
            return True
        # The municipality is late: the receipt arrives only after the school has chased it.
        chased = any(t.key == RECEIPT_FOLLOW_UP for t in snap.done_tasks)
        return chased or datetime.now(UTC) > view.due_at + timedelta(seconds=10)

    async def _complete(self, view: TaskView, snap: CaseSnapshot) -> None:
        step = demo_step(view.key, view.task_id, datetime.now(UTC))
        completion = TaskCompletion.model_validate(
            {
                "task_key": view.key,
                "task_id": view.task_id,
                "actor": STAFF[view.role].model_dump(mode="json"),
                "decision": step.decision,
            }
        )
        self._acted.add(view.task_id)
        try:
            await self.service.submit_task(self.case_number, completion)
        except TaskRejected as exc:
            self._line(self._elapsed(), Text(f"Afvist / rejected: {exc}", style="red"))
            return
        self._told[view.task_id] = step.told
        self._progress()

    # -- watching -----------------------------------------------------------------------

    def _progress(self) -> None:
        self._last_progress = time.monotonic()

    def _stalled(self, snap: CaseSnapshot | None) -> bool:
        now = time.monotonic()
        limit = self._last_progress + self.stall_seconds
        if snap is not None:
            # Waiting for a durable timer (or the late receipt) is progress to come.
            expected = [snap.next_timer.at] if snap.next_timer else []
            expected += [t.due_at for t in snap.open_tasks if t.key == RECEIPT]
            ahead = [(moment - datetime.now(UTC)).total_seconds() for moment in expected]
            ahead = [seconds for seconds in ahead if seconds > 0]
            if ahead:
                limit = max(limit, now + min(ahead) + self.stall_seconds)
        return now > limit

    async def _warn_without_worker(self) -> None:
        client = self.service.client
        try:
            described = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=self.task_queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
        except RPCError:
            return
        if not described.pollers:
            self.out.print(
                f"Advarsel: ingen worker har hentet opgaver fra køen '{self.task_queue}' for "
                f"nylig – venter op til {self.stall_seconds:.0f} s / warning: no worker has polled "
                f"task queue '{self.task_queue}' recently",
                style="yellow",
            )

    async def _check_running(self, handle: WorkflowHandle) -> None:
        """A workflow that failed still answers queries (as it stood): catch that early."""
        try:
            described = await handle.describe()
        except RPCError:
            return
        if described.status in (
            None,
            WorkflowExecutionStatus.RUNNING,
            WorkflowExecutionStatus.COMPLETED,
        ):
            return
        causes: list[str] = []
        try:
            await handle.result()
        except Exception as exc:  # noqa: BLE001 - only its messages are shown
            error: BaseException | None = exc
            while error is not None:
                causes.append(str(getattr(error, "message", None) or error))
                error = error.__cause__
        status = described.status.name.lower()
        raise DemoFailed(
            f"Sagens workflow er stoppet ({status}) / the case workflow ended ({status}): "
            + " ← ".join(causes)
        )

    async def _result(self, handle: WorkflowHandle) -> CaseOutcome:
        try:
            result = await asyncio.wait_for(handle.result(), self.stall_seconds)
        except TimeoutError as exc:
            raise DemoStalled() from exc
        assert isinstance(result, CaseOutcome)
        return result

    # -- printing -----------------------------------------------------------------------

    def _elapsed(self, moment: datetime | None = None) -> float:
        moment = moment or datetime.now(UTC)
        return max(0.0, (moment - self.started).total_seconds())

    def _line(self, elapsed: float, text: Text, indent: int = 0) -> None:
        stamp = Text(f"{elapsed:6.1f} s  ".replace(".", ","), style="dim")
        self.out.print(Text.assemble(stamp, " " * indent, text))

    def _print_new(self, snap: CaseSnapshot) -> None:
        for event in snap.timeline[self._printed :]:
            self._print_event(event, snap)
            self._progress()
        self._printed = max(self._printed, len(snap.timeline))

    def _print_event(self, event: TimelineEvent, snap: CaseSnapshot) -> None:
        elapsed = self._elapsed(event.at)
        style = render.EVENT_STYLE.get(event.kind, "")
        if event.kind == EventKind.PHASE_ENTERED:
            self._line(elapsed, Text(f"▶ {event.text}", style="bold cyan"))
            return
        text = Text(event.text, style=style)
        if event.actor is not None:
            who = STAFF_DA.get(event.actor.id, render.STAFF_ROLE_DA.get(event.actor.role.value))
            text.append(f" – {event.actor.id} ({who})", style="dim")
        if event.kind == EventKind.TIMER_SET and snap.next_timer is not None:
            seconds = (snap.next_timer.at - event.at).total_seconds()
            if event.text.startswith(snap.next_timer.what) and seconds > 0:
                text.append(f" – om {seconds:.0f} s (demo-kortet)", style="dim")
        marker = {
            EventKind.TASK_COMPLETED: "✔ ",
            EventKind.TASK_OPENED: "• ",
            EventKind.TIMER_SET: "⏱ ",
            EventKind.PRESS_INQUIRY: "☎ ",
            EventKind.RECEIPT_MISSING: "! ",
            EventKind.TASK_REMINDED: "! ",
            EventKind.CASE_CLOSED: "■ ",
        }.get(event.kind, "  ")
        self._line(elapsed, Text(marker) + text, indent=2)
        if event.kind == EventKind.TASK_COMPLETED and event.task_id in self._told:
            self._line(elapsed, Text(self._told[event.task_id], style="italic"), indent=6)
        elif event.kind == EventKind.RECOMMENDATION and event.reason:
            self._line(elapsed, Text(event.reason, style="italic"), indent=6)

    def _intro(self, workflow_id: str) -> None:
        self.out.print(
            Text(
                f"sagsflow demo – sag {self.case_number} på {DEMO_SCHOOL} (fiktiv skole)",
                style="bold",
            )
        )
        self.out.print(
            "Historien: P2 (15 år) har delt et intimt billede af P1 (14 år) i en Snapchat-gruppe "
            "for 8. årgang; P3 så det og fortalte det til kontaktlæreren. Kun pseudonymer.",
            markup=False,
        )
        self.out.print(
            f"Handlekort '{DEMO_VERSION}': det rigtige kort, men evaluering og opfølgninger "
            "kommer efter sekunder i stedet for uger. Personalet spilles af demoen.",
            markup=False,
        )
        self.out.print(Text(f"Workflow id: {workflow_id} (se den i Temporal Web UI)", style="dim"))
        self.out.print()

    def _outro(self, snap: CaseSnapshot, outcome: CaseOutcome) -> None:
        elapsed = self._elapsed()
        done = [t for t in snap.done_tasks if t.status.value == "done"]
        self.out.print()
        self.out.print(
            Text(
                f"Sagen er {render.STATUS_DA.get(outcome.status.value, outcome.status.value)} "
                f"efter {elapsed:.1f}".replace(".", ",")
                + f" s: {len(done)} opgaver udført, {len(snap.timeline)} hændelser i tidslinjen, "
                f"{outcome.rounds} runde(r).",
                style="bold green",
            )
        )
        self.out.print(f"Demo finished in {elapsed:.1f} s (case {outcome.status.value}).")
        self.out.print(
            f"Se hele sagen / show it: sagsflow case show {self.case_number}", style="dim"
        )


# ------------------------------------------------------------------------ the command


def start(
    address: str | None,
    namespace: str | None,
    task_queue: str | None,
    case_number: str | None,
    stall_timeout: float,
) -> None:
    """`sagsflow demo` (cli/demo_command.py) with its options."""
    try:
        config = Settings.from_env().with_overrides(
            temporal_address=address, temporal_namespace=namespace, task_queue=task_queue
        )
    except ValueError as exc:
        fail(str(exc), 2)
    number = case_number or f"DEMO-{datetime.now():%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"
    out = render.console()

    async def work(service: CaseService) -> CaseOutcome:
        run_ = Demo(service, out, number, config.task_queue, stall_seconds=stall_timeout)
        try:
            return await run_.run()
        except DemoStalled:
            await _give_up(service, number)
            fail(_stalled_message(config, number, stall_timeout))
        except DemoFailed as exc:
            fail(str(exc))

    run(config, work)


async def _give_up(service: CaseService, case_number: str) -> None:
    """Withdraw the demo case, so it ends as soon as a worker picks it up, and leaves no tasks."""
    try:
        await service.withdraw(
            case_number,
            Withdrawal(
                by=Actor(id="sagsflow-demo", role=StaffRole.OPERATOR),
                reason="Demoen blev afbrudt: ingen fremdrift / demo aborted: no progress",
            ),
        )
    except (CaseError, RPCError):
        pass


def _stalled_message(config: Settings, case_number: str, seconds: float) -> str:
    return (
        f"Ingen fremdrift i {seconds:.0f} s: ingen worker ser ud til at hente opgaver fra køen "
        f"'{config.task_queue}' på {config.temporal_address} (namespace "
        f"{config.temporal_namespace}). Start `sagsflow dev` (eller `sagsflow worker`) og prøv "
        f"igen. Demosagen {case_number} er trukket tilbage.\n"
        f"No progress for {seconds:.0f} s: no worker seems to poll task queue "
        f"'{config.task_queue}' at {config.temporal_address}. Start `sagsflow dev` (or "
        f"`sagsflow worker`) and try again. The demo case {case_number} was withdrawn."
    )
