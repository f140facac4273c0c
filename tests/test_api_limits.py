"""Bounded work at the HTTP API (issue 11), on the REAL dev server and a worker: oversize
bodies get 413 before they are read, too-long texts and lists 422 naming the limit, and a
flood of messages to one case 429 with Retry-After — nothing recorded, the case untouched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from core.settings import ApiSettings
from tests.apikit import (
    LEADER,
    TEACHER,
    ApiPlatform,
    new_case_body,
    platform,  # noqa: F401 - the module's platform fixture
)
from tests.casekit import decision

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

CAP = getattr(ApiSettings(), "max_body_bytes", 256 * 1024)


@pytest.fixture
async def http(platform: ApiPlatform) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    async with httpx.AsyncClient(base_url=platform.url, timeout=30, trust_env=False) as client:
        yield client


async def call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    expect: int,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    response = await http.request(
        method, f"/api/v1{path}", headers={**TEACHER.headers, **(headers or {})}, **kwargs
    )
    assert response.status_code == expect, (
        f"{method} {path}: {response.status_code} {response.text[:500]}"
    )
    return response


async def open_case(http: httpx.AsyncClient) -> str:
    body = new_case_body()
    await call(http, "POST", "/cases", 201, json=body)
    return body["case_number"]


async def wait_task(http: httpx.AsyncClient, case_number: str, key: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        inbox = (await call(http, "GET", "/inbox", 200, params={"page_size": 100})).json()
        for task in inbox["tasks"]:
            if task["case_number"] == case_number and task["key"] == key:
                return task
        assert asyncio.get_running_loop().time() < deadline, f"{key} never opened"
        await asyncio.sleep(0.1)


async def timeline(http: httpx.AsyncClient, case_number: str) -> list[dict[str, Any]]:
    return (await call(http, "GET", f"/cases/{case_number}/timeline", 200)).json()["events"]


async def access_log(http: httpx.AsyncClient, case_number: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/v1/cases/{case_number}/access-log", headers=LEADER.headers)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


async def wait_notes(http: httpx.AsyncClient, case_number: str, count: int) -> list[Any]:
    """The case's notes once `count` are in its timeline (and a moment later still)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        notes = [e for e in await timeline(http, case_number) if e["kind"] == "note_added"]
        if len(notes) >= count:
            await asyncio.sleep(0.5)
            return [e for e in await timeline(http, case_number) if e["kind"] == "note_added"]
        assert asyncio.get_running_loop().time() < deadline, f"{len(notes)} of {count} notes"
        await asyncio.sleep(0.2)


def assert_names_limit(detail: str, *limits: str) -> None:
    for limit in limits:
        assert limit in detail, detail
    assert " / " in detail, detail  # Danish / English
    assert "igen" not in detail.lower() and "again" not in detail.lower(), detail


