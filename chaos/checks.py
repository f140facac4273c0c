"""The checks, as pure functions over plain facts: each returns the problems it found (empty:
passed). Gathering the facts (store rows, snapshot, history, describe) is `chaos.verify`'s job,
so these can be tested with tiny handmade inputs (tests/test_chaos_harness.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

CHECKS = {
    "not_stuck": "1. not stuck (closed, or waiting at an expected task; no failing workflow task)",
    "replays": "2. the history replays with the workflow code and the encrypted converter",
    "store_equals_snapshot": "3. store equals snapshot (inbox, timeline, outbox)",
    "no_duplicates": "4. no duplicate task ids or timeline seqs",
    "timers_fired": "5. every timer started was fired or canceled (closed cases)",
    "poison_visible": "6. every delivered poison signal is a `rejected` timeline event",
}


@dataclass(frozen=True)
class TaskFacts:
    task_id: str
    key: str
    status: str
    due_at: datetime
    reminded: bool = False
    escalated: bool = False


@dataclass(frozen=True)
class EventFacts:
    seq: int
    kind: str
    text: str
    task_id: str | None = None


@dataclass(frozen=True)
class TimerEvent:
    """One timer event of a history: what ("started", "fired", "canceled") and its id."""

    what: str
    timer_id: str


@dataclass(frozen=True)
class ExecutionFacts:
    """What DescribeWorkflowExecution and the history say about the workflow's health."""

    status: str  # running, completed, failed, terminated, …
    pending_task_attempt: int  # 0: no workflow task pending
    last_task_failure: str | None  # cause and message of the last WorkflowTaskFailed
    failures_in_history: int  # WorkflowTaskFailed events in the whole history


def _same_instant(a: datetime, b: datetime) -> bool:
    """Equal as instants; a naive value is UTC (the store's convention)."""
    return _utc(a) == _utc(b)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_not_stuck(
    facts: ExecutionFacts, *, time_bounded: bool, open_tasks: Sequence[str], timer_pending: bool
) -> list[str]:
    """Closed is fine; a failing workflow task never is; a running case is fine only when the
    run was time-bounded and it waits at an open task or a timer."""
    problems = []
    if facts.pending_task_attempt > 1:
        cause = facts.last_task_failure or "no WorkflowTaskFailed in the history (timeouts)"
        problems.append(
            f"workflow task failing: attempt {facts.pending_task_attempt}; last failure: {cause}"
        )
    if facts.status == "completed":
        return problems
    if facts.status != "running":
        problems.append(f"the workflow ended as {facts.status}, not completed")
        return problems
    if not problems:
        if not time_bounded:
            problems.append("still running after the run ended (every driver finished)")
        elif not open_tasks and not timer_pending:
            problems.append("running, but no open task and no timer: nothing can move it")
    return problems


