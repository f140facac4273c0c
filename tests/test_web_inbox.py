"""Issue 16: staff take a case from opening to closing in the browser, each signed in as
themselves, on the same rules and the same access log as the API; the small forms on a case
act through the API and refuse in Danish beside the field; accessible on every page.

Real Chromium (Debian's) on a real platform: the Temporal dev server, a worker, the API with
the inbox and a SQLite store; the demo card, whose timers run in seconds.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from api.web.forms import TIMEZONE
from tests.apikit import LEADER, OTHER_TEACHER, TEACHER, ApiPlatform, new_case_body
from tests.webkit import (  # noqa: F401 - the module's fixtures
    TITLES,
    Inspector,
    browser,
    entries,
    fill,
    inspector,
    open_task,
    person,
    reload_until,
    tab_to,
    web_platform,
)


def now_local() -> str:
    """Now, as the browser's date-and-time field holds it: Copenhagen time."""
    return datetime.now(UTC).astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M")


async def complete(
    page: Page, case_url: str, key: str, values: dict[str, Any], reason: str | None = None
) -> None:
    await open_task(page, case_url, TITLES[key])
    await fill(page, values)
    if reason is not None:
        await page.fill("textarea[name='reason']", reason)
    await page.get_by_role("button", name="Udfør opgave").click()
    await expect(page.get_by_role("status")).to_have_text("Opgaven er udført.")