async def raw_request(
    url: str, head: str, chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """Sends the head and `chunks` on a plain socket, then reads the answer WITHOUT sending
    the rest of the body: a server that waits for the whole body never answers."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode("latin-1"))
        for chunk in chunks:
            writer.write(chunk)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(65536), 10)
        while b"\r\n\r\n" not in raw:
            more = await asyncio.wait_for(reader.read(65536), 10)
            assert more, raw
            raw += more
        header_bytes, _, body = raw.partition(b"\r\n\r\n")
        lines = header_bytes.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            more = await asyncio.wait_for(reader.read(65536), 10)
            if not more:
                break
            body += more
        return int(lines[0].split()[1]), headers, body
    finally:
        writer.close()


async def test_an_oversize_body_is_refused_with_413_before_it_is_read(
    http: httpx.AsyncClient,
    platform: ApiPlatform,  # noqa: F811
) -> None:
    case_number = await open_case(http)
    await wait_task(http, case_number, "assess.uncover")
    path = f"/api/v1/cases/{case_number}/timeline/notes"
    host = urlsplit(platform.url).netloc
    auth = TEACHER.headers["Authorization"]

    # Declared 50 MB: answered at once, although not one byte of the body was sent.
    status, headers, body = await raw_request(
        platform.url,
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n",
        [],
    )
    assert status == 413, body
    assert headers["content-type"].startswith("application/json")
    assert_names_limit(json.loads(body)["detail"], str(CAP), "256 KiB")

    # Chunked (no length given): refused once more than the cap has arrived.
    chunk = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(CAP // len(chunk) + 2)]
    status, _, body = await raw_request(
        platform.url,
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
        f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        chunks,
    )
    assert status == 413, body
    assert_names_limit(json.loads(body)["detail"], str(CAP))

    # The same through an ordinary client, a valid JSON note just over the cap.
    big = json.dumps({"text": "a" * (CAP + 10)})
    response = await call(
        http,
        "POST",
        f"/cases/{case_number}/timeline/notes",
        413,
        content=big,
        headers={"Content-Type": "application/json"},
    )
    assert_names_limit(response.json()["detail"], str(CAP))

    # Nothing recorded, the case untouched; a body under the cap still works.
    assert not [e for e in await access_log(http, case_number) if e["action"] == "add_note"]
    await call(
        http,
        "POST",
        f"/cases/{case_number}/timeline/notes",
        202,
        json={"text": "Efter de for store"},
    )
    notes = await wait_notes(http, case_number, 1)
    assert [n["text"] for n in notes] == [notes[0]["text"]] and "Efter de for store" in (
        notes[0]["text"]
    )


async def test_too_long_texts_and_lists_get_422_naming_the_limit(
    http: httpx.AsyncClient,
) -> None:
    case_number = await open_case(http)
    task = await wait_task(http, case_number, "assess.uncover")

    note = await call(
        http, "POST", f"/cases/{case_number}/timeline/notes", 422, json={"text": "a" * 2001}
    )
    assert_names_limit(note.json()["detail"], "body.text", "2000")

    many = [f"P{i}" for i in range(1, 101)]
    uncover = decision("assess.uncover", datetime.now(UTC), involved=many)
    refused = await call(
        http,
        "POST",
        f"/cases/{case_number}/tasks/{task['task_id']}/complete",
        422,
        json={"decision": uncover},
    )
    assert_names_limit(refused.json()["detail"], "involved", "30")

    evidence = decision("document.preserve", datetime.now(UTC))
    evidence["evidence"] = evidence["evidence"][:1] * 51
    refused = await call(
        http,
        "POST",
        f"/cases/{case_number}/tasks/document.preserve/complete",
        422,
        json={"decision": evidence},
    )
    assert_names_limit(refused.json()["detail"], "evidence", "50")

    participants = [
        {"pseudonym": f"P{i}", "role": "victim", "age": 14, "same_school": True}
        for i in range(1, 32)
    ]
    opened = await call(
        http,
        "POST",
        "/cases",
        422,
        json=new_case_body(participants=participants, offender_known=False),
    )
    assert_names_limit(opened.json()["detail"], "participants", "30")

    # Nothing of it reached the case: uncover still open, no note in the timeline.
    events = await timeline(http, case_number)
    assert not [e for e in events if e["kind"] in ("note_added", "task_completed", "rejected")]


async def test_the_limits_are_in_the_openapi_document(http: httpx.AsyncClient) -> None:
    document = (await http.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert schemas["TimelineNoteRequest"]["properties"]["text"]["maxLength"] == 2000
    assert schemas["OpenCaseRequest"]["properties"]["participants"]["maxItems"] == 30
    assert schemas["UncoverDecision"]["properties"]["involved"]["maxItems"] == 30
    assert schemas["PreserveDecision"]["properties"]["evidence"]["maxItems"] == 50
    notes = document["paths"]["/api/v1/cases/{case_number}/timeline/notes"]["post"]
    assert {"413", "422", "429"} <= set(notes["responses"])
    assert "Retry-After" in notes["responses"]["429"].get("headers", {})


async def test_a_flood_of_notes_gets_429_with_retry_after_and_the_case_is_unaffected(
    http: httpx.AsyncClient,
) -> None:
    case_number = await open_case(http)
    await wait_task(http, case_number, "assess.uncover")
    per_hour = getattr(ApiSettings(), "notes_per_hour", 30)
    for i in range(per_hour):
        await call(
            http, "POST", f"/cases/{case_number}/timeline/notes", 202, json={"text": f"Notat {i}"}
        )
    refusals = [
        await call(
            http,
            "POST",
            f"/cases/{case_number}/timeline/notes",
            429,
            json={"text": f"For mange {i}"},
        )
        for i in range(5)
    ]
    for refusal in refusals:
        seconds = int(refusal.headers["Retry-After"])
        assert 3000 < seconds <= 3600, seconds
        assert_names_limit(refusal.json()["detail"], str(per_hour))
    # Other messages have limits of their own: an incident still goes through.
    await call(
        http,
        "POST",
        f"/cases/{case_number}/incidents",
        202,
        json={"description": "Nye beskeder", "reopen_assessment": False},
    )

    notes = await wait_notes(http, case_number, per_hour)
    assert len(notes) == per_hour
    assert not any("For mange" in n["text"] for n in notes)
    entries = [e for e in await access_log(http, case_number) if e["action"] == "add_note"]
    assert [e["outcome"] for e in entries] == ["allowed"] * per_hour + ["denied"] * 5


async def test_a_case_with_all_its_notes_gets_422_that_never_says_try_again(
    http: httpx.AsyncClient,
    platform: ApiPlatform,  # noqa: F811
) -> None:
    assert platform.app is not None
    settings = platform.app.state.settings
    case_number = await open_case(http)
    await wait_task(http, case_number, "assess.uncover")
    platform.app.state.settings = settings.with_overrides(notes_total=3)
    try:
        for i in range(3):
            await call(
                http,
                "POST",
                f"/cases/{case_number}/timeline/notes",
                202,
                json={"text": f"Notat {i}"},
            )
        full = await call(
            http, "POST", f"/cases/{case_number}/timeline/notes", 422, json={"text": "Et for meget"}
        )
        assert "Retry-After" not in full.headers
        assert_names_limit(full.json()["detail"], "3")
    finally:
        platform.app.state.settings = settings
    notes = await wait_notes(http, case_number, 3)
    assert len(notes) == 3
