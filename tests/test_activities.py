"""The real activities on a real worker (time-skipping server), with injected retries."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities import CaseActivities
from procedure.loader import load_spec
from procedure.models import Procedure
from schemas.activities import LoadProcedureRequest, NoteFacts
from schemas.common import Route, Severity
from store import Store
from tests import storekit as kit
from tests.activity_probe_workflow import (
    InboxProbeWorkflow,
    LoadProcedureProbeWorkflow,
)
from workers.worker import build_worker

STORE_WRITES = {
    "record_case",
    "open_task",
    "update_task",
    "append_timeline",
    "enqueue_notification",
    "close_task",
}
# What an activity log line may carry: ids and counters, never staff texts or names.
LOG_KEYS = {
    "event", "log_level", "activity", "case_number", "workflow_id", "attempt", "task_id",
    "inserted", "closed", "updated", "status", "phase", "seqs", "appended", "kind", "queued",
    "version", "year",
}  # fmt: skip


class RetryAfterSuccess(Interceptor):
    """Lets the real activity run, then fails its first attempt, so Temporal retries it.

    That is the worst case for idempotency: the side effect happened, the worker died before
    reporting it, and the retry does it all again.
    """

    def __init__(self, fail_first_attempt_of: set[str]) -> None:
        self.fail_first_attempt_of = fail_first_attempt_of
        self.runs: list[tuple[str, int]] = []

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RetryAfterSuccessInbound(next, self)

    def attempts(self, activity_type: str) -> list[int]:
        return [attempt for name, attempt in self.runs if name == activity_type]


class _RetryAfterSuccessInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, owner: RetryAfterSuccess) -> None:
        super().__init__(next)
        self.owner = owner

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        self.owner.runs.append((info.activity_type, info.attempt))
        result = await self.next.execute_activity(input)
        if info.activity_type in self.owner.fail_first_attempt_of and info.attempt == 1:
            raise ApplicationError("injected: the worker lost the result of attempt 1")
        return result


# `store` on both databases, `sqlite_store` on SQLite (tests/conftest.py).
pytestmark = pytest.mark.databases("sqlite", "postgresql")


def _new_case_number() -> str:
    return f"T-{uuid.uuid4().hex[:10]}"


def test_every_activity_is_registered_under_its_contract_name(sqlite_url: str) -> None:
    activities = CaseActivities(Store.from_url(sqlite_url))
    # The case workflow calls activities by these names; renaming one breaks running cases.
    names = [activity._Definition.must_from_callable(fn).name for fn in activities.all()]
    assert names == [
        "load_procedure",
        "record_case",
        "open_task",
        "close_task",
        "update_task",
        "append_timeline",
        "enqueue_notification",
        "draft_note",
        "apply_effects",
    ]


@pytest.mark.slow
async def test_a_retry_after_success_leaves_exactly_one_row(
    env: WorkflowEnvironment, store: Store, task_queue: str
) -> None:
    retries = RetryAfterSuccess(fail_first_attempt_of=STORE_WRITES)
    case_number = _new_case_number()
    workflow_id = kit.workflow_id(case_number)
    worker = build_worker(
        env.client, store, task_queue, workflows=[InboxProbeWorkflow], interceptors=[retries]
    )
    with capture_logs() as logs:
        async with worker:
            await env.client.execute_workflow(
                InboxProbeWorkflow.run,
                kit.inbox_probe(case_number),
                id=workflow_id,
                task_queue=task_queue,
            )

    for name in STORE_WRITES:
        assert retries.attempts(name) == [1, 2], f"{name} should have run twice"
    case = await store.get_case(workflow_id)
    assert case is not None and case.phase == "assess"
    tasks = await store.list_tasks(workflow_id=workflow_id)
    assert [(t.task_id, t.status, t.reminded, t.completed_by) for t in tasks] == [
        ("assess.uncover-1", "done", True, "ab")
    ]
    assert [e.seq for e in await store.list_events(workflow_id)] == [1, 2, 3]
    assert [o.key for o in await store.list_outbox(workflow_id)] == [
        f"{workflow_id}:assess.uncover-1:task_opened"
    ]

    activity_lines = [line for line in logs if "activity" in line]
    assert sorted(line["activity"] for line in activity_lines) == sorted(
        name for name in STORE_WRITES for _ in range(2)
    )
    for line in activity_lines:
        assert line["workflow_id"] == workflow_id
        assert line["case_number"] == case_number
        assert set(line) <= LOG_KEYS, f"unexpected log fields {set(line) - LOG_KEYS}"


@pytest.mark.slow
async def test_load_procedure_returns_the_current_card(
    env: WorkflowEnvironment, sqlite_store: Store, task_queue: str
) -> None:
    current = load_spec().version
    async with build_worker(
        env.client, sqlite_store, task_queue, workflows=[LoadProcedureProbeWorkflow]
    ):
        procedure = await env.client.execute_workflow(
            LoadProcedureProbeWorkflow.run,
            LoadProcedureRequest(year=2026, version=current),
            id=f"probe-{uuid.uuid4().hex[:10]}",
            task_queue=task_queue,
        )
    assert isinstance(procedure, Procedure)
    assert procedure.spec.version == current
    assert procedure.calendar_years[0] <= 2026 <= procedure.calendar_years[1]
    assert datetime(2026, 12, 25).date() in procedure.non_working_days


@pytest.mark.slow
async def test_unknown_procedure_version_fails_at_once_without_retries(
    env: WorkflowEnvironment, sqlite_store: Store, task_queue: str
) -> None:
    runs = RetryAfterSuccess(fail_first_attempt_of=set())
    async with build_worker(
        env.client,
        sqlite_store,
        task_queue,
        workflows=[LoadProcedureProbeWorkflow],
        interceptors=[runs],
    ):
        with pytest.raises(WorkflowFailureError) as failure:
            await env.client.execute_workflow(
                LoadProcedureProbeWorkflow.run,
                LoadProcedureRequest(year=2026, version="no-such-version"),
                id=f"probe-{uuid.uuid4().hex[:10]}",
                task_queue=task_queue,
            )
    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    cause = activity_error.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "UnknownProcedureVersion"
    assert cause.non_retryable
    assert "no-such-version" in cause.message
    assert runs.attempts("load_procedure") == [1]


async def test_an_invalid_card_is_not_retried(tmp_path: Path, sqlite_url: str) -> None:
    card = tmp_path / "card.yaml"
    card.write_text("version: broken\ntasks: {}\n", encoding="utf-8")
    activities = CaseActivities(Store.from_url(sqlite_url), procedure_path=card)
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(activities.load_procedure, LoadProcedureRequest(year=2026))
    assert (error.value.type, error.value.non_retryable) == ("InvalidProcedure", True)


async def test_a_missing_card_is_retried(tmp_path: Path, sqlite_url: str) -> None:
    # A deployment mistake: once the file is in place, the next attempt succeeds.
    activities = CaseActivities(Store.from_url(sqlite_url), procedure_path=tmp_path / "nope.yaml")
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(activities.load_procedure, LoadProcedureRequest(year=2026))
    assert (error.value.type, error.value.non_retryable) == ("ProcedureUnavailable", False)


@pytest.mark.slow
async def test_naive_datetimes_fail_without_retries(sqlite_store: Store) -> None:
    request = kit.open_task(_new_case_number()).model_copy(
        update={"due_at": datetime(2026, 3, 3, 9, 0)}
    )
    with pytest.raises(ApplicationError) as error:
        await ActivityEnvironment().run(CaseActivities(sqlite_store).open_task, request)
    assert (error.value.type, error.value.non_retryable) == ("InvalidActivityInput", True)


FULL_FACTS = NoteFacts(
    case_number="2026-0042",
    school_id="vibeke-skolen",
    reported_at=datetime(2026, 3, 3, 8, 15, tzinfo=UTC),
    participants=["P1 (krænket, 14 år)", "P2 (krænker, 13 år)"],
    violation_types=["intimate_images", "threats"],
    what="Billeder af P1 delt i en gruppechat",
    where="Snapchat-gruppe for 8.b",
    when_occurred=datetime(2026, 3, 2, 20, 40, tzinfo=UTC),
    evidence=["screenshot, opbevares af family, sikret 03.03.2026 kl. 10:00, brugernavne noteret"],
    route=Route.POLICE,
    severity=Severity.HIGH,
)


async def _draft(facts: NoteFacts, sqlite_url: str) -> str:
    return await ActivityEnvironment().run(
        CaseActivities(Store.from_url(sqlite_url)).draft_note, facts
    )


async def test_note_states_who_what_where_when(sqlite_url: str) -> None:
    note = await _draft(FULL_FACTS, sqlite_url)
    lines = note.splitlines()
    assert lines[0] == "# Notat om forløbet"
    assert "Sag 2026-0042 · skole vibeke-skolen · skolen fik kendskab 03.03.2026 kl. 09:15" in lines
    assert "- **Hvem:** P1 (krænket, 14 år); P2 (krænker, 13 år)" in lines
    assert "- **Hvad:** Billeder af P1 delt i en gruppechat" in lines
    assert "- **Krænkelsens art:** Deling af intime billeder eller video, Trusler" in lines
    assert "- **Hvor:** Snapchat-gruppe for 8.b" in lines
    assert "- **Hvornår:** 02.03.2026 kl. 21:40" in lines  # Copenhagen time, winter: UTC+1
    assert (
        "  - screenshot, opbevares af family, sikret 03.03.2026 kl. 10:00, brugernavne noteret"
        in lines
    )
    assert any(line.startswith("- **Spor:** Politianmeldelse") for line in lines)
    assert "- **Alvorlighed:** Høj" in lines
    assert note == await _draft(FULL_FACTS, sqlite_url), "the same facts give the same note"


async def test_note_holds_nothing_it_was_not_given(sqlite_url: str) -> None:
    facts = FULL_FACTS.model_copy(
        update={
            "participants": ["P1 (krænket, 12 år)"],
            "violation_types": ["harassment"],
            "what": "Hånende kommentarer\n# ikke en overskrift",
            "where": "Instagram",
            "when_occurred": None,
            "evidence": [],
            "route": Route.UNDECIDED,
            "severity": Severity.UNASSESSED,
        }
    )
    note = await _draft(facts, sqlite_url)
    lines = note.splitlines()
    assert "- **Hvornår:** Ikke oplyst" in lines
    assert "  - Intet registreret" in lines
    assert "- **Hvad:** Hånende kommentarer # ikke en overskrift" in lines
    assert set(re.findall(r"\bP\d+\b", note)) == {"P1"}
    assert set(re.findall(r"\d\d\.\d\d\.\d{4}", note)) == {"03.03.2026"}  # reported_at only
    for absent in ("None", "Snapchat", "Trusler", "Brian", "@", "Politi"):
        assert absent not in note
