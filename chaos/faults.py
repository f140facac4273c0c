"""The fault injector: worker kills, server restarts and poison signals on a seeded schedule.

Process faults run one after another on a timeline spread over the fault window (a second kill
never lands while the first is being repaired, so each fault is one clear event in the
report); poison signals run beside them on their own timeline, also while the server is down
(those fail, are not counted, and are tried again).
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field

from chaos.poison import KINDS, SIGNALS, send_poison
from chaos.processes import Supervisor, TemporalServer, WorkerProcess
from chaos.staff import CaseDriver

RUNNING_WAIT = 30.0  # how long a fault waits for the worker to be up again before skipping


def poison_plan(count: int) -> list[tuple[str, str]]:
    """(kind, signal) pairs: every kind early, and every kind×signal pair within 72 sends."""
    plan = []
    for j in range(count):
        kind = KINDS[j % len(KINDS)]
        plan.append((kind, SIGNALS[(j % len(KINDS) + j // len(KINDS)) % len(SIGNALS)]))
    return plan


def signal_mix(count: int, rng: random.Random, first: signal.Signals) -> list[signal.Signals]:
    """`count` signals, both kinds present when count ≥ 2, `first` first, the rest shuffled."""
    other = signal.SIGTERM if first == signal.SIGKILL else signal.SIGKILL
    rest = [other] + [rng.choice((signal.SIGKILL, signal.SIGTERM)) for _ in range(count - 2)]
    rng.shuffle(rest)
    return ([first] + rest)[:count]


@dataclass
class FaultInjector:
    server: TemporalServer
    worker: WorkerProcess
    supervisor: Supervisor
    drivers: list[CaseDriver]
    rng: random.Random
    temporal_binary: str
    active_key_id: str
    sealed_malformed: bytes
    worker_kills: int
    server_restarts: int
    poison: int
    window: float
    counts: Counter[str] = field(default_factory=Counter)
    poison_counts: Counter[str] = field(default_factory=Counter)  # delivered, by kind
    poison_signal_counts: Counter[str] = field(default_factory=Counter)  # delivered, by signal
    log: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _t0: float = 0.0

    async def run(self) -> None:
        self._t0 = time.monotonic()
        await asyncio.gather(self._process_faults(), self._poison_signals())

    def _note(self, text: str) -> None:
        self.log.append(f"{time.monotonic() - self._t0:7.1f} s  {text}")

    def _running_cases(self) -> list[CaseDriver]:
        return [d for d in self.drivers if d.opened and not d.closed]

    # -- worker and server ----------------------------------------------------------------

    def _timeline(self) -> list[tuple[float, str, signal.Signals]]:
        events: list[tuple[float, str, signal.Signals]] = []
        for i, sig in enumerate(signal_mix(self.worker_kills, self.rng, signal.SIGKILL)):
            slot = self.window / max(1, self.worker_kills)
            events.append((slot * i + self.rng.uniform(0.3, 0.9) * slot, "worker", sig))
        for i, sig in enumerate(signal_mix(self.server_restarts, self.rng, signal.SIGKILL)):
            slot = self.window / max(1, self.server_restarts)
            events.append((slot * i + self.rng.uniform(0.4, 0.8) * slot, "server", sig))
        return sorted(events, key=lambda e: e[0])

    async def _process_faults(self) -> None:
        for at, target, sig in self._timeline():
            delay = self._t0 + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for driver in self._running_cases():
                driver.faults_seen += 1
            if target == "worker":
                await self._kill_worker(sig)
            else:
                await self._restart_server(sig)

    async def _wait_worker_running(self) -> bool:
        deadline = time.monotonic() + RUNNING_WAIT
        while not self.worker.running:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    async def _kill_worker(self, sig: signal.Signals) -> None:
        if not await self._wait_worker_running():
            self.errors.append("worker kill skipped: the worker was not running")
            return
        self.supervisor.paused = True
        try:
            took = await self.worker.kill(sig)
            self.counts[f"worker_{sig.name.lower()}"] += 1
            down = self.rng.uniform(1.0, 3.0)
            self._note(f"worker {sig.name} (exit after {took:.1f} s), restart in {down:.1f} s")
            await asyncio.sleep(down)
            await self.worker.spawn()
        finally:
            self.supervisor.paused = False

    async def _restart_server(self, sig: signal.Signals) -> None:
        took = await self.server.kill(sig)
        self.counts[f"server_{sig.name.lower()}"] += 1
        down = self.rng.uniform(1.0, 3.0)
        await asyncio.sleep(down)
        for attempt in (1, 2):
            try:
                ready = await self.server.start()
                self._note(
                    f"server {sig.name} (exit after {took:.1f} s), down {down:.1f} s, "
                    f"up again after {ready:.1f} s on the same db file"
                )
                return
            except RuntimeError as exc:
                self.errors.append(f"server restart attempt {attempt} failed: {exc}")
                await self.server.kill(signal.SIGKILL)
                await asyncio.sleep(2.0)
        raise RuntimeError(
            "the Temporal server did not come back after a restart: " + self.errors[-1]
        )

    # -- poison ---------------------------------------------------------------------------

    async def _poison_signals(self) -> None:
        plan = poison_plan(self.poison)
        if not plan:
            return
        interval = self.window / len(plan)
        # Poison may run a little past the window (server down, no case running yet), but
        # not forever: the verification has to start.
        give_up = self._t0 + self.window * 1.5 + 30
        for j, (kind, name) in enumerate(plan):
            delay = self._t0 + interval * j + self.rng.uniform(0, interval * 0.5) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            while time.monotonic() < give_up:
                if await self._send_one(kind, name):
                    break
                await asyncio.sleep(0.5)
            else:
                self.errors.append(f"poison {kind}→{name} not delivered before the give-up time")

    async def _send_one(self, kind: str, name: str) -> bool:
        running = self._running_cases()
        if not running:
            return False
        target = self.rng.choice(running)
        outcome = await send_poison(
            self.temporal_binary,
            self.server.address,
            self.server.namespace,
            target.workflow_id,
            name,
            kind,
            self.active_key_id,
            self.sealed_malformed,
        )
        if outcome.delivered:
            target.poison_delivered += 1
            target.poison_kinds[kind] = target.poison_kinds.get(kind, 0) + 1
            self.poison_counts[kind] += 1
            self.poison_signal_counts[name] += 1
            return True
        if outcome.refused_by_cli:
            self.errors.append(f"the CLI refused poison {kind}→{name}: {outcome.error}")
            return True  # trying again would not help
        if outcome.closed:
            target.poison_refused_closed += 1
            self.counts["poison_refused_case_closed"] += 1
        else:
            self.counts["poison_failed_server_unreachable"] += 1
        return False
