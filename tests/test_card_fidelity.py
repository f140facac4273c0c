"""Issue 13, "the card, the law and a case worker's day": each finding as a whole case on the
real time-skipping server (fake activities, tests/fakes.py), failing on the code before it.

The texts staff work from: the card's contacts on the tasks of the school's staff, what a
journalist asked, and the drafted note in Danish throughout.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from procedure import calendar
from procedure.loader import load_procedure, load_spec
from schemas.common import StaffRole, ViolationType
from tests.casekit import LEADER, CaseRun, case_input, running_case, save_history
from tests.fakes import MemoryRecords
from tests.test_case_workflow import through_assessment

CARD = load_spec()
CPH = ZoneInfo("Europe/Copenhagen")


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
        await run.inform_custody()
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


async def to_treat(run: CaseRun) -> None:
    """The internal route through assessment, documentation and stop/report."""
    await through_assessment(run)
    await documented_and_stopped(run)


async def documented_and_stopped(run: CaseRun) -> None:
    """From the end of assessment on the internal route to the treatment phase."""
    await run.wait_phase("document")
    await run.complete_all("document.preserve", "document.note")
    await run.wait_phase("stop_report")
    await run.complete_all("stop.cooperate", "stop.action_plan", "report.insurance")
    await run.wait_phase("treat")


async def test_the_evaluation_comes_after_the_help_and_its_timer_counts_from_then(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 8: the evaluation looks back on the help given, so it does not open while the
    treat tasks are still open; its four weeks count from when they are done."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await to_treat(run)
        await run.wait_for(lambda s: len(s.open_tasks) == 2, "the treat tasks")
        await env.sleep(timedelta(weeks=4, days=2))
        snap = await run.snapshot()
        assert "close.evaluate" not in {t.key for t in snap.open_tasks}
        assert snap.phase == "treat" and snap.next_timer is None

        await run.complete_all("treat.help", "treat.surroundings")
        helped = max(t.completed_at for t in (await run.snapshot()).done_tasks if t.completed_at)
        timer = (
            await run.wait_for(lambda s: s.next_timer is not None, "the evaluation timer")
        ).next_timer
        assert timer is not None and timer.what == "Evaluering"
        assert timer.at == calendar.offset_after(helped, CARD.timers.evaluation_after, CPH)


async def test_follow_ups_fall_on_working_days(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 8: two weeks after an evaluation done on a Saturday is a Saturday; the
    follow-up comes the next working day instead, at the same time of day."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await to_treat(run)
        await run.complete_all("treat.help", "treat.surroundings")
        timer = (
            await run.wait_for(
                lambda s: s.next_timer is not None and s.next_timer.what == "Evaluering",
                "the evaluation timer",
            )
        ).next_timer
        assert timer is not None
        await env.sleep(timer.at - await run.now() + timedelta(minutes=1))
        evaluation = await run.wait_open("close.evaluate")
        local = evaluation.opened_at.astimezone(CPH)
        saturday = (local + timedelta(days=(5 - local.weekday()) % 7 or 7)).replace(
            hour=11, minute=0, second=0, microsecond=0
        )
        await env.sleep(saturday - await run.now())
        done = await run.complete("close.evaluate")
        assert done.completed_at is not None
        assert done.completed_at.astimezone(CPH).weekday() == 5

        timer = (
            await run.wait_for(
                lambda s: s.next_timer is not None and s.next_timer.what == "Opfølgning 1",
                "the first follow-up's timer",
            )
        ).next_timer
        assert timer is not None
        at = timer.at.astimezone(CPH)
        dk = holidays.country_holidays("DK", years=[at.year])
        assert at.weekday() < 5 and at.date() not in dk, at
        two_weeks = done.completed_at.astimezone(CPH) + timedelta(weeks=2)
        assert at.date() > two_weeks.date() and at.time() == two_weeks.time()
        assert (at.date() - two_weeks.date()).days <= 4  # the next working day, not later

        # A new incident while the follow-ups wait re-opens assessment; their timer is gone.
        await run.new_incident("Nye billeder af P1 deles", LEADER)
        snap = await run.wait_for(lambda s: s.round == 2 and s.phase == "assess", "round 2")
        assert snap.next_timer is None
        assert "assess.uncover" in {t.key for t in snap.open_tasks}
        await save_history(run.handle, "follow_up_on_a_working_day_then_reopened")


async def test_the_action_plan_is_open_from_the_start_with_its_deadline(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 9: the written action plan (undervisningsmiljøloven § 1 c) is due 10 working
    days after the school learned of the case, so leadership sees it from the first day, not
    only once the stop phase begins; the stop phase still waits for it."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        plan = await run.wait_open("stop.action_plan")
        assert (await run.snapshot()).phase == "assess"
        row = await run.wait_inbox(plan.task_id)
        assert row.role == StaffRole.LEADERSHIP
        assert row.due_at == calendar.deadline_after(
            case.reported_at,
            CARD.tasks["stop.action_plan"].deadline,
            records_non_working(case.reported_at.year),
            CPH,
        )
        await through_assessment(run)
        await run.wait_phase("document")
        await run.complete_all("document.preserve", "document.note")
        await run.wait_phase("stop_report")
        await run.complete_all("stop.cooperate", "report.insurance")
        await env.sleep(timedelta(hours=1))
        assert (await run.snapshot()).phase == "stop_report"  # the plan is still to be made
        await run.complete("stop.action_plan")
        await run.wait_phase("treat")
        ids = [t.task_id for t in (await run.snapshot()).done_tasks if t.key == "stop.action_plan"]
        assert ids == ["stop.action_plan"]  # one plan, not a second one in the stop phase
        await save_history(run.handle, "action_plan_from_the_start")


def records_non_working(year: int) -> list[date]:
    return load_procedure(year).non_working_days


async def test_help_not_given_needs_a_reason_and_is_recorded(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 5: TK not contacted (for sparring, or about help) and no help for the victim or
    a known offender are departures from the card: refused without a reason, recorded with one.
    """
    case = case_input(await env.get_current_time())
    assert case.offender_known
    async with running_case(env, records, task_queue, case) as run:
        await run.inform_custody()
        await run.complete_all("assess.uncover", "assess.evaluate")
        await run.complete("assess.involve_leadership")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.complete("assess.involve_tk", tk_contacted=False)
        assert "Tryghed og Kriminalitetsforebyggelse" in str(refused.value.cause)
        sparring = await run.complete(
            "assess.involve_tk", reason="TK er ikke nået; ringer igen i morgen", tk_contacted=False
        )
        assert sparring.deviations and sparring.reason

        await documented_and_stopped(run)
        for lacking in (
            {"tk_contacted": False, "victim_help": ["tk"], "offender_help": ["tk"]},
            {"tk_contacted": True, "victim_help": [], "offender_help": ["tk"]},
            {"tk_contacted": True, "victim_help": ["tk"], "offender_help": []},
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await run.complete("treat.help", **lacking)
            assert "reason" in str(refused.value.cause), lacking
        helped = await run.complete(
            "treat.help",
            reason="P2's familie har selv fundet en psykolog",
            tk_contacted=True,
            victim_help=["tk", "psychologist"],
            offender_help=[],
        )
        assert any("P2" in deviation for deviation in helped.deviations), helped.deviations
        await save_history(run.handle, "help_not_given_with_reasons")


async def test_an_underretning_cannot_be_sent_in_the_future_or_before_the_case(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 3: `submitted_at` six months ahead moved the receipt check six months ahead; a
    receipt cannot come before the underretning either. Refused, nothing recorded."""
    case = case_input(await env.get_current_time(), violation_types=[ViolationType.INTIMATE_IMAGES])
    async with running_case(env, records, task_queue, case) as run:
        await run.inform_custody()
        await run.complete("assess.uncover", sexual_material_of_minor=True)
        await run.complete("assess.evaluate", route="police", underretning=True, severity="high")
        await run.wait_open("report.underretning")
        now = await run.now()
        for moment, words in (
            (now + timedelta(days=180), "fremtiden"),
            (case.reported_at - timedelta(days=1), "før skolen fik kendskab"),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await run.complete("report.underretning", submitted_at=moment.isoformat())
            assert words in str(refused.value.cause), str(refused.value.cause)
        assert "report.underretning" in {t.key for t in (await run.snapshot()).open_tasks}
        sent = now
        await run.complete("report.underretning", submitted_at=sent.isoformat())
        await run.wait_open("report.underretning_receipt")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.complete(
                "report.underretning_receipt",
                received_at=(sent - timedelta(minutes=5)).isoformat(),
            )
        assert "før underretningen" in str(refused.value.cause), str(refused.value.cause)
        await run.complete("report.underretning_receipt", received_at=(await run.now()).isoformat())
        await save_history(run.handle, "underretning_times_checked")


def end_of_day(moment: datetime) -> datetime:
    """23:59 Copenhagen time of the moment's day, or of the next working day if it is not one."""
    local = moment.astimezone(CPH)
    day = local.date()
    dk = holidays.country_holidays("DK", years=[day.year, day.year + 1])
    while day.weekday() >= 5 or day in dk:
        day += timedelta(days=1)
    return datetime.combine(day, time(23, 59), tzinfo=CPH)


async def test_the_underretning_opens_when_the_facts_call_for_it_and_is_due_that_day(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 3: Barnets lov § 133's "straks". Shared intimate images of a minor call for an
    underretning from the moment the case is opened: the task opens then, not after the
    evaluation, and is due at the end of that working day, with no reminder before."""
    case = case_input(await env.get_current_time(), violation_types=[ViolationType.INTIMATE_IMAGES])
    async with running_case(env, records, task_queue, case) as run:
        task = await run.wait_open("report.underretning")
        snap = await run.snapshot()
        assert snap.phase == "assess"
        assert "assess.uncover" in {t.key for t in snap.open_tasks}  # before anything is done
        assert task.due_at == end_of_day(task.opened_at)
        await env.sleep(timedelta(minutes=30))
        reminded = [
            o for o in records.outbox.values() if o.task_id == task.task_id and o.kind == "reminder"
        ]
        assert reminded == []
        await run.complete("report.underretning")
        await run.wait_open("report.underretning_receipt")
        await save_history(run.handle, "underretning_at_opening")


async def test_an_uncovered_fact_opens_the_underretning_before_the_evaluation(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 3: harassment, an offender of 15: nothing calls for an underretning at opening;
    once uncovering finds sexual material of a minor, it does, before the evaluation. An
    evaluation that then decides against it (with a reason) withdraws the task."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await run.inform_custody()
        assert "report.underretning" not in {t.key for t in (await run.snapshot()).open_tasks}
        await run.complete("assess.uncover", sexual_material_of_minor=True)
        task = await run.wait_open("report.underretning")
        assert "assess.evaluate" in {t.key for t in (await run.snapshot()).open_tasks}
        await run.complete(
            "assess.evaluate",
            reason="Billedet viste sig at være af en voksen; ingen bekymring for barnet",
            route="internal",
            underretning=False,
        )
        snap = await run.wait_for(
            lambda s: task.task_id not in {t.task_id for t in s.open_tasks}, "the task withdrawn"
        )
        [closed] = [t for t in snap.done_tasks if t.task_id == task.task_id]
        assert closed.status == "withdrawn"
        await run.complete_all("assess.involve_leadership", "assess.involve_tk")
        await run.wait_phase("document")
        await save_history(run.handle, "underretning_after_uncover_withdrawn")


async def test_task_ids_are_numbered_per_round(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 8: in round two a task is `<key>-r2` (its second of the round `<key>-r2-2`),
    so staff can tell from the id which round a task belongs to; round one keeps `<key>`,
    `<key>-2`, as before."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await through_assessment(run)
        await run.wait_phase("document")
        await run.new_incident("Nye beskeder om P1 i klassegruppen", LEADER)
        await run.wait_for(lambda s: s.round == 2, "round 2")
        again = await run.wait_open("assess.uncover")
        assert again.task_id == "assess.uncover-r2", again.task_id
        plan = await run.wait_open("stop.action_plan")
        assert plan.task_id == "stop.action_plan-r2", plan.task_id
        row = await run.wait_inbox("assess.uncover-r2")
        assert row.key == "assess.uncover"
        await run.complete("assess.uncover")
        evaluate = await run.wait_open("assess.evaluate")
        assert evaluate.task_id == "assess.evaluate-r2"
        await save_history(run.handle, "task_ids_per_round")


async def to_police_stop(run: CaseRun, **uncover: object) -> None:
    await run.inform_custody()
    await run.complete("assess.uncover", **uncover)
    await run.complete(
        "assess.evaluate", route="police", severity="high", reason="Politiet skal ind i sagen"
    )
    await run.complete_all("assess.involve_leadership", "assess.involve_tk")
    await run.wait_phase("document")
    await run.complete_all("document.preserve", "document.note")
    await run.wait_phase("stop_report")


async def test_when_the_police_do_not_take_over_the_school_stops_it_itself(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 2: the police route's fallback. The police not taking over leaves the school's
    own stop step (cooperation, deletion, measures toward the class) to be done."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await to_police_stop(run)
        assert "stop.cooperate" not in {t.key for t in (await run.snapshot()).open_tasks}
        await run.complete("stop.police_handover", police_took_over=False)
        cooperate = await run.wait_open("stop.cooperate")
        assert cooperate.round == 1
        await run.complete_all("stop.action_plan", "report.insurance", "report.police")
        await env.sleep(timedelta(minutes=10))
        assert (await run.snapshot()).phase == "stop_report"  # the school's stop step is due
        await run.complete("stop.cooperate")
        await run.wait_phase("treat")
        await save_history(run.handle, "police_did_not_take_over")


async def test_material_shared_among_pupils_is_deleted_on_the_police_route_too(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 2: material forwarded among pupils is deleted and the class is dealt with on
    every route, beside the police's work."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await to_police_stop(run, material_shared=True)
        await run.wait_for(
            lambda s: {"stop.police_handover", "stop.cooperate"} <= {t.key for t in s.open_tasks},
            "the handover and the school's own stop step",
        )


async def test_the_family_hears_of_the_police_report_on_the_internal_route_too(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 2: on the internal route the family is still told it may report to the police
    itself, beside the insurance guidance."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await through_assessment(run)
        await run.wait_phase("document")
        await run.complete_all("document.preserve", "document.note")
        insurance = await run.wait_open("report.insurance")
        guidance = (await run.wait_inbox(insurance.task_id)).guidance
        assert "forsikring" in guidance
        assert "politi.dk/anmeld" in guidance and "114" in guidance, guidance


async def test_every_childs_custody_holders_have_a_task_of_their_own_each_round(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 4: one task per child — the victim's and the known offender's custody holders,
    each (different families, often told by different people at different times). A task says
    whose; leaving that child out needs a reason. A new incident asks every family again."""
    case = case_input(await env.get_current_time())
    children = [p.pseudonym for p in case.victims()] + [p.pseudonym for p in case.offenders()]
    assert children == ["P1", "P2"]
    async with running_case(env, records, task_queue, case) as run:
        snapshot = await run.wait_for(
            lambda s: sum(t.key == "assess.involve_custody" for t in s.open_tasks) == 2,
            "a custody task for each child",
        )
        custody = {
            t.participant: t for t in snapshot.open_tasks if t.key == "assess.involve_custody"
        }
        assert set(custody) == {"P1", "P2"}
        offender = custody["P2"]
        assert offender.title.endswith("(P2)")
        guidance = (await run.wait_inbox(offender.task_id)).guidance
        assert "forældremyndighedsindehaverne til P2 (krænker)" in guidance, guidance
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.complete("assess.involve_custody", view=offender, for_participants=["P1"])
        assert "til P2 er ikke inddraget" in str(refused.value.cause), str(refused.value.cause)
        informed = await run.complete(
            "assess.involve_custody", view=offender, for_participants=["P2"]
        )
        assert not informed.deviations
        await run.complete("assess.involve_custody", view=custody["P1"], for_participants=["P1"])
        await through_assessment_after_custody(run)
        await run.wait_phase("document")
        await run.new_incident("P2 har delt nye billeder af P1", LEADER)
        again = await run.wait_for(
            lambda s: (
                s.round == 2 and sum(t.key == "assess.involve_custody" for t in s.open_tasks) == 2
            ),
            "round 2 with a custody task for each child",
        )
        assert sorted(
            (t.task_id, t.participant)
            for t in again.open_tasks
            if t.key == "assess.involve_custody"
        ) == [("assess.involve_custody-r2", "P1"), ("assess.involve_custody-r2-2", "P2")]
        await save_history(run.handle, "custody_per_child_each_round")


async def through_assessment_after_custody(run: CaseRun) -> None:
    await run.complete_all(
        "assess.uncover", "assess.evaluate", "assess.involve_leadership", "assess.involve_tk"
    )


async def test_a_departure_from_the_recommendation_in_either_direction_needs_a_reason(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 1: harassment by a 15-year-old recommends neither a police report, an
    underretning nor SSP; choosing them is a departure too: refused without a reason, and
    recorded with one."""
    case = case_input(await env.get_current_time())
    async with running_case(env, records, task_queue, case) as run:
        await run.inform_custody()
        await run.complete_all("assess.uncover")
        advice = (await run.snapshot()).recommendation
        assert advice is not None
        assert not (advice.police_report or advice.underretning or advice.ssp)
        for chosen, words in (
            ({"route": "police"}, "Politianmeldelse er ikke anbefalet"),
            ({"underretning": True}, "Underretning er ikke anbefalet"),
            ({"ssp": True}, "SSP er ikke anbefalet"),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await run.complete("assess.evaluate", **chosen)
            assert words in str(refused.value.cause), str(refused.value.cause)
        evaluated = await run.complete(
            "assess.evaluate",
            reason="Truslerne fortsætter uden for skolen; politiet skal ind over",
            route="police",
        )
        assert evaluated.deviations == [
            "Politianmeldelse er ikke anbefalet, men sagen går til politiet."
        ]
        await save_history(run.handle, "police_route_not_recommended_with_reason")


async def test_threats_by_a_13_year_old_advise_the_polices_help_instead_of_a_report(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 1: no police report beside "kan ikke straffes (§ 15)". The advice is the
    police's help (a bekymringssamtale, removal of material), SSP and an underretning; the
    school's cooperation includes the police, or says why not."""
    case = case_input(
        await env.get_current_time(), offender_age=13, violation_types=[ViolationType.THREATS]
    )
    async with running_case(env, records, task_queue, case) as run:
        await run.inform_custody()
        await run.complete_all("assess.uncover")
        snapshot = await run.snapshot()
        advice = snapshot.recommendation
        assert advice is not None and not advice.police_report
        assert advice.police_advice and advice.ssp and advice.underretning
        [event] = [e for e in snapshot.timeline if e.kind == "recommendation"]
        assert "politianmeldelse" not in event.text.lower(), event.text
        assert event.reason and "§ 15" in event.reason and "§ 266" in event.reason
        assert "bekymringssamtale" in event.reason and "anbefales:" not in event.reason
        followed = await run.complete("assess.evaluate", underretning=True, ssp=True)
        assert followed.deviations == []
        await run.complete_all("assess.involve_leadership", "assess.involve_tk")
        await run.wait_phase("document")
        await run.complete_all("document.preserve", "document.note")
        cooperate = await run.wait_open("stop.cooperate")
        guidance = (await run.wait_inbox(cooperate.task_id)).guidance
        assert "bekymringssamtale" in guidance and "SSP" in guidance, guidance
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.complete("stop.cooperate", actors=["parents", "ssp_teacher"])
        assert "politiet indgår ikke" in str(refused.value.cause)
        await run.complete("stop.cooperate", actors=["parents", "ssp_teacher", "local_police"])
        await save_history(run.handle, "young_offender_police_advice")


async def to_police_report(run: CaseRun, **evaluation: object) -> None:
    """Threats by a 16-year-old (a police report is advised) to the stop/report phase."""
    await run.inform_custody()
    await run.complete_all("assess.uncover")
    await run.complete("assess.evaluate", route="police", severity="high", **evaluation)
    await run.complete_all("assess.involve_leadership", "assess.involve_tk")
    await run.wait_phase("document")
    await run.complete_all("document.preserve", "document.note")
    await run.wait_phase("stop_report")


async def test_without_a_filed_report_the_school_stops_it_itself(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 2: `report.police` with `filed: "unknown"` is not accepted silently: the police
    act on a report, so the school's own cooperation opens, saying why."""
    case = case_input(
        await env.get_current_time(), offender_age=16, violation_types=[ViolationType.THREATS]
    )
    async with running_case(env, records, task_queue, case) as run:
        await to_police_report(run)
        open_keys = {t.key for t in (await run.snapshot()).open_tasks}
        assert {"stop.police_handover", "report.police"} <= open_keys
        assert "stop.cooperate" not in open_keys
        await run.complete("report.police", filed="unknown")
        cooperate = await run.wait_open("stop.cooperate")
        guidance = (await run.wait_inbox(cooperate.task_id)).guidance
        assert "Det vides ikke, om familien har anmeldt" in guidance, guidance
        await run.complete_all("stop.police_handover", "stop.action_plan", "report.insurance")
        await env.sleep(timedelta(minutes=10))
        assert (await run.snapshot()).phase == "stop_report"
        await run.complete("stop.cooperate")
        await run.wait_phase("treat")
        await save_history(run.handle, "police_report_not_known_school_cooperates")


async def test_ssp_chosen_opens_the_ssp_cooperation_on_the_police_route(
    env: WorkflowEnvironment, records: MemoryRecords, task_queue: str
) -> None:
    """Finding 2: SSP chosen in the evaluation has an effect: the cooperation opens beside the
    police's work and must include SSP (or say why not)."""
    case = case_input(
        await env.get_current_time(), offender_age=16, violation_types=[ViolationType.THREATS]
    )
    async with running_case(env, records, task_queue, case) as run:
        await to_police_report(run, ssp=True, reason="P2 er i SSP's netværk i forvejen")
        cooperate = await run.wait_open("stop.cooperate")
        guidance = (await run.wait_inbox(cooperate.task_id)).guidance
        assert "SSP er valgt" in guidance, guidance
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.complete("stop.cooperate", actors=["parents", "students"])
        assert "SSP er valgt i vurderingen" in str(refused.value.cause)
        done = await run.complete("stop.cooperate", actors=["parents", "ssp_consultant"])
        assert done.deviations == []
        await save_history(run.handle, "ssp_cooperation_on_the_police_route")