@pytest.mark.slow
async def test_three_people_take_a_case_from_opening_to_closing_in_the_browser(
    web_platform: ApiPlatform,  # noqa: F811
    browser: Browser,  # noqa: F811
    inspector: Inspector,  # noqa: F811
) -> None:
    platform = web_platform
    case_number = f"WEB-{uuid.uuid4().hex[:6].upper()}"
    case_url = f"{platform.url}/sager/{case_number}"
    signin = await browser.new_page()
    await signin.goto(f"{platform.url}/log-ind")
    await inspector.check(signin, "signin")
    await signin.close()
    teacher = await person(browser, platform, "lhj")

    # The teacher opens the case: pseudonyms P1, P2; the names go to the store only.
    await teacher.get_by_role("link", name="Opret sag").click()
    await inspector.check(teacher, "new-case")
    await fill(
        teacher,
        {
            "case_number": case_number,
            "reported_at": now_local(),
            "violation_types": ["harassment"],
            "offender_known": True,
            "participants-0-role": "victim",
            "participants-0-age": "14",
            "participants-0-name": "Astrid Testesen",
            "participants-1-role": "offender",
            "participants-1-age": "15",
            "participants-1-name": "Bertram Prøvesen",
            "procedure_version": "demo",
        },
    )
    await teacher.check("input[name='participants-0-same_school']")
    await teacher.check("input[name='participants-1-same_school']")
    await teacher.get_by_role("button", name="Opret sag").click()
    await expect(teacher.get_by_role("status")).to_have_text(f"Sag {case_number} er oprettet.")
    await expect(teacher.get_by_role("heading", level=1)).to_have_text(f"Sag {case_number}")
    body = await teacher.inner_text("main")
    assert "Astrid" not in body and "Bertram" not in body  # pseudonyms only on the case page
    current = teacher.locator(".path [aria-current=step]")
    await expect(current).to_have_text(re.compile("Vurder"))
    await expect(teacher.get_by_text("ER DU FORTSAT I TVIVL, SÅ KONTAKT")).to_be_visible()

    # Mine opgaver: the case's tasks, with the case number, the step and the deadline.
    await teacher.get_by_role("link", name="Mine opgaver").click()
    mine = teacher.locator("li.task", has_text=TITLES["assess.uncover"])
    await expect(mine).to_contain_text(case_number)
    await expect(mine).to_contain_text("Trin: Vurder")
    await expect(mine).to_contain_text("Frist:")
    await inspector.check(teacher, "inbox")

    await open_task(teacher, case_url, TITLES["assess.uncover"])
    await fill(
        teacher,
        {
            "what": "P2 har skrevet krænkende beskeder om P1 i klassens gruppe",
            "where": "Snapchat, klassegruppe 7.b",
            "involved": "P1, P2",
            "sexual_material_of_minor": False,
            "material_online": False,
            "material_shared": False,
        },
    )
    await teacher.get_by_role("button", name="Udfør opgave").click()
    await expect(teacher.get_by_role("status")).to_have_text("Opgaven er udført.")

    # The evaluation: the recommendation and its legal basis; choosing SSP, which was not
    # recommended, makes the reason field appear.
    await open_task(teacher, case_url, TITLES["assess.evaluate"])
    await expect(teacher.get_by_role("heading", name="Systemets anbefaling")).to_be_visible()
    await expect(teacher.get_by_role("heading", name="Retsgrundlag")).to_be_visible()
    reason = teacher.locator("[data-reason]")
    await fill(
        teacher, {"severity": "medium", "route": "internal", "underretning": False, "ssp": False}
    )
    await expect(reason).to_be_hidden()
    await fill(teacher, {"ssp": True})
    await expect(reason).to_be_visible()
    await inspector.check(teacher, "task-evaluate")
    await teacher.fill("textarea[name='reason']", "Klassen har brug for SSP-lærerens oplæg")
    await teacher.get_by_role("button", name="Udfør opgave").click()
    await expect(teacher.get_by_role("status")).to_have_text("Opgaven er udført.")
    await complete(teacher, case_url, "assess.involve_tk", {"tk_contacted": True})

    # The school leader, signed in as themselves.
    leader = await person(browser, platform, "skoleleder1")
    await complete(leader, case_url, "assess.involve_leadership", {"course_agreed": True})
    for _child in ("P1", "P2"):
        await complete(
            leader,
            case_url,
            "assess.involve_custody",
            {"custody_holders_informed": True, "for_participants": "P1, P2"},
        )

    # A journalist calls: the leader registers it; communications handles it seeing only the
    # press view, never the case.
    await leader.goto(case_url)
    await leader.get_by_text("Registrer en pressehenvendelse").click()
    await fill(leader, {"press-medium": "Lokalavisen", "press-summary": "Spørger til sagen"})
    await leader.get_by_role("button", name="Registrer henvendelsen").click()
    await expect(leader.get_by_role("status")).to_contain_text("Pressehenvendelsen er registreret")
    comms = await person(browser, platform, "komm1")
    await expect(comms.get_by_role("link", name="Sager")).to_have_count(0)
    await comms.goto(case_url)
    await expect(comms.get_by_role("heading", level=1)).to_have_text(f"Presse – sag {case_number}")
    assert "Tidslinje" not in await comms.inner_text("main")
    await inspector.check(comms, "press")
    await open_task(comms, case_url, TITLES["treat.press"])
    await inspector.check(comms, "task-press")
    await fill(comms, {"statement": "declined"})
    await comms.get_by_role("button", name="Udfør opgave").click()
    await expect(comms.get_by_role("status")).to_have_text("Opgaven er udført.")

    # The TK worker reads the case and adds the advice from the sparring, by keyboard alone.
    tk = await person(browser, platform, "tk1")
    await tk.get_by_role("link", name="Sager").click()
    await expect(tk.get_by_role("link", name=f"Sag {case_number}")).to_be_visible()
    await inspector.check(tk, "cases")
    await tk.goto(case_url)
    await tab_to(tk, "Tilføj en bemærkning")
    await tk.keyboard.press("Enter")
    await tab_to(tk, "Bemærkning")
    await tk.keyboard.type("TK: sparring givet; oplæg for årgangen anbefales")
    await tab_to(tk, "Tilføj bemærkning")
    await tk.keyboard.press("Enter")
    await expect(tk.get_by_role("status")).to_have_text("Bemærkningen er sendt til sagen.")
    await expect(tk.locator(".timeline")).to_contain_text("TK: sparring givet", timeout=15_000)

    # A wrong decision: the card's rule beside its field, in Danish; nothing recorded.
    await open_task(teacher, case_url, TITLES["document.preserve"])
    await fill(
        teacher,
        {
            "evidence-0-kind": "screenshot",
            "evidence-0-held_by": "family",
            "evidence-0-secured_at": now_local(),
            "evidence-0-usernames_noted": True,
            "evidence-0-times_noted": True,
            "staff_devices_clear": False,
        },
    )
    await teacher.get_by_role("button", name="Udfør opgave").click()
    beside = teacher.locator(".field.has-error", has=teacher.locator("[name=staff_devices_clear]"))
    await expect(beside.locator(".error")).to_contain_text(
        "Gem aldrig materiale fra sagen på egen telefon"
    )
    await expect(teacher.locator(".error-summary")).to_be_visible()
    await inspector.check(teacher, "task-refused")
    await teacher.goto(case_url)
    await expect(teacher.get_by_role("link", name=TITLES["document.preserve"])).to_be_visible()
    await complete(
        teacher,
        case_url,
        "document.preserve",
        {
            "evidence-0-kind": "screenshot",
            "evidence-0-held_by": "family",
            "evidence-0-secured_at": now_local(),
            "evidence-0-usernames_noted": True,
            "evidence-0-times_noted": True,
            "staff_devices_clear": True,
        },
    )
    await complete(
        teacher,
        case_url,
        "document.note",
        {"text": "P2 skrev krænkende beskeder om P1 i klassegruppen 7.b (Snapchat)."},
    )
    await complete(
        teacher,
        case_url,
        "stop.cooperate",
        {
            "actors": ["parents", "students", "ssp_teacher"],
            "material_deleted": True,
            "further_measures": ["class_announcement"],
        },
    )
    await complete(
        leader, case_url, "stop.action_plan", {"plan_written": True, "summary": "Plan for 7.b"}
    )
    await complete(teacher, case_url, "report.insurance", {"guidance_given": True})
    await complete(
        teacher,
        case_url,
        "treat.help",
        {"tk_contacted": True, "victim_help": ["tk"], "offender_help": ["tk"]},
    )
    await complete(
        teacher,
        case_url,
        "treat.surroundings",
        {"inform_classmates": True, "inform_parents": True, "inform_school": False},
    )
    await complete(
        leader, case_url, "treat.same_school", {"measures": "Forskudte pauser og fast voksen"}
    )

    # The case page: the next timer (the evaluation, weeks later on the real card), and the
    # approved note, printable.
    await leader.goto(case_url)
    async with httpx.AsyncClient(base_url=platform.url) as http:
        snapshot = (await http.get(f"/api/v1/cases/{case_number}", headers=LEADER.headers)).json()
    due = datetime.fromisoformat(snapshot["next_timer"]["at"]).astimezone(TIMEZONE)
    await expect(leader.locator(".timer")).to_contain_text(f"Evaluering {due:%d.%m.%Y}")
    await inspector.check(leader, "case-treat")
    await leader.get_by_role("link", name=re.compile("Notat om forløbet")).click()
    await expect(leader.locator("body")).to_contain_text("P2 skrev krænkende beskeder")
    await inspector.check(leader, "note-printable")

    await complete(
        teacher,
        case_url,
        "close.evaluate",
        {
            "worked": "Hurtig inddragelse af forældre",
            "did_not_work": "Sen kontakt til TK",
            "family_asked": True,
            "note": "Evalueringsnotat.",
        },
    )
    await expect(teacher.locator(".path [aria-current=step]")).to_have_text(re.compile("Afslut"))
    await complete(
        teacher,
        case_url,
        "close.follow_up",
        {"rumours": False, "class_problems": False, "help_received": True, "outcome": "close"},
    )
    await teacher.goto(case_url)
    await expect(teacher.locator(".case-facts")).to_contain_text("afsluttet", timeout=15_000)

    # A teacher of another school: no trace of the case anywhere.
    other = await person(browser, platform, OTHER_TEACHER.id)
    assert case_number not in await other.inner_text("main")  # Mine opgaver
    await other.get_by_role("link", name="Sager").click()
    assert case_number not in await other.inner_text("main")
    answer = await other.goto(case_url)
    assert answer is not None and answer.status == 404
    shown = await other.inner_text("main")
    nowhere = await other.goto(f"{platform.url}/sager/WEB-NOWHERE")
    assert nowhere is not None and nowhere.status == 404
    assert shown.replace(case_number, "X") == (await other.inner_text("main")).replace(
        "WEB-NOWHERE", "X"
    )
    await inspector.check(other, "not-found")

    # The access log: the browser's reads and actions as the API's, by who did them.
    log = await entries(platform, case_number)
    done = {(e["actor_id"], e["action"], e["outcome"]) for e in log}
    assert ("lhj", "open_case", "allowed") in done
    assert ("lhj", "read_case", "allowed") in done
    assert ("lhj", "complete_task", "allowed") in done
    assert ("skoleleder1", "complete_task", "allowed") in done
    assert ("tk1", "add_note", "allowed") in done
    assert ("skoleleder1", "press_inquiry", "allowed") in done
    assert ("komm1", "read_press", "allowed") in done
    assert ("komm1", "complete_task", "allowed") in done
    assert ("laerer2", "read_case", "denied") in done
    assert all(e["purpose"] == "sagsbehandling" for e in log)
    # The refused decision never reached the case (invalid: refused before the API's log).
    preserve = [
        e
        for e in log
        if e["action"] == "complete_task" and "document.preserve" in (e["detail"] or "")
    ]
    assert len(preserve) == 1 and preserve[0]["outcome"] == "allowed"

    assert inspector.violations == [], "\n".join(inspector.violations)


