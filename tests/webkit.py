"""The web inbox in real Chromium (Debian's, driven by playwright with `executable_path`; never a
downloaded browser) against a real platform (dev server, worker, API with the inbox): sign-in,
forms by their labels, axe-core on every page at desktop and 375 px, and a screenshot of each."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from procedure.loader import load_spec
from tests.apikit import LEADER, ApiPlatform

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():  # a clear failure, never a skip: the README says how
    raise RuntimeError("Debian's chromium is missing: apt-get install -y chromium")

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
# Where the screenshots go: SAGSFLOW_WEB_SHOTS, else build/web-shots (git ignores build/).
SHOTS = Path(os.environ.get("SAGSFLOW_WEB_SHOTS", "build/web-shots"))
SERIOUS = {"serious", "critical"}
# The rules for WCAG 2.0 and 2.1, levels A and AA (what Danish public-sector sites must meet),
# and axe's best practices.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
}
TITLES = {key: task.title for key, task in load_spec(version="demo").tasks.items()}


@pytest.fixture(scope="module")
def web_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiPlatform]:
    """A real platform whose inbox signs in the tokens file's staff from a list (as in
    `sagsflow dev`)."""
    started = ApiPlatform(tmp_path_factory.mktemp("web"), web_dev_signin=True).start()
    try:
        yield started
    finally:
        started.stop()


class Inspector:
    """Runs axe-core on each page it is shown, at desktop width and at 375 px, checks that
    nothing is wider than 375 px, and saves a screenshot of each page; collects the serious and
    critical violations."""

    def __init__(self) -> None:
        self.axe = Axe()
        self.violations: list[str] = []
        self.pages: list[str] = []
        SHOTS.mkdir(parents=True, exist_ok=True)

    async def check(self, page: Page, name: str) -> None:
        self.pages.append(name)
        for label, size in (("desktop", DESKTOP), ("375px", PHONE)):
            await page.set_viewport_size(size)
            results = await self.axe.run(page, options=AXE_OPTIONS)
            for violation in results.response["violations"]:
                if violation.get("impact") in SERIOUS:
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    self.violations.append(
                        f"{name} ({label}): {violation['id']} [{violation['impact']}] {targets}"
                    )
            if label == "desktop":  # one screenshot a page (the 375 px check is axe's and ours)
                await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
            else:
                # Readable at 375 px: nothing wider than the screen.
                wide = await page.evaluate("document.documentElement.scrollWidth")
                if wide > size["width"]:
                    self.violations.append(f"{name} (375px): the page is {wide} px wide")
        await page.set_viewport_size(DESKTOP)


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def only_local(route: Route) -> None:
    """A closed municipal network: nothing but 127.0.0.1 answers."""
    if urlparse(route.request.url).hostname == "127.0.0.1":
        await route.continue_()
    else:
        await route.abort()


async def person(browser: Browser, platform: ApiPlatform, staff_id: str) -> Page:
    """A browser of its own for one member of staff, signed in as them from the list."""
    context: BrowserContext = await browser.new_context(viewport=DESKTOP, locale="da-DK")
    page = await context.new_page()
    await page.route("**/*", only_local)
    await page.goto(f"{platform.url}/log-ind")
    before = await session_id(context)
    await page.get_by_role("button", name=f"Log ind som Test {staff_id}").click()
    await page.wait_for_url(f"{platform.url}/opgaver")
    # Signing in gives a new session id: one planted before is worth nothing.
    assert before and await session_id(context) not in (None, before)
    return page


async def session_id(context: BrowserContext) -> str | None:
    return next((c["value"] for c in await context.cookies() if c["name"] == "sagsflow_web"), None)


async def fill(page: Page, values: dict[str, Any]) -> None:
    """Fills a form by its inputs' names: True/False answer a yes/no question, a list ticks
    check boxes, a string picks a radio button's value or is typed into a field."""
    for name, value in values.items():
        if isinstance(value, bool):
            await page.check(f"input[name='{name}'][value='{'ja' if value else 'nej'}']")
        elif isinstance(value, list):
            for item in value:
                await page.check(f"input[name='{name}'][value='{item}']")
        elif await page.locator(f"input[type=radio][name='{name}']").count():
            await page.check(f"input[name='{name}'][value='{value}']")
        elif await page.locator(f"select[name='{name}']").count():
            await page.select_option(f"select[name='{name}']", value)
        else:
            await page.fill(f"[name='{name}']", value)


async def open_task(page: Page, case_url: str, title: str, timeout: float = 40) -> None:
    """From the case page, the open task with this title (reloading until the case opens it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    link = page.get_by_role("link", name=re.compile("^" + re.escape(title)))
    first = page.url == case_url  # just back on the case page: no need to load it again
    while True:
        if not first:
            await page.goto(case_url)
        first = False
        if await link.count():
            await link.first.click()
            await page.get_by_role("heading", level=1, name=re.compile(re.escape(title))).wait_for()
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the task {title!r} never opened in {case_url}")
        await asyncio.sleep(1.0)  # a timer's task: a reload costs the browser more than waiting


async def reload_until(page: Page, where: str, text: str, timeout: float = 25) -> None:
    """Reloads the page until `where` shows `text`: what the case has recorded once a message
    it takes in its own time (a signal) is processed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while text not in await page.inner_text(where):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{text!r} never showed in {where} of {page.url}")
        await asyncio.sleep(0.5)
        await page.reload()


async def tab_to(page: Page, text: str, limit: int = 120) -> None:
    """Presses Tab until the focused element's text (or label) holds `text`: keyboard only."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "() => { const e = document.activeElement; if (!e) return '';"
            " const label = e.labels && e.labels[0] ? e.labels[0].innerText : '';"
            " return (e.innerText || '') + ' ' + label + ' ' + (e.value || ''); }"
        )
        if text in focused:
            return
    raise AssertionError(f"Tab never reached {text!r}")


async def entries(platform: ApiPlatform, case_number: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=platform.url) as http:
        answer = await http.get(f"/api/v1/cases/{case_number}/access-log", headers=LEADER.headers)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["entries"]
    return found
