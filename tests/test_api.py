"""The HTTP API against the REAL dev server and a worker: a whole case driven to closing with
the tokens of different roles, access control, refusals, names and the access log."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy.exc import OperationalError

from tests.apikit import (
    COMMS,
    LEADER,
    OPERATOR,
    OTHER_TEACHER,
    SCHOOL,
    TEACHER,
    TK,
    ApiPlatform,
    ApiUser,
    new_case_body,
    platform,  # noqa: F401 - the module's platform fixture
)
from tests.casekit import decision
from tests.guard_corpus import FITS, material

NAMES = ("Astrid Testesen", "Bertram Prøvesen")


@pytest.fixture
async def http(platform: ApiPlatform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=30, trust_env=False) as client:
        yield client


class Api:
    """Calls as one member of staff; asserts the status code."""

    def __init__(self, http: httpx.AsyncClient, user: ApiUser, purpose: str | None = None):
        self.http = http
        self.user = user
        self.headers = dict(user.headers) | ({"X-Purpose": purpose} if purpose else {})

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"/api/v1{path}", headers=self.headers, **kwargs)
        assert response.status_code == expect, (
            f"{self.user.id} {method} {path}: {response.status_code} {response.text}"
        )
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    async def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return await self.call("GET", path, expect, **kwargs)

    async def post(self, path: str, body: Any, expect: int = 200) -> Any:
        return await self.call("POST", path, expect, json=body)

    async def wait_task(self, case_number: str, key: str, timeout: float = 20) -> dict[str, Any]:
        """The open task `key` of the case, once it shows in this user's inbox."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            inbox = await self.get("/inbox", params={"page_size": 100})
            for task in inbox["tasks"]:
                if task["case_number"] == case_number and task["key"] == key:
                    return task
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{key} never reached {self.user.id}'s inbox")
            await asyncio.sleep(0.1)

    async def complete(
        self, case_number: str, key: str, reason: str | None = None, **overrides: Any
    ) -> dict[str, Any]:
        task = await self.wait_task(case_number, key)
        body: dict[str, Any] = {"decision": decision(key, datetime.now(UTC), **overrides)}
        if reason:
            body["reason"] = reason
        done = await self.post(f"/cases/{case_number}/tasks/{task['task_id']}/complete", body)
        assert done["status"] == "done" and done["completed_by"]["id"] == self.user.id
        return done


async def open_case(api: Api, **overrides: Any) -> str:
    body = new_case_body(**overrides)
    opened = await api.post("/cases", body, expect=201)
    assert opened["workflow_id"] == f"case-{body['case_number']}"
    return body["case_number"]


