"""The pure parts of the fault suite (`chaos/`): its checks must be able to fail, and pass when
the system is right. Tiny handmade inputs; no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chaos.checks import (
    EventFacts,
    ExecutionFacts,
    TaskFacts,
    TimerEvent,
    check_no_duplicates,
    check_not_stuck,
    check_poison_visible,
    check_store_equals_snapshot,
    check_timers,
    expected_notifications,
)
from chaos.faults import poison_plan, signal_mix
from chaos.poison import KINDS, SIGNALS, cli_input_args

WF = "case-T-1"
DUE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TASKS = [
    TaskFacts("assess.uncover", "assess.uncover", "done", DUE),
    TaskFacts("assess.evaluate", "assess.evaluate", "open", DUE + timedelta(days=1), reminded=True),
]
EVENTS = [
    EventFacts(1, "case_opened", "Sag oprettet"),
    EventFacts(2, "task_opened", "Opgave åbnet", "assess.uncover"),
]


def compare(**changes: object) -> list[str]:
    facts: dict[str, object] = {
        "workflow_id": WF,
        "snapshot_tasks": TASKS,
        "store_tasks": TASKS,
        "snapshot_timeline": EVENTS,
        "store_timeline": EVENTS,
        "outbox_keys": expected_notifications(WF, TASKS),
    }
    return check_store_equals_snapshot(**(facts | changes))  # type: ignore[arg-type]


def test_store_equal_to_snapshot_passes() -> None:
    assert compare() == []


def test_a_naive_utc_due_time_in_the_store_is_the_same_instant() -> None:
    naive = [
        TaskFacts(t.task_id, t.key, t.status, t.due_at.replace(tzinfo=None), t.reminded)
        for t in TASKS
    ]
    assert compare(store_tasks=naive) == []


def test_a_differing_due_time_is_reported() -> None:
    moved = [
        TASKS[0],
        TaskFacts(
            "assess.evaluate",
            "assess.evaluate",
            "open",
            DUE + timedelta(days=1, seconds=1),
            reminded=True,
        ),
    ]
    [problem] = compare(store_tasks=moved)
    assert "assess.evaluate" in problem and "due" in problem


def test_status_missing_rows_and_timeline_text_are_reported() -> None:
    still_open = [TaskFacts("assess.uncover", "assess.uncover", "open", DUE)]
    problems = compare(store_tasks=still_open)
    assert any("status open" in p for p in problems)
    assert any("assess.evaluate is in the snapshot but not in the inbox" in p for p in problems)
    changed = [EVENTS[0], EventFacts(2, "task_opened", "Noget andet", "assess.uncover")]
    assert any("timeline seq 2" in p for p in compare(store_timeline=changed))
    assert any("missing from the store" in p for p in compare(store_timeline=EVENTS[:1]))


def test_outbox_needs_one_row_per_notification() -> None:
    keys = expected_notifications(WF, TASKS)
    assert f"{WF}:assess.evaluate:reminder" in keys
    assert any("twice" in p for p in compare(outbox_keys=[*keys, keys[0]]))
    assert any("missing" in p for p in compare(outbox_keys=keys[:1]))
    assert any("does not explain" in p for p in compare(outbox_keys=[*keys, f"{WF}:x:escalation"]))


def test_duplicates_are_found() -> None:
    ok = check_no_duplicates(
        snapshot_tasks=TASKS, store_task_ids=["a", "b"], snapshot_timeline=EVENTS, store_seqs=[1, 2]
    )
    assert ok == []
    twice = check_no_duplicates(
        snapshot_tasks=[*TASKS, TASKS[0]],
        store_task_ids=["a", "a"],
        snapshot_timeline=[*EVENTS, EventFacts(3, "task_opened", "igen", "assess.uncover")],
        store_seqs=[1, 1],
    )
    assert len(twice) == 4  # snapshot ids, inbox ids, store seqs, task opened twice


def test_the_timer_check_catches_an_unfired_timer() -> None:
    events = [
        TimerEvent("started", "1"),
        TimerEvent("fired", "1"),
        TimerEvent("started", "2"),
        TimerEvent("canceled", "2"),
        TimerEvent("started", "3"),
    ]
    assert check_timers(events[:4], closed=True) == []
    [problem] = check_timers(events, closed=True)
    assert "timer 3" in problem
    assert check_timers(events, closed=False) == []  # a running case may wait on it


def test_a_failing_workflow_task_is_stuck_with_its_cause() -> None:
    failing = ExecutionFacts("running", 7, "WORKER_UNHANDLED_FAILURE: boom", 6)
    [problem] = check_not_stuck(failing, time_bounded=True, open_tasks=["x"], timer_pending=False)
    assert "attempt 7" in problem and "boom" in problem
    closed = ExecutionFacts("completed", 0, None, 0)
    assert check_not_stuck(closed, time_bounded=False, open_tasks=[], timer_pending=False) == []
    waiting = ExecutionFacts("running", 1, None, 0)
    assert check_not_stuck(waiting, time_bounded=True, open_tasks=["x"], timer_pending=False) == []
    assert check_not_stuck(waiting, time_bounded=False, open_tasks=["x"], timer_pending=False)
    assert check_not_stuck(waiting, time_bounded=True, open_tasks=[], timer_pending=False)
    failed = ExecutionFacts("terminated", 0, None, 0)
    assert check_not_stuck(failed, time_bounded=True, open_tasks=[], timer_pending=False)


def test_every_poison_signal_must_show() -> None:
    assert check_poison_visible(rejected_events=3, poison_delivered=3) == []
    assert check_poison_visible(rejected_events=4, poison_delivered=3) == []
    assert check_poison_visible(rejected_events=2, poison_delivered=3)


def test_the_poison_plan_covers_every_kind_and_pair() -> None:
    assert {kind for kind, _ in poison_plan(len(KINDS))} == set(KINDS)
    pairs = set(poison_plan(len(KINDS) * len(SIGNALS)))
    assert pairs == {(k, s) for k in KINDS for s in SIGNALS}
    for kind in KINDS:
        for name in SIGNALS:
            assert cli_input_args(kind, name, "k1", b"sealed")


def test_signal_mix_has_both_kinds() -> None:
    import random
    import signal

    mix = signal_mix(3, random.Random(1), signal.SIGKILL)
    assert mix[0] == signal.SIGKILL and signal.SIGTERM in mix and len(mix) == 3
    assert signal_mix(1, random.Random(1), signal.SIGKILL) == [signal.SIGKILL]
