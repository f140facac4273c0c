"""The API's docs page in real Chromium (Debian's, driven by playwright), with the network to
anything but 127.0.0.1 blocked: a closed municipal network. Issue 15, finding 6."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image, ImageStat
from playwright.async_api import Route, async_playwright, expect

from tests.apikit import TEACHER, ApiPlatform, platform  # noqa: F401 - the module's platform fixture
from tests.webkit import Inspector

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():  # a clear failure, never a skip: the README says how
    raise RuntimeError("Debian's chromium is missing: apt-get install -y chromium")


@pytest.mark.slow
async def test_the_docs_render_with_nothing_but_the_api_reachable(
    platform: ApiPlatform,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    elsewhere: list[str] = []

    async def only_the_api(route: Route) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            await page.route("**/*", only_the_api)
            answer = await page.goto(f"{platform.url}/api/v1/docs", wait_until="networkidle")
            assert answer is not None and answer.status == 200
            shot = await page.screenshot(full_page=True, path=str(tmp_path / "docs.png"))
            shown = await page.inner_text("body")
        finally:
            await browser.close()

    assert elsewhere == [], f"the page fetched from outside: {elsewhere}"
    for operation in (
        "/api/v1/cases",
        "/api/v1/cases/{case_number}/tasks/{task_id}/complete",
        "/api/v1/inbox",
        "/api/v1/me",
    ):
        assert operation in shown, operation
    assert shown.count("POST") >= 5 and shown.count("GET") >= 5
    image = Image.open(io.BytesIO(shot)).convert("L")
    assert image.height > 2000  # many operations, not an empty shell
    assert ImageStat.Stat(image).stddev[0] > 10  # text on the page, not a blank screen


@pytest.mark.slow
async def test_without_sagsflow_dev_staff_sign_in_to_the_inbox_with_their_own_token(
    platform: ApiPlatform,  # noqa: F811 - the fixture
) -> None:
    """Issue 16: outside `sagsflow dev` the inbox lists nobody: staff paste their own token, a
    wrong one is refused, and the page passes axe at both widths."""
    inspector = Inspector()
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page()
            await page.goto(f"{platform.url}/log-ind")
            assert await page.get_by_role("button", name=re.compile("Log ind som")).count() == 0
            await page.get_by_label("Dit token").fill("not-a-token-of-anyone-here")
            await page.get_by_role("button", name="Log ind").click()
            await expect(page.get_by_role("alert")).to_contain_text("Ukendt token")
            await inspector.check(page, "signin-token")
            await page.get_by_label("Dit token").fill(TEACHER.token)
            await page.get_by_role("button", name="Log ind").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("Mine opgaver")
        finally:
            await browser.close()
    assert inspector.violations == [], inspector.violations