def check_store_equals_snapshot(
    *,
    workflow_id: str,
    snapshot_tasks: Sequence[TaskFacts],
    store_tasks: Sequence[TaskFacts],
    snapshot_timeline: Sequence[EventFacts],
    store_timeline: Sequence[EventFacts],
    outbox_keys: Sequence[str],
) -> list[str]:
    problems: list[str] = []
    snap = {t.task_id: t for t in snapshot_tasks}
    rows = {t.task_id: t for t in store_tasks}
    for task_id in sorted(snap.keys() - rows.keys()):
        problems.append(f"task {task_id} is in the snapshot but not in the inbox")
    for task_id in sorted(rows.keys() - snap.keys()):
        problems.append(f"inbox row {task_id} is not in the snapshot")
    for task_id in sorted(snap.keys() & rows.keys()):
        s, r = snap[task_id], rows[task_id]
        if s.status != r.status:
            problems.append(f"task {task_id}: inbox status {r.status}, snapshot {s.status}")
        if not _same_instant(s.due_at, r.due_at):
            problems.append(
                f"task {task_id}: inbox due {r.due_at.isoformat()}, snapshot {s.due_at.isoformat()}"
            )
        if s.key != r.key:
            problems.append(f"task {task_id}: inbox key {r.key}, snapshot {s.key}")
    events = {e.seq: e for e in snapshot_timeline}
    stored = {e.seq: e for e in store_timeline}
    for seq in sorted(events.keys() - stored.keys()):
        problems.append(f"timeline seq {seq} ({events[seq].kind}) is missing from the store")
    for seq in sorted(stored.keys() - events.keys()):
        problems.append(f"stored timeline seq {seq} ({stored[seq].kind}) is not in the snapshot")
    for seq in sorted(events.keys() & stored.keys()):
        e, st = events[seq], stored[seq]
        if (e.kind, e.text) != (st.kind, st.text):
            problems.append(
                f"timeline seq {seq}: store ({st.kind}, {st.text[:60]!r}) vs "
                f"snapshot ({e.kind}, {e.text[:60]!r})"
            )
    duplicates = [key for key, n in Counter(outbox_keys).items() if n > 1]
    if duplicates:
        problems.append(f"outbox keys written twice: {sorted(duplicates)[:5]}")
    expected = set(expected_notifications(workflow_id, snapshot_tasks))
    for key in sorted(expected - set(outbox_keys)):
        problems.append(f"notification missing from the outbox: {key}")
    for key in sorted(set(outbox_keys) - expected):
        problems.append(f"outbox has a notification the snapshot does not explain: {key}")
    return problems


def expected_notifications(workflow_id: str, tasks: Iterable[TaskFacts]) -> list[str]:
    """One per notification the workflow sends: task opened, reminder, escalation."""
    keys = []
    for task in tasks:
        keys.append(f"{workflow_id}:{task.task_id}:task_opened")
        if task.reminded:
            keys.append(f"{workflow_id}:{task.task_id}:reminder")
        if task.escalated:
            keys.append(f"{workflow_id}:{task.task_id}:escalation")
    return keys


def check_no_duplicates(
    *,
    snapshot_tasks: Sequence[TaskFacts],
    store_task_ids: Sequence[str],
    snapshot_timeline: Sequence[EventFacts],
    store_seqs: Sequence[int],
) -> list[str]:
    problems = []
    for label, values in (
        ("task id in the snapshot", [t.task_id for t in snapshot_tasks]),
        ("task id in the inbox", list(store_task_ids)),
        ("timeline seq in the snapshot", [e.seq for e in snapshot_timeline]),
        ("timeline seq in the store", list(store_seqs)),
        # A task opened twice is a duplicated effect even when its rows are unique.
        (
            "task_opened event for task",
            [e.task_id for e in snapshot_timeline if e.kind == "task_opened" and e.task_id],
        ),
    ):
        twice = sorted(str(v) for v, n in Counter(values).items() if n > 1)
        if twice:
            problems.append(f"{label} twice: {', '.join(twice[:5])}")
    seqs = sorted(e.seq for e in snapshot_timeline)
    if seqs and seqs != list(range(1, len(seqs) + 1)):
        problems.append("timeline seqs are not 1..n without gaps")
    return problems


def check_timers(events: Sequence[TimerEvent], *, closed: bool) -> list[str]:
    """In a closed case, every TimerStarted has its TimerFired or TimerCanceled."""
    if not closed:
        return []
    started = [e.timer_id for e in events if e.what == "started"]
    ended = {e.timer_id for e in events if e.what in ("fired", "canceled")}
    problems = [
        f"timer {timer_id} started but never fired or canceled"
        for timer_id in started
        if timer_id not in ended
    ]
    orphans = ended - set(started)
    if orphans:
        problems.append(f"timers fired/canceled without a start: {sorted(orphans)[:5]}")
    return problems


def check_poison_visible(*, rejected_events: int, poison_delivered: int) -> list[str]:
    if rejected_events < poison_delivered:
        return [
            f"{poison_delivered} poison signals delivered, only {rejected_events} "
            "rejected events in the timeline"
        ]
    return []
