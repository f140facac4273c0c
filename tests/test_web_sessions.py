"""Issue 16: the inbox's sessions and sign-in rules, without a browser: expiry, a new id on
signing in, a flood of visitors that cannot push out staff who are signed in, and a dev
sign-in that nothing but `sagsflow dev` can turn on."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.web.sessions import WebSessions
from core.settings import ApiSettings
from tests.apikit import write_tokens


def test_a_session_ends_when_idle_or_too_old_and_gets_a_new_id_on_sign_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    sessions = WebSessions(idle=60, lifetime=600)
    visitor = sessions.new()
    planted = visitor.id
    signed_in = sessions.renew(visitor)
    assert signed_in.id != planted and sessions.get(planted) is None
    assert sessions.get(signed_in.id) is signed_in
    clock[0] += 59
    assert sessions.get(signed_in.id) is signed_in  # a request keeps it alive...
    for _ in range(11):
        clock[0] += 55
        sessions.get(signed_in.id)
    assert sessions.get(signed_in.id) is None  # ... but not past its lifetime
    idle = sessions.new()
    clock[0] += 61
    assert sessions.get(idle.id) is None


def test_a_flood_of_visitors_evicts_visitors_never_staff_who_signed_in() -> None:
    sessions = WebSessions(max_signed_out=100)
    staff = sessions.renew(sessions.new())
    first_visitor = sessions.new()
    for _ in range(5000):
        sessions.new()
    assert len(sessions) == 101  # a hundred visitors and the one signed in
    assert sessions.get(staff.id) is staff
    assert sessions.get(first_visitor.id) is None


def _inbox(tmp_path: Path, **settings: object) -> httpx.AsyncClient:
    tokens = tmp_path / "tokens.yaml"
    write_tokens(tokens)
    app = create_app(ApiSettings(tokens_file=tokens, **settings))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inbox")


async def test_the_list_of_staff_shows_only_in_sagsflow_dev_on_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _inbox(tmp_path, web_dev_signin=True) as inbox:  # as `sagsflow dev` sets it
        page = (await inbox.get("/log-ind")).text
        assert "Log ind som Test lhj" in page and "Log ind som Test drift1" in page
    # Listening beyond this machine, the list is not shown: staff give their own token.
    async with _inbox(tmp_path, web_dev_signin=True, host="0.0.0.0") as inbox:  # noqa: S104
        answer = await inbox.get("/log-ind")
        assert "Log ind som" not in answer.text and "Dit token" in answer.text
        refused = await inbox.post(
            "/log-ind",
            data={"csrf": _csrf(answer.text), "staff_id": "drift1"},
            cookies=answer.cookies,
        )
        assert "Skriv dit token" in refused.text  # not signed in as the operator
    # No environment variable can turn it on.
    monkeypatch.setenv("SAGSFLOW_WEB_DEV_SIGNIN", "true")
    monkeypatch.setenv("SAGSFLOW_TOKENS_FILE", str(tmp_path / "tokens.yaml"))
    assert ApiSettings.from_env().web_dev_signin is False


def _csrf(page: str) -> str:
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


async def test_every_inbox_page_is_uncached_framed_by_nobody_and_runs_only_its_own_script(
    tmp_path: Path,
) -> None:
    async with _inbox(tmp_path, web_dev_signin=True) as inbox:
        answer = await inbox.get("/log-ind")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert answer.headers["cache-control"] == "no-store"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_a_path_that_cannot_name_a_case_is_the_page_of_no_such_case(tmp_path: Path) -> None:
    async with _inbox(tmp_path, web_dev_signin=True) as inbox:
        form = await inbox.get("/log-ind")
        signed = await inbox.post(
            "/log-ind", data={"csrf": _csrf(form.text), "staff_id": "lhj"}, cookies=form.cookies
        )
        assert signed.status_code == 303, signed.text
        cookies = signed.cookies
        for path in (
            "/sager/ikke%20et%20nummer",
            "/sager/2026-0042/opgaver/%3Cx%3E",
            "/sager/%2A/presse",
        ):
            answer = await inbox.get(path, cookies=cookies)
            assert answer.status_code == 404, path
            assert "Sagen findes ikke" in answer.text