async def wait_snapshot(
    api: Api, case_number: str, predicate, what: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        snapshot = await api.get(f"/cases/{case_number}")
        if predicate(snapshot):
            return snapshot
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {snapshot['open_tasks']}")
        await asyncio.sleep(0.2)


async def access_log(http: httpx.AsyncClient, case_number: str) -> list[dict[str, Any]]:
    export = await Api(http, LEADER, "indsigtsanmodning").get(f"/cases/{case_number}/access-log")
    assert export["case_number"] == case_number
    return export["entries"]


@pytest.mark.slow
async def test_a_whole_case_is_driven_to_closing_through_the_api(
    http: httpx.AsyncClient,
) -> None:
    teacher, leader, comms, operator = (Api(http, u) for u in (TEACHER, LEADER, COMMS, OPERATOR))
    case_number = await open_case(teacher)

    for _child in ("P1", "P2"):  # one custody task per child: the victim, the offender
        await leader.complete(case_number, "assess.involve_custody")
    await teacher.complete(case_number, "assess.uncover")
    await teacher.complete(case_number, "assess.evaluate")
    await leader.complete(case_number, "assess.involve_leadership")
    await teacher.complete(case_number, "assess.involve_tk")

    # A press inquiry: communications handles it from its inbox, seeing only the press view.
    await leader.post(
        f"/cases/{case_number}/press-inquiries",
        {"medium": "Lokalavisen", "summary": "Spørger til sagen"},
        expect=202,
    )
    press = await comms.wait_task(case_number, "treat.press")
    # A press task may go to a colleague in communications, who works at no school.
    await leader.post(
        f"/cases/{case_number}/tasks/{press['task_id']}/reassign", {"assignee": "komm1"}, expect=202
    )
    view = await comms.get(f"/cases/{case_number}/press")
    assert [t["task_id"] for t in view["press_tasks"]] == [press["task_id"]]
    assert view["inquiries"][0]["text"].startswith("Pressehenvendelse fra Lokalavisen")
    # Beyond the press view, a case is to communications no case at all (issue 15).
    await comms.get(f"/cases/{case_number}", expect=404)
    await comms.get(f"/cases/{case_number}/participants", expect=404)
    await comms.complete(case_number, "treat.press")

    await teacher.complete(case_number, "document.preserve")
    await teacher.complete(
        case_number,
        "document.note",
        text="P2 delte beskeder om P1. <script>alert(1)</script> [klik](javascript:alert(1))",
    )
    markdown_note = await teacher.get(f"/cases/{case_number}/notes/course")
    assert "<script>alert(1)</script>" in markdown_note  # the approved text, verbatim
    assert "Tryghed og Kriminalitetsforebyggelse" in markdown_note
    assert "43 57 75 55" in markdown_note  # the municipality's contacts, from the procedure
    printable = await teacher.get(f"/cases/{case_number}/notes/course", params={"format": "html"})
    raw = await http.get(
        f"/api/v1/cases/{case_number}/notes/course",
        params={"format": "html"},
        headers=TEACHER.headers,
    )
    # Issue 15, finding 6: the printable note is HTML: no script may run in it, none be framed.
    assert "default-src 'none'" in raw.headers["content-security-policy"]
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert raw.headers["x-frame-options"] == "DENY"
    assert printable.startswith("<!DOCTYPE html>") and "Notat om forløbet" in printable
    assert "Tryghed og Kriminalitetsforebyggelse" in printable and "43 57 75 55" in printable
    assert "<script" not in printable and "<a " not in printable  # no markup, no links
    assert "&lt;script&gt;" in printable and "[klik](javascript:alert(1))" in printable
    await teacher.get(f"/cases/{case_number}/notes/evaluation", expect=404)

    await teacher.complete(case_number, "stop.cooperate")
    await leader.complete(case_number, "stop.action_plan")
    await teacher.complete(case_number, "report.insurance")
    await teacher.complete(case_number, "treat.help")
    await teacher.complete(case_number, "treat.surroundings")
    await leader.complete(case_number, "treat.same_school")

    # The demo card's evaluation timer fires after seconds; then the follow-up closes the case.
    await teacher.complete(case_number, "close.evaluate")
    await teacher.complete(case_number, "close.follow_up")
    closed = await wait_snapshot(
        operator, case_number, lambda s: s["status"] == "closed", "the case to close"
    )
    assert closed["open_tasks"] == []
    assert closed["timeline"][-1]["kind"] == "case_closed"
    evaluation = await leader.get(f"/cases/{case_number}/notes/evaluation")
    assert "Evalueringsnotat." in evaluation and "Hurtig inddragelse af forældre" in evaluation

    # Closed cases take no more messages.
    await teacher.post(f"/cases/{case_number}/timeline/notes", {"text": "For sent"}, expect=409)

    # The case list (Temporal visibility, eventually consistent) shows it closed.
    for _ in range(50):
        listed = await teacher.get("/cases", params={"status": "closed", "page_size": 100})
        if any(c["case_number"] == case_number for c in listed["cases"]):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the closed case never showed in the case list")
    assert all(c["school_id"] == SCHOOL for c in listed["cases"])

    # Every step is in the access log, under the member of staff who took it.
    entries = await access_log(http, case_number)
    completed = {
        (e["actor_id"], e["detail"])
        for e in entries
        if e["action"] == "complete_task" and e["outcome"] == "allowed"
    }
    assert ("komm1", f"task={press['task_id']}") in completed
    assert ("skoleleder1", "task=stop.action_plan") in completed
    assert ("lhj", "task=close.follow_up") in completed
    assert {"komm1", "skoleleder1", "lhj", "drift1"} <= {e["actor_id"] for e in entries}
    reads = {(e["actor_id"], e["action"], e["outcome"]) for e in entries}
    assert {
        ("lhj", "read_note", "allowed"),
        ("skoleleder1", "read_note", "allowed"),
        ("komm1", "read_press", "allowed"),
        ("komm1", "read_case", "denied"),
    } <= reads
    assert not any(name in str(entries) for name in NAMES)


@pytest.mark.slow
async def test_a_teacher_of_another_school_is_refused_and_the_refusal_is_logged(
    http: httpx.AsyncClient, platform: ApiPlatform
) -> None:
    teacher, stranger = Api(http, TEACHER), Api(http, OTHER_TEACHER, "nysgerrig")
    case_number = await open_case(teacher)
    await teacher.wait_task(case_number, "assess.uncover")

    # Issue 15, finding 2: a case of another school answers exactly as no case does (404,
    # naming no school), and both probes are in the access log.
    refused = await stranger.get(f"/cases/{case_number}", expect=404)
    nothing = await stranger.get("/cases/FINDES-IKKE-42", expect=404)
    assert refused["detail"] == nothing["detail"].replace("FINDES-IKKE-42", case_number)
    assert SCHOOL not in str(refused)
    await stranger.get(f"/cases/{case_number}/timeline", expect=404)
    await stranger.get(f"/cases/{case_number}/participants", expect=404)
    await stranger.get(f"/cases/{case_number}/notes/course", expect=404)
    await stranger.post(
        f"/cases/{case_number}/tasks/assess.uncover/complete",
        {"decision": decision("assess.uncover", datetime.now(UTC))},
        expect=404,
    )
    await stranger.post(f"/cases/{case_number}/timeline/notes", {"text": "Hej"}, expect=404)
    await stranger.post(f"/cases/{case_number}/withdraw", {"reason": "Nej"}, expect=404)
    await stranger.post("/cases", new_case_body(), expect=403)  # opening at another school
    listed = await stranger.get("/cases", params={"page_size": 100})
    assert case_number not in {c["case_number"] for c in listed["cases"]}
    await stranger.get("/cases", params={"school": SCHOOL}, expect=403)
    inbox = await stranger.get("/inbox", params={"page_size": 100})
    assert case_number not in {t["case_number"] for t in inbox["tasks"]}

    # Nothing happened in the case, and every refusal is on record.
    snapshot = await teacher.get(f"/cases/{case_number}")
    assert "assess.uncover" in {t["key"] for t in snapshot["open_tasks"]}
    assert not [e for e in snapshot["timeline"] if e["kind"] == "note_added"]
    denied = [
        (e["action"], e["purpose"])
        for e in await access_log(http, case_number)
        if e["actor_id"] == OTHER_TEACHER.id
    ]
    assert denied == [
        ("read_case", "nysgerrig"),
        ("read_case", "nysgerrig"),
        ("read_participants", "nysgerrig"),
        ("read_note", "nysgerrig"),
        ("complete_task", "nysgerrig"),
        ("add_note", "nysgerrig"),
        ("withdraw", "nysgerrig"),
    ]
    outcomes = {
        e["outcome"]
        for e in await access_log(http, case_number)
        if e["actor_id"] == OTHER_TEACHER.id
    }
    assert outcomes == {"denied"}
    assert platform.store is not None  # no case to export the log of: read the store
    probes = await platform.run(platform.store.list_access("FINDES-IKKE-42"))
    assert [(e.actor_id, e.action, e.outcome) for e in probes] == [
        (OTHER_TEACHER.id, "read_case", "denied")
    ]


@pytest.mark.slow
async def test_an_invalid_decision_gets_422_with_the_reason(http: httpx.AsyncClient) -> None:
    teacher, leader = Api(http, TEACHER), Api(http, LEADER)
    case_number = await open_case(teacher)
    await teacher.wait_task(case_number, "assess.uncover")
    path = f"/cases/{case_number}/tasks/assess.uncover/complete"

    wrong_type = await teacher.post(
        path, {"decision": decision("assess.evaluate", datetime.now(UTC))}, expect=422
    )
    assert wrong_type["detail"] == (
        "Beslutningen hører til opgaven 'assess.evaluate', ikke 'assess.uncover' / "
        "The decision is of the type for task 'assess.evaluate', not 'assess.uncover'"
    )
    not_yet = await teacher.post(
        f"/cases/{case_number}/tasks/assess.evaluate/complete",
        {"decision": decision("assess.evaluate", datetime.now(UTC))},
        expect=422,
    )
    assert "ikke åben endnu" in not_yet["detail"] and "is not open yet" in not_yet["detail"]
    # A field the contract rejects: named, in Danish and English, before the case is asked.
    missing = await teacher.post(path, {"decision": {"task": "assess.uncover"}}, expect=422)
    assert "felt/field 'body.decision.assess.uncover.what'" in missing["detail"]
    # The task is for the case owner: leadership is refused before the case is asked.
    await leader.post(path, {"decision": decision("assess.uncover", datetime.now(UTC))}, expect=403)

    # Sexual images of a minor: a police report is recommended; deviating needs a reason.
    await teacher.complete(case_number, "assess.uncover", sexual_material_of_minor=True)
    evaluate = await teacher.wait_task(case_number, "assess.evaluate")
    body = {"decision": decision("assess.evaluate", datetime.now(UTC), underretning=True, ssp=True)}
    refused = await teacher.post(
        f"/cases/{case_number}/tasks/{evaluate['task_id']}/complete", body, expect=422
    )
    assert "skal begrundes i feltet 'reason'" in refused["detail"]
    assert "give a reason in the field 'reason'" in refused["detail"]
    done = await teacher.post(
        f"/cases/{case_number}/tasks/{evaluate['task_id']}/complete",
        body | {"reason": "Familien ønsker ikke at anmelde"},
    )
    assert done["deviations"] and done["reason"] == "Familien ønsker ikke at anmelde"

    failed = [
        e
        for e in await access_log(http, case_number)
        if e["action"] == "complete_task" and e["outcome"] == "failed"
    ]
    assert len(failed) == 3 and all("TaskRejected" in e["detail"] for e in failed)


@pytest.mark.slow
async def test_every_read_is_in_the_access_log_with_its_actor_and_purpose(
    http: httpx.AsyncClient,
) -> None:
    teacher = Api(http, TEACHER, quote("samtale med forældre"))  # percent-encoded UTF-8
    case_number = await open_case(Api(http, TEACHER))
    await teacher.wait_task(case_number, "assess.uncover")
    reads = [
        (teacher, f"/cases/{case_number}", "read_case", "snapshot"),
        (Api(http, TK, "sparring"), f"/cases/{case_number}/timeline", "read_case", "timeline"),
        (Api(http, LEADER), f"/cases/{case_number}/participants", "read_participants", "names"),
        (Api(http, OPERATOR, "fejlsøgning"), f"/cases/{case_number}", "read_case", "snapshot"),
    ]
    purposes = ["samtale med forældre", "sparring", "sagsbehandling", "fejlsøgning"]
    reads[3][0].headers["X-Purpose"] = "fejlsøgning".encode()  # raw UTF-8 works too
    for api, path, _, _ in reads:
        await api.get(path)
    await Api(http, TK).get(f"/cases/{case_number}/participants", expect=403)

    entries = [e for e in await access_log(http, case_number) if e["action"] != "open_case"]
    expected = [
        (api.user.id, action, purpose, "allowed", detail)
        for (api, _, action, detail), purpose in zip(reads, purposes, strict=True)
    ] + [
        ("tk1", "read_participants", "sagsbehandling", "denied", "names"),
        ("skoleleder1", "export_access_log", "indsigtsanmodning", "allowed", None),
    ]
    assert [
        (e["actor_id"], e["action"], e["purpose"], e["outcome"], e["detail"]) for e in entries
    ] == expected
    assert entries[0]["actor_roles"] == ["case_owner"]
    times = [e["at"] for e in entries]
    assert times == sorted(times)

    # Only leadership of the school and operators export the log.
    await Api(http, TEACHER).get(f"/cases/{case_number}/access-log", expect=403)
    await Api(http, OPERATOR).get(f"/cases/{case_number}/access-log")


@pytest.mark.slow
async def test_names_are_shown_only_to_those_allowed(http: httpx.AsyncClient) -> None:
    teacher = Api(http, TEACHER)
    case_number = await open_case(teacher)
    await teacher.wait_task(case_number, "assess.uncover")

    shown = await teacher.get(f"/cases/{case_number}/participants")
    assert [
        (p["pseudonym"], p["role"], p["name"], p["contact"]) for p in shown["participants"]
    ] == [
        ("P1", "victim", "Astrid Testesen", "Mor: 11 22 33 44"),
        ("P2", "offender", "Bertram Prøvesen", None),
    ]
    for user, status in ((TK, 403), (COMMS, 404), (OTHER_TEACHER, 404)):
        await Api(http, user).get(f"/cases/{case_number}/participants", expect=status)
        await Api(http, user).call(
            "PUT",
            f"/cases/{case_number}/participants",
            expect=status,
            json={"participants": [{"pseudonym": "P1", "name": "X"}]},
        )
    await Api(http, OPERATOR).get(f"/cases/{case_number}/participants")

    corrected = await Api(http, LEADER).call(
        "PUT",
        f"/cases/{case_number}/participants",
        json={
            "participants": [
                {"pseudonym": "P2", "name": "Bertram Prøvesen-Holm", "contact": "Far: 55 66 77 88"}
            ]
        },
    )
    assert corrected["participants"][1]["name"] == "Bertram Prøvesen-Holm"
    unknown = await teacher.call(
        "PUT",
        f"/cases/{case_number}/participants",
        expect=422,
        json={"participants": [{"pseudonym": "P7", "name": "Y"}]},
    )
    assert "P7" in unknown["detail"]

    # Names never reach the case itself, its list entry or its notes.
    snapshot = await teacher.get(f"/cases/{case_number}")
    listed = await Api(http, OPERATOR).get("/cases", params={"page_size": 100})
    for text in (str(snapshot), str(listed)):
        assert not any(name in text for name in (*NAMES, "Bertram Prøvesen-Holm"))


@pytest.mark.slow
async def test_a_failed_access_log_write_fails_the_request_and_nothing_happens(
    http: httpx.AsyncClient, platform: ApiPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = Api(http, TEACHER)
    case_number = await open_case(teacher)
    await teacher.wait_task(case_number, "assess.uncover")
    assert platform.store is not None

    async def broken(**_: Any) -> int:
        raise OperationalError("INSERT INTO access_log", {}, Exception("disk I/O error"))

    monkeypatch.setattr(platform.store, "record_access", broken)
    read = await teacher.get(f"/cases/{case_number}", expect=503)
    assert "Adgangsloggen kan ikke skrives" in read["detail"]
    assert "access log cannot be written" in read["detail"]
    await teacher.post(f"/cases/{case_number}/timeline/notes", {"text": "Ikke gemt"}, expect=503)
    await teacher.post(
        f"/cases/{case_number}/tasks/assess.uncover/complete",
        {"decision": decision("assess.uncover", datetime.now(UTC))},
        expect=503,
    )
    await Api(http, OTHER_TEACHER).get(f"/cases/{case_number}", expect=503)  # denials too
    opened = new_case_body()
    await teacher.post("/cases", opened, expect=503)
    monkeypatch.undo()

    snapshot = await teacher.get(f"/cases/{case_number}")
    assert "assess.uncover" in {t["key"] for t in snapshot["open_tasks"]}
    assert not [e for e in snapshot["timeline"] if e["kind"] == "note_added"]
    await teacher.get(f"/cases/{opened['case_number']}", expect=404)


@pytest.mark.slow
async def test_messages_to_a_case_and_withdrawal(http: httpx.AsyncClient) -> None:
    teacher, leader, tk = Api(http, TEACHER), Api(http, LEADER), Api(http, TK)
    case_number = await open_case(teacher)
    await teacher.wait_task(case_number, "assess.uncover")

    await tk.post(
        f"/cases/{case_number}/timeline/notes", {"text": "TK har talt med P1"}, expect=202
    )
    await teacher.post(
        f"/cases/{case_number}/incidents",
        {"description": "Nye beskeder", "reopen_assessment": False},
        expect=202,
    )
    # Issue 15, finding 4: a task goes only to known staff with its role at the school.
    for stranger in ("laerer2", "skoleleder1", "ingen-kender-mig"):  # other school, role, unknown
        refused = await leader.post(
            f"/cases/{case_number}/tasks/assess.uncover/reassign",
            {"assignee": stranger},
            expect=422,
        )
        assert "kendt medarbejder med rollen case_owner" in refused["detail"]
    await leader.post(
        f"/cases/{case_number}/tasks/assess.uncover/reassign",
        {"assignee": "kontaktlaerer7b"},
        expect=202,
    )
    await leader.post(
        f"/cases/{case_number}/tasks/document.note/reassign",
        {"assignee": "kontaktlaerer7b"},
        expect=422,
    )
    await tk.post(f"/cases/{case_number}/withdraw", {"reason": "Grundløs"}, expect=403)
    snapshot = await wait_snapshot(
        teacher,
        case_number,
        lambda s: (
            {"note_added", "new_incident", "task_reassigned"} <= {e["kind"] for e in s["timeline"]}
        ),
        "the messages in the timeline",
    )
    note = next(e for e in snapshot["timeline"] if e["kind"] == "note_added")
    assert note["actor"] == {"id": "tk1", "role": "tk"}
    assert snapshot["open_tasks"][-1]["assignee"] == "kontaktlaerer7b" or any(
        t["assignee"] == "kontaktlaerer7b" for t in snapshot["open_tasks"]
    )

    await leader.post(
        f"/cases/{case_number}/withdraw", {"reason": "Henvendelsen var grundløs"}, expect=202
    )
    withdrawn = await wait_snapshot(
        teacher, case_number, lambda s: s["status"] == "withdrawn", "withdrawal"
    )
    assert withdrawn["open_tasks"] == []
    assert withdrawn["timeline"][-1]["actor"] == {"id": "skoleleder1", "role": "leadership"}
    await teacher.post(f"/cases/{case_number}/withdraw", {"reason": "Igen"}, expect=409)


@pytest.mark.slow
async def test_evidence_material_is_refused_with_the_cards_rule(http: httpx.AsyncClient) -> None:
    teacher = Api(http, TEACHER)
    case_number = await open_case(teacher)
    task = await teacher.wait_task(case_number, "assess.uncover")
    image = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0" * 64).decode()
    refusals = [
        await teacher.post(f"/cases/{case_number}/timeline/notes", {"text": image}, expect=422),
        await teacher.post(
            f"/cases/{case_number}/tasks/{task['task_id']}/complete",
            {"decision": decision("assess.uncover", datetime.now(UTC), what=image)},
            expect=422,
        ),
        await teacher.post(
            "/cases",
            new_case_body(
                participants=[
                    {
                        "pseudonym": "P1",
                        "role": "victim",
                        "age": 14,
                        "same_school": True,
                        "contact": image,
                    }
                ]
            ),
            expect=422,
        ),
    ]
    for refusal in refusals:
        text = json.dumps(refusal, ensure_ascii=False)
        assert "Bevismateriale må aldrig gemmes" in text and "Evidence material" in text
        assert image[:40] not in text  # the material is not echoed back
    snapshot = await teacher.get(f"/cases/{case_number}")
    assert not [e for e in snapshot["timeline"] if e["kind"] == "note_added"]
    assert "assess.uncover" in {t["key"] for t in snapshot["open_tasks"]}


@pytest.mark.slow
async def test_opening_cases_validates_input(http: httpx.AsyncClient) -> None:
    teacher = Api(http, TEACHER)
    case_number = await open_case(teacher)
    again = await teacher.post("/cases", new_case_body(case_number=case_number), expect=409)
    assert "findes allerede" in again["detail"] and "already exists" in again["detail"]
    no_victim = new_case_body()
    no_victim["participants"][0]["role"] = "witness"
    refused = await teacher.post("/cases", no_victim, expect=422)
    assert "mindst én krænket" in refused["detail"]
    future = new_case_body(reported_at="2999-01-01T00:00:00+00:00")
    assert "fremtiden" in (await teacher.post("/cases", future, expect=422))["detail"]
    await Api(http, COMMS).post("/cases", new_case_body(), expect=403)
    # A body that is not JSON at all (here: not even UTF-8) is a 422 like the rest.
    for raw in (b"\xff\xfe{", b'{"case_number": '):
        response = await http.post(
            "/api/v1/cases",
            content=raw,
            headers={**teacher.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert "Ugyldig forespørgsel" in detail and "Invalid request" in detail
    # Unknown routes keep their 404.
    assert (await http.get("/api/v1/no-such-thing", headers=teacher.headers)).status_code == 404


@pytest.mark.slow
async def test_lists_and_inboxes_are_paginated_and_scoped(http: httpx.AsyncClient) -> None:
    operator = Api(http, OPERATOR)
    numbers = {await open_case(Api(http, TEACHER)) for _ in range(2)}
    for _ in range(50):
        first = await operator.get("/cases", params={"page_size": 1, "status": "active"})
        if first["next_page_token"]:
            break
        await asyncio.sleep(0.2)
    second = await operator.get(
        "/cases",
        params={"page_size": 1, "status": "active", "page_token": first["next_page_token"]},
    )
    assert len(first["cases"]) == len(second["cases"]) == 1
    assert first["cases"][0]["case_number"] != second["cases"][0]["case_number"]
    forged = await operator.get("/cases", params={"page_token": "bm90LWEtdG9rZW4"}, expect=422)
    assert "Ugyldig sidemarkør" in forged["detail"]
    # A token opens only for the filters it was made for.
    await operator.get(
        "/cases",
        params={"page_size": 1, "status": "closed", "page_token": first["next_page_token"]},
        expect=422,
    )

    inbox = await Api(http, TEACHER).wait_task(sorted(numbers)[0], "assess.uncover")
    assert inbox["role"] == "case_owner"
    page = await Api(http, TEACHER).get("/inbox", params={"page_size": 1})
    assert len(page["tasks"]) == 1 and page["next_page"] == 2
    leader_inbox = await Api(http, LEADER).get("/inbox", params={"page_size": 100})
    assert {t["role"] for t in leader_inbox["tasks"]} == {"leadership"}
    dues = [t["due_at"] for t in leader_inbox["tasks"]]
    assert dues == sorted(dues)
    comms_inbox = await Api(http, COMMS).get("/inbox", params={"page_size": 100})
    assert {t["key"] for t in comms_inbox["tasks"]} <= {"treat.press"}
    await Api(http, COMMS).get("/cases", expect=403)


@pytest.mark.slow
async def test_cases_with_overdue_tasks_are_found_by_the_overdue_filter(
    http: httpx.AsyncClient,
) -> None:
    """HasOverdueTask turns true when a deadline passes, with nobody touching the case: the
    demo card's underretning receipt is due 6 s after the underretning was sent."""
    teacher, operator = Api(http, TEACHER), Api(http, OPERATOR)
    late, on_time = await open_case(teacher), await open_case(teacher)
    await teacher.complete(late, "assess.uncover")
    await teacher.complete(
        late, "assess.evaluate", underretning=True, reason="Bekymring for P1's trivsel"
    )
    await teacher.complete(late, "report.underretning")  # due "straks": overdue at once
    snapshot = await wait_snapshot(
        teacher,
        late,
        lambda s: any(t["key"] == "report.underretning_receipt" for t in s["open_tasks"]),
        "the receipt task",
    )
    receipt = next(t for t in snapshot["open_tasks"] if t["key"] == "report.underretning_receipt")
    receipt_due = datetime.fromisoformat(receipt["due_at"])

    async def listed(overdue: bool) -> set[str]:
        page = await operator.get(
            "/cases", params={"overdue": str(overdue).lower(), "page_size": 100}
        )
        assert all(c["has_overdue_task"] is overdue for c in page["cases"]), page
        return {c["case_number"] for c in page["cases"]}

    # Not overdue while the receipt is not yet due (the underretning itself is done) ...
    while late not in await listed(False):
        assert datetime.now(UTC) < receipt_due - timedelta(seconds=1), "never shown as on time"
        await asyncio.sleep(0.1)
    # ... and overdue once it is, without anyone touching the case.
    for _ in range(100):
        if datetime.now(UTC) > receipt_due and late in await listed(True):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the case with the missing receipt never showed as overdue")
    assert on_time not in await listed(True)
    assert on_time in await listed(False) and late not in await listed(False)


@pytest.mark.slow
async def test_authentication_health_and_the_openapi_document(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/v1/health")).json() == {"status": "ok"}
    ready = await http.get("/api/v1/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    anonymous = await http.get("/api/v1/inbox")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in anonymous.json()["detail"]
    unknown = await http.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert unknown.status_code == 401 and unknown.json()["detail"] == (
        "Ukendt token / Unknown token"
    )
    me = await Api(http, OTHER_TEACHER).get("/me")
    assert me == {
        "id": "laerer2",
        "name": "Test laerer2",
        "roles": ["case_owner"],
        "schools": ["anden-skole"],
    }

    document = (await http.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 19
    for method, path, operation in operations:
        assert operation.get("summary"), f"{method} {path} has no summary"
        assert operation.get("description"), f"{method} {path} has no description"
        assert path.startswith("/api/v1/")
    schemas = document["components"]["schemas"]
    undescribed = sorted(name for name, schema in schemas.items() if not schema.get("description"))
    assert undescribed == []
    docs = await http.get("/api/v1/docs")
    assert docs.status_code == 200
    # Issue 15, finding 6: sagsflow's own page, every operation on it, nothing from elsewhere.
    for method, path, _ in operations:
        assert f"<code>{path}</code>" in docs.text, (method, path)
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()
    assert "default-src 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"


def test_tokens_for_sagsflow_dev_are_created_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.tokens import read_tokens_file
    from cli.dev import DevOptions, dev_tokens_file

    monkeypatch.delenv("SAGSFLOW_TOKENS_FILE", raising=False)
    options = DevOptions(data_dir=tmp_path)
    path, created = dev_tokens_file(options)
    assert created and path == tmp_path / "tokens.yaml"
    assert path.stat().st_mode & 0o777 == 0o600
    staff = read_tokens_file(path)
    assert {s.id for s in staff.values()} >= {"lhj", "skoleleder1", "komm1", "drift1"}
    assert dev_tokens_file(options) == (path, False)


@pytest.mark.slow
async def test_a_participants_name_is_refused_in_every_text_and_nothing_is_recorded(
    http: httpx.AsyncClient,
) -> None:
    """Issue 14: a note, a decision, an incident and a press inquiry naming a child are
    refused (422) with the pseudonym to write instead; the case records none of them."""
    teacher, leader = Api(http, TEACHER), Api(http, LEADER)
    case_number = await open_case(teacher)
    uncover = await teacher.wait_task(case_number, "assess.uncover")
    refused = [
        await teacher.post(
            f"/cases/{case_number}/timeline/notes",
            {"text": "astrid var ked af det i frikvarteret"},
            expect=422,
        ),
        await teacher.post(
            f"/cases/{case_number}/tasks/{uncover['task_id']}/complete",
            {
                "decision": decision(
                    "assess.uncover", datetime.now(UTC), what="Prøvesen delte billedet"
                )
            },
            expect=422,
        ),
        await teacher.post(
            f"/cases/{case_number}/incidents",
            {"description": "Bertram Prøvesen har skrevet igen", "reopen_assessment": False},
            expect=422,
        ),
        await leader.post(
            f"/cases/{case_number}/press-inquiries",
            {"medium": "Lokalavisen", "summary": "Spørger om Astrid er hjemme fra skole"},
            expect=422,
        ),
    ]
    pseudonyms = ["P1", "P2", "P2", "P1"]
    for answer, pseudonym in zip(refused, pseudonyms, strict=True):
        assert f"skriv {pseudonym} i stedet" in answer["detail"], answer
        assert not any(part in answer["detail"] for part in ("Astrid", "Prøvesen", "Bertram"))
    await teacher.post(
        f"/cases/{case_number}/timeline/notes", {"text": "P1 var ked af det"}, expect=202
    )
    timeline = await wait_snapshot(
        teacher,
        case_number,
        lambda s: any(e["kind"] == "note_added" for e in s["timeline"]),
        "the note with the pseudonym",
    )
    assert not any(
        e["kind"] in ("rejected", "new_incident", "press_inquiry") for e in timeline["timeline"]
    )
    recorded = str(await teacher.get(f"/cases/{case_number}/timeline"))
    assert "P1 var ked af det" in recorded
    assert not any(part in recorded for part in ("Astrid", "Prøvesen", "Bertram"))


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=material(FITS))
async def test_a_note_carrying_media_is_refused_over_http(
    http: httpx.AsyncClient, text: str
) -> None:
    """Issue 14's property over HTTP: any encoded media, anything inserted, is a 422."""
    teacher = Api(http, TEACHER)
    case_number = await shared_case(teacher)
    answer = await teacher.post(f"/cases/{case_number}/timeline/notes", {"text": text}, expect=422)
    assert "Gem aldrig materiale" in answer["detail"]


_SHARED: dict[str, str] = {}


async def shared_case(api: Api) -> str:
    """One case for the examples of a property (opening one per example would be slow)."""
    if "case" not in _SHARED:
        _SHARED["case"] = await open_case(api)
    return _SHARED["case"]


@pytest.mark.slow
async def test_communications_cannot_grant_itself_reading_by_a_press_inquiry(
    http: httpx.AsyncClient,
) -> None:
    """Issue 15, finding 3: the communications department cannot open a press inquiry on any
    case number and then read the case's press view. It answers as for no case (404) until
    the school itself registered an inquiry; then it may forward one it got, and read."""
    teacher, leader, comms = Api(http, TEACHER), Api(http, LEADER), Api(http, COMMS)
    case_number = await open_case(teacher)
    await teacher.wait_task(case_number, "assess.uncover")
    inquiry = {"medium": "Lokalavisen", "summary": "Spørger til en sag på 7. årgang"}
    await comms.post(f"/cases/{case_number}/press-inquiries", inquiry, expect=404)
    await comms.get(f"/cases/{case_number}/press", expect=404)
    nothing = await comms.post("/cases/FINDES-IKKE-7/press-inquiries", inquiry, expect=404)
    hidden = await comms.get(f"/cases/{case_number}/press", expect=404)
    assert hidden["detail"] == nothing["detail"].replace("FINDES-IKKE-7", case_number)

    await leader.post(f"/cases/{case_number}/press-inquiries", inquiry, expect=202)
    await comms.wait_task(case_number, "treat.press")
    forwarded = {"medium": "TV2 Lorry", "summary": "Samme spørgsmål"}
    await comms.post(f"/cases/{case_number}/press-inquiries", forwarded, expect=202)
    view = await comms.get(f"/cases/{case_number}/press")
    assert view["inquiries"][0]["text"].startswith("Pressehenvendelse fra Lokalavisen")
    await comms.get(f"/cases/{case_number}", expect=404)  # the press view only


@pytest.mark.slow
async def test_a_name_refused_to_someone_who_may_not_see_names_does_not_say_whose(
    http: httpx.AsyncClient,
) -> None:
    """Review of issue 14: TK may write notes but not see names; the refusal of a guessed name
    must not tell TK which child it belongs to."""
    teacher, tk = Api(http, TEACHER), Api(http, TK)
    case_number = await open_case(teacher)
    await teacher.wait_task(case_number, "assess.uncover")
    refused = await tk.post(
        f"/cases/{case_number}/timeline/notes", {"text": "Bertram var ikke i skole"}, expect=422
    )
    assert "skriv pseudonymet" in refused["detail"]
    assert "skriv P2" not in refused["detail"] and "write P2" not in refused["detail"]