@pytest.mark.slow
async def test_the_accessibility_check_sees_a_page_that_fails_it(
    browser: Browser,  # noqa: F811
    inspector: Inspector,  # noqa: F811
) -> None:
    """The check the pages pass is not blind: a field without a label and an image without a
    text, on a page without a language, are reported."""
    page = await browser.new_page()
    await page.set_content("<html><body><img src='data:,'><input type='text'></body></html>")
    before = len(inspector.violations)
    await inspector.check(page, "axe-self-test")
    found = inspector.violations[before:]
    del inspector.violations[before:]
    assert any("image-alt" in v for v in found) and any("label" in v for v in found), found


@pytest.mark.slow
async def test_the_small_forms_act_through_the_api_and_refuse_in_danish_beside_the_field(
    web_platform: ApiPlatform,  # noqa: F811
    browser: Browser,  # noqa: F811
    inspector: Inspector,  # noqa: F811
) -> None:
    platform = web_platform
    body = new_case_body()
    async with httpx.AsyncClient(base_url=platform.url) as http:
        opened = await http.post("/api/v1/cases", json=body, headers=TEACHER.headers)
        assert opened.status_code == 201, opened.text
    case_number = body["case_number"]
    case_url = f"{platform.url}/sager/{case_number}"
    teacher = await person(browser, platform, "lhj")

    # The same read, from the browser and from the API, is the same entry in the access log.
    await teacher.goto(case_url)
    async with httpx.AsyncClient(base_url=platform.url) as http:
        read = await http.get(f"/api/v1/cases/{case_number}", headers=TEACHER.headers)
        assert read.status_code == 200
    reads = [
        {k: v for k, v in e.items() if k != "at"}
        for e in await entries(platform, case_number)
        if e["action"] == "read_case" and e["actor_id"] == "lhj"
    ]
    assert len(reads) == 2 and reads[0] == reads[1], reads

    # A note with markup is shown as text, never run as markup.
    await teacher.get_by_text("Tilføj en bemærkning").click()
    await fill(teacher, {"note-text": "<img src=x onerror=alert(1)> P1 <b>græd</b>"})
    await teacher.get_by_role("button", name="Tilføj bemærkning").click()
    await expect(teacher.get_by_role("status")).to_have_text("Bemærkningen er sendt til sagen.")
    await reload_until(teacher, ".timeline", "græd")
    await expect(teacher.locator(".timeline")).to_contain_text("<img src=x onerror=alert(1)>")
    assert await teacher.locator(".timeline img, .timeline b").count() == 0

    # A note naming a child: refused beside the field, in Danish, naming the pseudonym.
    await teacher.get_by_text("Tilføj en bemærkning").click()
    await fill(teacher, {"note-text": "Astrid var ked af det i frikvarteret"})
    await teacher.get_by_role("button", name="Tilføj bemærkning").click()
    error = teacher.locator(".field.has-error .error")
    await expect(error).to_contain_text("P1")
    await expect(teacher.locator("#note-text")).to_have_value(
        "Astrid var ked af det i frikvarteret"
    )
    await inspector.check(teacher, "case-refused-note")
    # Evidence material pasted as text: the card's rule beside the field.
    picture = base64.b64encode(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 2).decode()
    await fill(teacher, {"note-text": f"Billedet: {picture}"})
    await teacher.get_by_role("button", name="Tilføj bemærkning").click()
    await expect(error).to_contain_text("Gem aldrig materiale")
    timeline = await teacher.inner_text(".timeline")
    assert "Astrid" not in timeline and picture[:40] not in timeline

    # Reassignment: the task goes to the class teacher, who finds it in their inbox.
    task = teacher.locator("li.task", has_text=TITLES["assess.uncover"])
    await task.get_by_text("Giv opgaven til en anden").click()
    await task.get_by_label("Medarbejder-id").fill("kontaktlaerer7b")
    await task.get_by_role("button", name="Giv videre").click()
    await expect(teacher.get_by_role("status")).to_have_text("Opgaven er givet videre.")
    class_teacher = await person(browser, platform, "kontaktlaerer7b")
    await reload_until(class_teacher, "main", case_number)
    await expect(class_teacher.locator("li.task", has_text=case_number).first).to_contain_text(
        TITLES["assess.uncover"]
    )

    # A form not sent by the inbox itself (no CSRF token, or another one) does nothing.
    forged = await teacher.request.post(
        f"{case_url}/handling/withdraw", form={"withdraw-reason": "Forfalsket"}
    )
    assert forged.status == 403
    assert "Formularen er udløbet" in await forged.text()
    uncover = teacher.locator("li.task", has_text=TITLES["assess.uncover"])
    task_id = (await uncover.get_by_role("link").first.get_attribute("href") or "").split("/")[-1]
    guessed = await teacher.request.post(
        f"{case_url}/opgaver/{task_id}",
        form={"csrf": "guessed-token", "task_key": "assess.uncover", "what": "Forfalsket"},
    )
    assert guessed.status == 403

    # A new incident refused (a child's name): the form comes back as it was sent, "Ja" too.
    await teacher.goto(case_url)
    await teacher.get_by_text("Registrer en ny hændelse").click()
    await fill(
        teacher,
        {"incident-description": "Bertram skrev igen", "incident-reopen_assessment": True},
    )
    await teacher.get_by_role("button", name="Registrer hændelsen").click()
    await expect(teacher.locator("#incident-description")).to_have_attribute("aria-invalid", "true")
    await expect(teacher.locator("#incident-description")).to_be_focused()
    await expect(
        teacher.locator("input[name='incident-reopen_assessment'][value='ja']")
    ).to_be_checked()

    # A new case with a wrong age in the second row (the first left empty): the refusal stands
    # beside that row's field, and no case is opened.
    await teacher.goto(f"{platform.url}/ny-sag")
    refused_number = f"{case_number}-X"
    await fill(
        teacher,
        {
            "case_number": refused_number,
            "violation_types": ["harassment"],
            "offender_known": False,
            "participants-1-role": "victim",
            "participants-1-age": "40",
            "participants-2-age": "13",  # a child whose role was left out
        },
    )
    await teacher.get_by_role("button", name="Opret sag").click()
    row = teacher.locator("fieldset.row", has_text="Barn 2")
    await expect(row.locator(".error")).to_contain_text("Højst 25")
    third = teacher.locator("fieldset.row", has_text="Barn 3")
    await expect(third.locator(".error")).to_contain_text("Skal udfyldes")  # its role
    await expect(
        teacher.locator("fieldset.row", has_text="Barn 1").locator(".error")
    ).to_have_count(0)
    await inspector.check(teacher, "new-case-refused")
    async with httpx.AsyncClient(base_url=platform.url) as http:
        missing = await http.get(f"/api/v1/cases/{refused_number}", headers=TEACHER.headers)
    assert missing.status_code == 404

    # Withdrawal, by the school leader, with a reason.
    leader = await person(browser, platform, "skoleleder1")
    await leader.goto(case_url)
    await leader.locator("summary", has_text="Træk sagen tilbage").click()
    await fill(leader, {"withdraw-reason": "Sagen viste sig at være grundløs"})
    await leader.get_by_role("button", name="Træk sagen tilbage").click()
    await expect(leader.get_by_role("status")).to_have_text("Sagen er trukket tilbage.")
    await reload_until(leader, ".case-facts", "trukket tilbage")

    done = {
        (e["actor_id"], e["action"], e["outcome"]) for e in await entries(platform, case_number)
    }
    assert ("lhj", "reassign_task", "allowed") in done
    assert ("skoleleder1", "withdraw", "allowed") in done
    assert ("lhj", "withdraw", "allowed") not in done  # the forged form never reached the API
    assert inspector.violations == [], "\n".join(inspector.violations)
