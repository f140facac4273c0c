"""Issue 16: the inbox's production sign-in, the OIDC authorization code flow with PKCE, against
a real OpenID Connect provider (oidc-provider-mock, run here), in Debian's chromium. The API is
in OIDC mode with the provider's keys: the token the session holds is checked by the API."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import oidc_provider_mock
import pytest
from playwright.async_api import Browser, Request, Route, expect

from tests.apikit import ApiPlatform
from tests.webkit import DESKTOP, Inspector, browser  # noqa: F401 - the module's fixture

CLIENT_ID = "sagsflow-web"
TEACHER_CLAIMS = {
    "name": "Lærer Oidc",
    "roles": ["case_owner"],
    "schools": ["vibeke-skolen"],
}


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread(port=_port(), require_nonce=True) as server:
        url = f"http://localhost:{server.server_port}"
        answer = httpx.put(f"{url}/users/laerer-oidc", json=TEACHER_CLAIMS)
        assert answer.status_code == 204
        yield url


@pytest.fixture(scope="module")
def oidc_platform(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiPlatform]:
    discovery = httpx.get(f"{provider}/.well-known/openid-configuration").json()
    started = ApiPlatform(
        tmp_path_factory.mktemp("web-oidc"),
        auth="oidc",
        oidc_issuer=discovery["issuer"],
        # The provider's access tokens are opaque: the API takes its ID tokens (aud: the client).
        oidc_audience=CLIENT_ID,
        oidc_jwks_url=discovery["jwks_uri"],
        oidc_client_id=CLIENT_ID,
        # A server-side inbox is a confidential client (the secret never reaches a browser).
        oidc_client_secret="sagsflow-web-secret",  # noqa: S106 - the test provider takes any
    ).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.slow
async def test_staff_sign_in_at_the_identity_provider_with_pkce(
    oidc_platform: ApiPlatform,
    provider: str,
    browser: Browser,  # noqa: F811
) -> None:
    authorize: list[str] = []

    async def local_only(route: Route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            await route.continue_()
        else:
            await route.abort()

    def seen(request: Request) -> None:
        if "/oauth2/authorize" in request.url:
            authorize.append(request.url)

    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.route("**/*", local_only)
    page.on("request", seen)

    await page.goto(f"{oidc_platform.url}/opgaver")  # signed out: to the sign-in page
    await expect(page.get_by_role("heading", level=1)).to_have_text("Log ind")
    inspector = Inspector()
    await inspector.check(page, "signin-oidc")
    assert inspector.violations == [], inspector.violations
    await page.get_by_role("link", name="Log ind med kommunens login").click()
    await page.locator("input[name=sub]").fill("laerer-oidc")
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url(f"{oidc_platform.url}/opgaver")
    await expect(page.get_by_role("status")).to_have_text("Du er logget ind som Lærer Oidc.")
    await expect(page.locator(".who")).to_have_text("Lærer Oidc")

    asked = parse_qs(urlparse(authorize[0]).query)
    assert asked["code_challenge_method"] == ["S256"]
    assert len(asked["code_challenge"][0]) == 43  # base64url of a SHA-256 digest
    assert asked["state"][0] and asked["nonce"][0] and asked["client_id"] == [CLIENT_ID]

    # The session is server-side: the cookie holds an id, never the token.
    cookies = {c["name"]: c for c in await context.cookies()}
    web = cookies["sagsflow_web"]
    assert web["httpOnly"] and web["sameSite"] == "Lax"
    assert web["value"].count(".") < 2  # not a JWT

    # A callback that this session did not start (wrong state) signs nobody in.
    fresh = await browser.new_context()
    other = await fresh.new_page()
    await other.goto(f"{oidc_platform.url}/log-ind/oidc/svar?code=stolen&state=guessed")
    await expect(other.get_by_role("alert")).to_contain_text("Login mislykkedes")
    await other.goto(f"{oidc_platform.url}/opgaver")
    await expect(other.get_by_role("heading", level=1)).to_have_text("Log ind")
    await fresh.close()

    # Signing out ends the session at once.
    await page.get_by_role("button", name="Log ud").click()
    await expect(page.get_by_role("status")).to_have_text("Du er logget ud.")
    await page.goto(f"{oidc_platform.url}/opgaver")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Log ind")
    await context.close()
