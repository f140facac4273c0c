"""Mistakes in completing a task: refused by the update, recorded as rejected by the signal.

Workflow behaviour, so on the fake activities (tests/fakes.py): `records` is what the case
handed to the store."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from schemas.common import ViolationType
from schemas.snapshot import EventKind
from tests.casekit import (
    LEADER,
    TEACHER,
    CaseRun,
    case_input,
    decision,
    eventually,
    running_case,
)
from tests.fakes import MemoryRecords
from workflows.case import DigitalViolationCase
from workflows.handlers import TASK_WAIT


def completion(key: str, decision_body: dict[str, Any], actor=TEACHER, **extra: Any) -> dict:
    return {
        "task_key": key,
        "actor": actor.model_dump(mode="json"),
        "decision": decision_body,
        **extra,
    }


async def mistakes(run: CaseRun) -> list[tuple[dict, str]]:
    """Each mistake staff could make at the point where evaluation is open."""
    now = await run.now()
    return [
        (completion("assess.guesswork", decision("assess.evaluate", now)), "Ukendt opgave"),
        (completion("assess.uncover", decision("assess.uncover", now)), "allerede udført"),
        (completion("document.note", decision("document.note", now)), "ikke åben endnu"),
        (
            completion("assess.evaluate", decision("assess.uncover", now)),
            "hører til opgaven 'assess.uncover'",
        ),
        (
            completion("assess.evaluate", decision("assess.evaluate", now, route="sometimes")),
            "decision.assess.evaluate.route",
        ),
        # Sexual images of a minor: police report and underretning are recommended.
        (completion("assess.evaluate", decision("assess.evaluate", now)), "skal begrundes"),
        (
            completion("assess.involve_custody", decision("assess.involve_custody", now)),
            "rollen 'leadership', ikke 'case_owner'",
        ),
    ]


async def at_evaluation(run: CaseRun) -> None:
    await run.complete("assess.uncover", sexual_material_of_minor=True)
    await run.wait_open("assess.evaluate")


async def test_submit_task_rejects_mistakes_without_recording_anything(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    case = case_input(await env.get_current_time(), violation_types=[ViolationType.INTIMATE_IMAGES])
    async with running_case(env, records, task_queue, case) as run:
        await at_evaluation(run)
        before = await run.snapshot()
        for body, expected in await mistakes(run):
            with pytest.raises(WorkflowUpdateFailedError) as exc:
                await run.handle.execute_update(DigitalViolationCase.submit_task, body)
            message = str(exc.value.cause)
            assert expected in message, (expected, message)
            assert " / " in message  # Danish and English
        after = await run.snapshot()
        assert len(after.timeline) == len(before.timeline)
        assert [t.task_id for t in after.open_tasks] == [t.task_id for t in before.open_tasks]

        # With a reason the deviating decision is accepted and its deviations recorded.
        view = await run.complete("assess.evaluate", reason="Familien ønsker ikke anmeldelse nu")
        assert view.reason and len(view.deviations) == 2


async def test_complete_task_signal_records_the_same_mistakes_as_rejected(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    case = case_input(await env.get_current_time(), violation_types=[ViolationType.INTIMATE_IMAGES])
    async with running_case(env, records, task_queue, case) as run:
        await at_evaluation(run)
        wrong = await mistakes(run)
        for body, _ in wrong:
            await run.handle.signal("complete_task", body)
        await run.handle.signal("complete_task", "not even an object")
        await run.handle.signal("complete_task", {"task_key": ["a", "list"]})
        await run.handle.signal("press_inquiry", {"medium": ""})
        await run.env.sleep(TASK_WAIT)  # the case gives a named task this long to open
        snap = await run.wait_for(
            lambda s: sum(e.kind == EventKind.REJECTED for e in s.timeline) == len(wrong) + 3,
            "rejections",
        )
        rejected = [e for e in snap.timeline if e.kind == EventKind.REJECTED]
        # A message naming a task that is not open yet waits briefly for it (it may be opening
        # in the same activation), so its refusal can come after later ones.
        reasons = [event.reason or "" for event in rejected]
        for _, expected in wrong:
            assert any(expected in reason for reason in reasons), (expected, reasons)
        assert rejected[0].actor == TEACHER
        # The workflow is still running and the task still open: the right decision works.
        assert snap.status == "active"
        assert "assess.evaluate" in {t.key for t in snap.open_tasks}
        await run.handle.signal(
            "complete_task",
            completion(
                "assess.evaluate",
                decision("assess.evaluate", await run.now(), route="police", underretning=True),
            ),
        )
        await run.wait_open("assess.involve_leadership")
        # The rejections are in the store's timeline too.
        await eventually(
            lambda: records.list_events(run.handle.id),
            lambda events: sum(e.kind == "rejected" for e in events) == len(wrong) + 3,
            f"{len(wrong) + 3} rejections in the recorded timeline",
        )


async def test_leadership_cannot_complete_the_personal_underretning_duty(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    case = case_input(await env.get_current_time(), offender_age=13)
    async with running_case(env, records, task_queue, case) as run:
        await run.complete("assess.uncover")
        await run.complete("assess.evaluate", underretning=True, ssp=True)
        await run.wait_open("report.underretning")
        body = completion(
            "report.underretning", decision("report.underretning", await run.now()), actor=LEADER
        )
        with pytest.raises(WorkflowUpdateFailedError) as exc:
            await run.handle.execute_update(DigitalViolationCase.submit_task, body)
        assert "rollen 'case_owner'" in str(exc.value.cause)


async def test_a_signal_carrying_an_image_is_rejected_without_storing_it(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    import base64

    blob = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2).decode()
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await run.wait_open("assess.uncover")
        await run.handle.signal(
            "add_note",
            {"author": TEACHER.model_dump(mode="json"), "text": f"data:image/png;base64,{blob}"},
        )
        await run.handle.signal(
            "complete_task",
            completion(f"assess.uncover{blob}", decision("assess.uncover", await run.now())),
        )
        await run.handle.signal(
            "complete_task",
            completion("assess.uncover", decision("assess.uncover", await run.now(), where=blob)),
        )
        snap = await run.wait_for(
            lambda s: sum(e.kind == EventKind.REJECTED for e in s.timeline) == 3, "rejections"
        )
        rejected = [e for e in snap.timeline if e.kind == EventKind.REJECTED]
        assert "Gem aldrig materiale" in (rejected[0].reason or "")
        assert "decision.assess.uncover.where" in (rejected[2].reason or "")
        assert all(blob[:32] not in e.model_dump_json() for e in snap.timeline)
        events = await eventually(  # the store follows the workflow's timeline shortly after
            lambda: records.list_events(run.handle.id),
            lambda events: sum(e.kind == "rejected" for e in events) == 3,
            "3 rejections in the recorded timeline",
        )
        assert all(blob[:32] not in (e.text + (e.reason or "")) for e in events)
        assert snap.status == "active" and "assess.uncover" in {t.key for t in snap.open_tasks}
