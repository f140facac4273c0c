"""`make bench`: sagsflow's case workflow beside a baseline on the real Temporal dev server.

One run, one fresh dev server (SQLite in a temp folder), two worker processes (sagsflow's real
worker, `python -m workers`, and the baseline's, `python -m bench.baseline`, both on the same
SQLite store file). Side by side, at 1 and at 20 staff at once (one case per member of staff
at a time), the same human steps:

- (a) `internal`: the internal route through treat (12 steps, assess → treat);
- (b) `mix`: a mix of routes through closing on the demo card (evaluation and follow-ups on
  timers in seconds); the baseline repeats the same steps, with a timer before the evaluation
  and each follow-up.

Measured: steps/s; p50/p95/p99 latency from sending a completion to (i) the completed task's
inbox row being `done` and (ii) the next task's row being open (only where the completion gated
it, and not for tasks a timer opens); history events, activities, timers and Temporal actions
per case (bench/history.py); worker RSS with N open cases; the evidence guard's cost.

Output: bench/results/<date>-<time>.json, .md (the table, also printed) and .png.

    python -m bench            # the full run (about 10–15 min on 2 cores)
    python -m bench --quick    # a smoke run, about a minute
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench import baseline as base
from bench.history import count_history
from core.devserver import DevServer, die_with_parent
from driver.decisions import (
    INTERNAL_ROUTE_TO_TREAT,
    actor_for,
    new_case_number,
    route_case_input,
    route_decision,
    route_for,
)
from driver.net import free_port
from driver.staff import Staff, StepTiming, bounded
from schemas.common import StaffRole
from schemas.messages import PressInquiry
from service.cases import CaseService
from store import Store
from store.engine import create_engine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SAGSFLOW_QUEUE = "bench-sagsflow"
STOP_SECONDS = 15.0
WORKER_READY_SECONDS = 60.0
# The demo card's timers (procedure/demo.yaml): the baseline sleeps as long before these.
BASELINE_DELAYS: dict[str, Any] = {"close.evaluate": 5.0, "close.follow_up": (3.0, 6.0)}
ENGINES = ("baseline", "sagsflow")


@dataclass
class Options:
    staff: tuple[int, ...] = (1, 20)
    internal_cases_at_one: int = 5  # cases one member of staff drives in turn
    mix_cases_at_one: int = 3
    rounds_at_many: int = 1  # cases per member of staff at the higher staff counts
    mix: bool = True
    mix_at_one: bool = True
    open_cases: int = 1000
    open_rate: float = 40.0  # cases started per second for the RSS measure
    phase_timeout: float = 900.0
    out: Path = RESULTS


QUICK = dict(
    staff=(1, 4),
    internal_cases_at_one=1,
    mix_cases_at_one=1,
    mix_at_one=False,
    open_cases=100,
    phase_timeout=240.0,
)


# ------------------------------------------------------------------------ results


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[rank]


@dataclass
class Phase:
    engine: str
    scenario: str
    staff: int
    cases: int = 0
    steps: int = 0
    seconds: float = 0.0
    done: list[float] = field(default_factory=list)
    next: list[float] = field(default_factory=list)
    update: list[float] = field(default_factory=list)
    # (task key, seconds until done) of each step: where in a case the slow steps fall
    keyed: list[tuple[str, float]] = field(default_factory=list)
    # (completed task key, next task key, seconds until it was visible) of each timed next
    keyed_next: list[tuple[str, str, float]] = field(default_factory=list)
    history: dict[str, float] = field(default_factory=dict)  # mean per case
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.scenario}/{self.staff}/{self.engine}"

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "engine": self.engine,
            "scenario": self.scenario,
            "staff": self.staff,
            "cases": self.cases,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "steps_per_s": round(self.steps / self.seconds, 3) if self.seconds else None,
            "history_per_case": self.history,
            "errors": self.errors,
        }
        for label, values in (("done", self.done), ("next", self.next), ("update", self.update)):
            out[f"{label}_n"] = len(values)
            for p in (50, 95, 99):
                value = percentile(values, p)
                out[f"{label}_p{p}_ms"] = None if value is None else round(value * 1000, 1)
        return out

    def add(self, timings: list[StepTiming]) -> None:
        for t in timings:
            self.steps += 1
            self.update.append(t.update_seconds)
            if t.done_seconds is not None:
                self.done.append(t.done_seconds)
                self.keyed.append((t.key, round(t.done_seconds, 4)))
            if t.next_seconds is not None and not t.next_timer_opened:
                self.next.append(t.next_seconds)
                self.keyed_next.append((t.key, t.next_key or "", round(t.next_seconds, 4)))


# ------------------------------------------------------------------------ processes


def child_env(**extra: str) -> dict[str, str]:
    """The parent's environment without Temporal/sagsflow settings, plus `extra`."""
    cleared = ("TEMPORAL_", "SAGSFLOW_", "DATABASE_URL", "OTEL_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(cleared)}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Children:
    """Worker processes, always stopped (SIGTERM to the group, then SIGKILL)."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> int:
        log = open(cwd / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, with the bench's own arguments
            [sys.executable, *args],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        self.procs[name] = proc
        return proc.pid

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"worker {name} exited with {proc.returncode}")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_SECONDS
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)


def rss_mb(pid: int) -> float:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:  # /proc as a fallback
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no RSS")


async def wait_for_pollers(client: Client, queue: str, children: Children) -> None:
    deadline = time.monotonic() + WORKER_READY_SECONDS
    while time.monotonic() < deadline:
        children.check()
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        if described.pollers:
            return
        await asyncio.sleep(0.3)
    raise TimeoutError(f"no worker polls {queue} after {WORKER_READY_SECONDS:.0f} s")


# ------------------------------------------------------------------------ the bench


@dataclass
class Bench:
    client: Client
    store: Store
    baseline_inbox: base.BaselineInbox
    options: Options
    service: CaseService = field(init=False)
    sagsflow_staff: Staff = field(init=False)
    baseline_staff: Staff = field(init=False)
    mix_plans: dict[int, list[base.BaselineStep]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.service = CaseService(self.client, self.store, task_queue=SAGSFLOW_QUEUE)
        self.sagsflow_staff = Staff.for_service(self.service)

        async def submit_baseline(case_number: str, payload: Any) -> Any:
            handle = self.client.get_workflow_handle(f"base-{case_number}")
            return await bounded(handle.execute_update(base.BaselineCase.submit, payload))

        self.baseline_staff = Staff(inbox=self.baseline_inbox, submit=submit_baseline)

    # -- one case -------------------------------------------------------------------------

    async def sagsflow_internal(self) -> tuple[str, list[StepTiming]]:
        route = route_for(0)
        case = route_case_input(route, datetime.now(UTC), case_number=new_case_number("BENCH"))
        handle = await self.service.open_case(case)
        timings = await self.sagsflow_staff.drive_script(
            case.case_number,
            handle.id,
            INTERNAL_ROUTE_TO_TREAT,
            lambda row, now: route_decision(route, row.key, row.task_id, now),
        )
        return handle.id, timings

    async def sagsflow_mix(self, index: int) -> tuple[str, list[StepTiming]]:
        route = route_for(index)
        case = route_case_input(route, datetime.now(UTC), case_number=new_case_number("BENCH"))
        handle = await self.service.open_case(case)
        pressed = False

        async def on_completed(timing: StepTiming) -> None:
            nonlocal pressed
            if route.press and not pressed and timing.key == "document.note":
                pressed = True
                await self.service.press_inquiry(
                    case.case_number,
                    PressInquiry(
                        received_by=actor_for(StaffRole.LEADERSHIP),
                        medium="Lokalavisen",
                        summary="Journalist spørger til sagen",
                    ),
                )

        timings = await self.sagsflow_staff.drive_to_close(
            case.case_number,
            handle.id,
            lambda row, now: route_decision(route, row.key, row.task_id, now),
            late_receipt=route.late_receipt,
            on_completed=on_completed,
            timeout=self.options.phase_timeout,
        )
        self.mix_plans.setdefault(index, plan_from(timings))
        return handle.id, timings

    async def baseline_case(self, steps: list[base.BaselineStep]) -> tuple[str, list[StepTiming]]:
        number = new_case_number("BASE")
        handle = await self.client.start_workflow(
            base.BaselineCase.run,
            base.BaselinePlan(steps),
            id=f"base-{number}",
            task_queue=base.TASK_QUEUE,
        )
        timings: list[StepTiming] = []
        done: set[str] = set()
        for index, step in enumerate(steps):
            row = await self.baseline_staff.wait_open(handle.id, step.key, skip=done)
            following = steps[index + 1] if index + 1 < len(steps) else None
            timing = await self.baseline_staff.complete(
                number,
                handle.id,
                row,
                {"task": step.key},
                next_key=following.key if following else None,
            )
            if following is not None and following.delay_seconds > 0:
                timing.next_timer_opened = True
            done.add(row.task_id)
            timings.append(timing)
        await bounded(handle.result())
        return handle.id, timings

    # -- phases ---------------------------------------------------------------------------

    async def phase(self, engine: str, scenario: str, staff: int) -> Phase:
        result = Phase(engine, scenario, staff)
        per_staff = self._cases_per_staff(scenario, staff)
        workflow_ids: list[str] = []

        async def member(m: int) -> None:
            for turn in range(per_staff):
                index = m * per_staff + turn
                try:
                    wid, timings = await self._one(engine, scenario, index)
                except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                    result.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    continue
                workflow_ids.append(wid)
                result.cases += 1
                result.add(timings)

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(member(m) for m in range(staff))), self.options.phase_timeout
        )
        result.seconds = time.perf_counter() - started
        result.history = await self._history(workflow_ids[:20])
        if scenario == "internal" and engine == "sagsflow":
            await self._terminate(workflow_ids)  # they wait at the evaluation timer
        print(
            f"  {result.name}: {result.cases} cases, {result.steps} steps in "
            f"{result.seconds:.1f} s" + (f", {len(result.errors)} errors" if result.errors else ""),
            flush=True,
        )
        return result

    def _cases_per_staff(self, scenario: str, staff: int) -> int:
        if staff == 1:
            return (
                self.options.internal_cases_at_one
                if scenario == "internal"
                else self.options.mix_cases_at_one
            )
        return self.options.rounds_at_many

    async def _one(self, engine: str, scenario: str, index: int) -> tuple[str, list[StepTiming]]:
        if engine == "sagsflow":
            if scenario == "internal":
                return await self.sagsflow_internal()
            return await self.sagsflow_mix(index)
        if scenario == "internal":
            steps = [base.BaselineStep(k, "case_owner") for k in INTERNAL_ROUTE_TO_TREAT]
        else:
            plans = list(self.mix_plans.values())
            steps = self.mix_plans.get(index) or plans[index % len(plans)]
        return await self.baseline_case(steps)

    async def _history(self, workflow_ids: list[str]) -> dict[str, float]:
        counts = []
        for wid in workflow_ids:
            history = await bounded(self.client.get_workflow_handle(wid).fetch_history())
            counts.append(count_history(history))
        if not counts:
            return {}
        return {k: round(statistics.fmean(c[k] for c in counts), 1) for k in counts[0]}

    async def _terminate(self, workflow_ids: list[str]) -> None:
        for wid in workflow_ids:
            try:
                await bounded(self.client.get_workflow_handle(wid).terminate("bench done"), 10)
            except Exception:  # noqa: BLE001, S110 - already closed
                pass

    # -- open cases and RSS ---------------------------------------------------------------

    async def open_cases(self, engine: str, count: int, pid: int) -> dict[str, Any]:
        idle = rss_mb(pid)
        started = time.perf_counter()
        wids: list[str] = []
        gate = asyncio.Semaphore(10)

        async def start_one(i: int) -> None:
            async with gate:
                if engine == "sagsflow":
                    case = route_case_input(
                        route_for(0), datetime.now(UTC), case_number=new_case_number("OPEN")
                    )
                    handle = await bounded(self.service.open_case(case))
                else:
                    steps = [base.BaselineStep(k, "case_owner") for k in INTERNAL_ROUTE_TO_TREAT]
                    handle = await bounded(
                        self.client.start_workflow(
                            base.BaselineCase.run,
                            base.BaselinePlan(steps),
                            id=f"open-{new_case_number('BASE')}",
                            task_queue=base.TASK_QUEUE,
                        )
                    )
                wids.append(handle.id)

        tasks = []
        for i in range(count):  # a bounded rate
            tasks.append(asyncio.create_task(start_one(i)))
            await asyncio.sleep(1 / self.options.open_rate)
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + self.options.phase_timeout
        waiting = set(wids)
        while waiting and time.monotonic() < deadline:
            if engine == "sagsflow":
                rows = await self.store.list_tasks(status="open")
                waiting -= {r.workflow_id for r in rows}
            else:
                for wid in list(waiting)[:200]:
                    if await self.baseline_inbox.rows(wid):
                        waiting.discard(wid)
            if waiting:
                await asyncio.sleep(0.5)
        seconds = time.perf_counter() - started
        await asyncio.sleep(2.0)  # let the worker settle
        loaded = rss_mb(pid)
        print(
            f"  {engine}: {count - len(waiting)}/{count} cases with a task open in "
            f"{seconds:.1f} s; worker RSS {idle:.0f} → {loaded:.0f} MB",
            flush=True,
        )
        return {
            "engine": engine,
            "cases": count,
            "cases_with_task_open": count - len(waiting),
            "seconds": round(seconds, 1),
            "rss_idle_mb": round(idle, 1),
            "rss_mb": round(loaded, 1),
        }


def plan_from(timings: list[StepTiming]) -> list[base.BaselineStep]:
    """The baseline's steps for a case sagsflow ran: the same keys in the same order, with a
    timer before the evaluation and each follow-up (as long as the demo card's)."""
    steps = []
    follow_ups = 0
    for t in timings:
        delay = 0.0
        if t.key == "close.evaluate":
            delay = BASELINE_DELAYS["close.evaluate"]
        elif t.key == "close.follow_up":
            delay = BASELINE_DELAYS["close.follow_up"][min(follow_ups, 1)]
            follow_ups += 1
        steps.append(base.BaselineStep(t.key, "case_owner", delay))
    return steps


# ------------------------------------------------------------------------ evidence guard


def evidence_guard() -> dict[str, Any]:
    # The scan a text gets the first time it is seen; after that its verdict is remembered.
    from schemas.evidence import _kind as material_kind

    sentence = (
        "P2 har delt krænkende beskeder om P1 i en klassegruppe på Snapchat; "
        "forældrene er inddraget, og skolen har lavet en handlingsplan. "
    )
    out: dict[str, Any] = {"function": "schemas.evidence.material_kind (first sight: the scan)"}
    per_kb = []
    for kb in (1, 10, 100):
        text = (sentence * (kb * 1024 // len(sentence) + 1))[: kb * 1024]
        assert material_kind(text) is None
        runs = max(3, 200 // kb)
        best = min(_time(material_kind, text, runs) for _ in range(3))
        per_kb.append(best / kb * 1e6)
        out[f"us_per_kb_at_{kb}kb"] = round(best / kb * 1e6, 1)
    out["us_per_kb"] = round(statistics.median(per_kb), 1)
    note = (sentence * 20)[:2000]
    out["note_2000_chars_us"] = round(
        min(_time(material_kind, note, 200) for _ in range(3)) * 1e6, 1
    )
    return out


def _time(function: Any, argument: str, runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        function(argument)
    return (time.perf_counter() - started) / runs


# ------------------------------------------------------------------------ reports


MEASURES = (
    ("steps/s", "steps_per_s", "higher"),
    ("done p50 ms", "done_p50_ms", "lower"),
    ("done p95 ms", "done_p95_ms", "lower"),
    ("done p99 ms", "done_p99_ms", "lower"),
    ("next p50 ms", "next_p50_ms", "lower"),
    ("next p95 ms", "next_p95_ms", "lower"),
    ("next p99 ms", "next_p99_ms", "lower"),
    ("history events/case", "events", "lower"),
    ("activities/case", "activities_total", "lower"),
    ("timers/case", "timers", "lower"),
    ("actions/case", "actions", "lower"),
)


def _value(summary: dict[str, Any], key: str) -> Any:
    return (
        summary["history_per_case"].get(key)
        if key in ("events", "activities_total", "timers", "actions")
        else summary.get(key)
    )


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# sagsflow bench {result['started']}",
        "",
        f"Machine: {result['machine']}. Options: {result['options']}.",
        "",
        "Latency: from sending the completion to (done) the completed task's inbox row being "
        "`done`, (next) the next task's inbox row being open. Ratio: sagsflow / baseline.",
        "",
    ]
    phases = result["phases"]
    keys = sorted(
        {(p["scenario"], p["staff"]) for p in phases}, key=lambda k: (k[0] != "internal", k[1])
    )
    for scenario, staff in keys:
        pair = {p["engine"]: p for p in phases if p["scenario"] == scenario and p["staff"] == staff}
        if set(pair) != set(ENGINES):
            continue
        b, s = pair["baseline"], pair["sagsflow"]
        lines += [
            f"## {scenario}, {staff} staff at once ({s['cases']} cases, {s['steps']} steps; "
            f"baseline {b['cases']} cases, {b['steps']} steps)",
            "",
            "| measure | baseline | sagsflow | ratio |",
            "|---|---|---|---|",
        ]
        for label, key, _ in MEASURES:
            bv, sv = _value(b, key), _value(s, key)
            ratio = (
                f"{sv / bv:.2f}×"
                if isinstance(bv, (int, float)) and isinstance(sv, (int, float)) and bv
                else "–"
            )
            lines.append(f"| {label} | {_fmt(bv)} | {_fmt(sv)} | {ratio} |")
        for engine, p in pair.items():
            if p["errors"]:
                lines.append(f"\n{engine}: {len(p['errors'])} errors, first: {p['errors'][0]}")
        lines.append("")
    if result.get("open_cases"):
        lines += [
            "## Worker RSS with open cases",
            "",
            "| worker | open cases | with a task open | RSS idle MB | RSS MB |",
            "|---|---|---|---|---|",
        ]
        for o in result["open_cases"]:
            lines.append(
                f"| {o['engine']} | {o['cases']} | {o['cases_with_task_open']} | "
                f"{o['rss_idle_mb']} | {o['rss_mb']} |"
            )
        lines.append("")
    guard = result.get("evidence_guard")
    if guard:
        lines += [
            "## Evidence guard (`schemas.evidence.material_kind`)",
            "",
            f"{guard['us_per_kb']} µs per KB of text (1, 10, 100 KB: "
            f"{guard['us_per_kb_at_1kb']}, {guard['us_per_kb_at_10kb']}, "
            f"{guard['us_per_kb_at_100kb']}); a 2,000-character note: "
            f"{guard['note_2000_chars_us']} µs. Times of the scan a text gets when first seen; "
            "its verdict is then remembered by a digest of the text.",
            "",
        ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)


def plot(result: dict[str, Any], raw: dict[str, dict[str, list[Any]]], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted(
        {(p["scenario"], p["staff"]) for p in result["phases"]},
        key=lambda k: (k[0] != "internal", k[1]),
    )
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.2 * len(groups)), squeeze=False)
    for row, (scenario, staff) in enumerate(groups):
        for col, measure in enumerate(("done", "next")):
            ax = axes[row][col]
            data, labels = [], []
            for engine in ENGINES:
                values = raw.get(f"{scenario}/{staff}/{engine}", {}).get(measure, [])
                data.append([v * 1000 for v in values] or [float("nan")])
                labels.append(f"{engine}\n(n={len(values)})")
            ax.boxplot(data, whis=(1, 99), showfliers=True)
            ax.set_xticks(range(1, len(labels) + 1), labels)
            ax.set_yscale("log")
            ax.set_ylabel("ms")
            ax.set_title(
                f"{scenario}, {staff} staff: completion → "
                + ("task done" if measure == "done" else "next task open")
            )
    fig.suptitle(f"sagsflow vs baseline latency ({result['started']}; whiskers p1–p99)")
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------ the run


async def run(options: Options) -> Path:
    started = datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    children = Children()
    phases: list[Phase] = []
    open_cases: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sagsflow-bench-") as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        store = Store.from_url(url)
        await store.create_schema()
        engine = create_engine(url)
        await base.create_table(engine)
        try:
            async with DevServer(
                folder, port=free_port(), ui_port=free_port(), headless=True
            ) as server:
                client = await Client.connect(
                    server.address, data_converter=pydantic_data_converter
                )
                env = dict(
                    TEMPORAL_ADDRESS=server.address,
                    DATABASE_URL=url,
                    SAGSFLOW_LOG_LEVEL="WARNING",
                    SAGSFLOW_RETENTION_SCHEDULE="off",
                )
                pids = {
                    "sagsflow": children.start(
                        "sagsflow-worker",
                        ["-m", "workers"],
                        child_env(**env, SAGSFLOW_TASK_QUEUE=SAGSFLOW_QUEUE),
                        folder,
                    ),
                    "baseline": children.start(
                        "baseline-worker",
                        ["-m", "bench.baseline"],
                        child_env(**env, SAGSFLOW_TASK_QUEUE=base.TASK_QUEUE),
                        folder,
                    ),
                }
                await wait_for_pollers(client, SAGSFLOW_QUEUE, children)
                await wait_for_pollers(client, base.TASK_QUEUE, children)
                print(f"dev server {server.address}, workers {pids}", flush=True)
                bench = Bench(client, store, base.BaselineInbox(engine), options)
                scenarios = ["internal"] + (["mix"] if options.mix else [])
                for scenario in scenarios:
                    for staff in options.staff:
                        if scenario == "mix" and staff == 1 and not options.mix_at_one:
                            continue
                        # sagsflow first: the mix's baseline repeats the steps it took.
                        for engine_name in ("sagsflow", "baseline"):
                            children.check()
                            phases.append(await bench.phase(engine_name, scenario, staff))
                if options.open_cases:
                    for engine_name in ENGINES:
                        open_cases.append(
                            await bench.open_cases(
                                engine_name, options.open_cases, pids[engine_name]
                            )
                        )
        finally:
            children.stop_all()
            await store.dispose()
            await engine.dispose()
    result = {
        "started": started.isoformat(timespec="seconds"),
        "machine": f"{platform.node()} · {platform.platform()} · {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()}",
        "options": {
            k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
            for k, v in asdict(options).items()
        },
        "phases": [p.summary() for p in phases],
        "open_cases": open_cases,
        "evidence_guard": evidence_guard(),
        "history_counting": "bench/history.py",
    }
    # keyed holds (task key, seconds) pairs, keyed_next (completed, next, seconds), the other
    # measures plain seconds.
    raw: dict[str, dict[str, list[Any]]] = {
        p.name: {
            "done": p.done,
            "next": p.next,
            "update": p.update,
            "keyed": p.keyed,
            "keyed_next": p.keyed_next,
        }
        for p in phases
    }
    options.out.mkdir(parents=True, exist_ok=True)
    target = options.out / f"{stamp}.json"
    target.write_text(json.dumps({**result, "raw_seconds": raw}, indent=1))
    table = markdown(result)
    target.with_suffix(".md").write_text(table + "\n")
    try:
        plot(result, raw, target.with_suffix(".png"))
    except ImportError:
        print("matplotlib is missing (pip install -e '.[bench]'): no plot", file=sys.stderr)
    print()
    print(table)
    print(f"written: {target}, {target.with_suffix('.md')}, {target.with_suffix('.png')}")
    return target


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run (about a minute)")
    parser.add_argument("--staff", type=str, help="staff counts, e.g. 1,20")
    parser.add_argument("--open-cases", type=int, help="open cases for the RSS measure (0: skip)")
    parser.add_argument("--no-mix", action="store_true", help="skip the mix of routes")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    if args.staff:
        values["staff"] = tuple(int(s) for s in args.staff.split(","))
    if args.open_cases is not None:
        values["open_cases"] = args.open_cases
    if args.no_mix:
        values["mix"] = False
    values["out"] = args.out
    asyncio.run(run(Options(**values)))
