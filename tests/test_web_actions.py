"""Issue 16: the small forms on a case (a note, reassignment, withdrawal) act through the API in
the browser: a name or pasted material is refused beside the field in Danish, a form the inbox
did not send does nothing, and a page read is the API's read in the access log."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.apikit import TEACHER, ApiPlatform, new_case_body
from tests.webkit import (  # noqa: F401 - the module's fixtures
    TITLES,
    Inspector,
    browser,
    entries,
    fill,
    inspector,
    person,
    web_platform,
)


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
    for _ in range(50):
        await teacher.reload()
        if "græd" in await teacher.inner_text(".timeline"):
            break
        await asyncio.sleep(0.2)
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
    for _ in range(50):
        await class_teacher.reload()
        if case_number in await class_teacher.inner_text("main"):
            break
        await asyncio.sleep(0.2)
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
    for _ in range(50):
        await leader.reload()
        if "trukket tilbage" in await leader.inner_text(".case-facts"):
            break
        await asyncio.sleep(0.2)
    await expect(leader.locator(".case-facts")).to_contain_text("trukket tilbage")

    done = {
        (e["actor_id"], e["action"], e["outcome"]) for e in await entries(platform, case_number)
    }
    assert ("lhj", "reassign_task", "allowed") in done
    assert ("skoleleder1", "withdraw", "allowed") in done
    assert ("lhj", "withdraw", "allowed") not in done  # the forged form never reached the API
    assert inspector.violations == [], "\n".join(inspector.violations)
