"""Issue 13, "the card, the law and a case worker's day": each finding as a whole case on the
real time-skipping server (fake activities, tests/fakes.py), failing on the code before it.

The texts staff work from: the card's contacts on the tasks of the school's staff, what a
journalist asked, and the drafted note in Danish throughout.
"""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from procedure.loader import load_spec
from schemas.common import StaffRole
from tests.casekit import LEADER, case_input, running_case
from tests.fakes import MemoryRecords
from tests.test_case_workflow import through_assessment

CARD = load_spec()


def card_contact_lines() -> list[str]:
    """What the card's "ER DU FORTSAT I TVIVL, SÅ KONTAKT" gives: TK and the consultant."""
    tk, consultant = CARD.contacts.tk, CARD.contacts.consultant
    return [tk.name, tk.phone, tk.mail, consultant.name, consultant.phone, consultant.mail]


async def test_the_school_staffs_tasks_carry_the_cards_contacts(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 6: the TK phone and mail and the consultant reach the tasks where the work is
    done (the inbox row's guidance, which the API's task view and the CLI show)."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await run.complete("assess.involve_custody")
        uncover = await run.wait_inbox("assess.uncover")
        await run.complete("assess.uncover")
        await run.complete("assess.evaluate")
        leadership = await run.wait_inbox("assess.involve_leadership")
        for row in (uncover, leadership):
            assert row.role in (StaffRole.CASE_OWNER, StaffRole.LEADERSHIP)
            assert "Er du fortsat i tvivl" in row.guidance, row.guidance
            for line in card_contact_lines():
                assert line in row.guidance, (row.task_id, line)


async def test_a_press_inquirys_question_reaches_communications_and_the_timeline(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 7: what the journalist asked is kept, for communications to answer."""
    asked = "Spørger til skolens håndtering af delte billeder i 7.b"
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await through_assessment(run)
        await run.handle.signal(
            "press_inquiry",
            {
                "received_by": LEADER.model_dump(mode="json"),
                "medium": "Lokalavisen",
                "summary": asked,
            },
        )
        press = await run.wait_open("treat.press")
        row = await run.wait_inbox(press.task_id)
        assert row.role == StaffRole.COMMUNICATIONS
        assert asked in row.guidance and "Lokalavisen" in row.guidance
        snapshot = await run.snapshot()
        [event] = [e for e in snapshot.timeline if e.kind == "press_inquiry"]
        assert asked in event.text


async def test_the_drafted_note_is_danish_throughout(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 9: the note's evidence lines say "skærmbillede, opbevares af familien", not the
    contract's English values ("screenshot, opbevares af family")."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await through_assessment(run)
        await run.wait_phase("document")
        await run.complete("document.preserve")
        note = await run.wait_open("document.note")
        guidance = (await run.wait_inbox(note.task_id)).guidance
        assert "Skærmbillede, opbevares af familien" in guidance, guidance
        for english in ("screenshot", "family", "police", "victim", "harassment"):
            assert english not in guidance.lower(), english
        await run.complete("document.note")
        await run.wait_phase("stop_report")
