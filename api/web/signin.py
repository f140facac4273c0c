"""Signing in to the inbox, three ways, by the API's own authentication mode:

- OIDC (production, SAGSFLOW_AUTH=oidc with SAGSFLOW_OIDC_CLIENT_ID): the authorization code
  flow with PKCE (S256), state and nonce, at the identity provider the API already trusts (its
  discovery document at the issuer). The token the session then holds is checked by the API
  like any bearer token on every page.
- `sagsflow dev` (`web_dev_signin`, set in code by `sagsflow dev` alone): a page that lists the
  demo staff of the tokens file; choosing one signs in with that person's token.
- Otherwise (a tokens file in production): the member of staff pastes their own token.

Whichever way, the API's `/me` says who signed in; the session gets a new id and CSRF token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import signing_key
from api.tokens import TokensFileError, signin_entries
from api.web.base import go, page, posted, session_of, sessions
from api.web.client import ApiClient, ApiError
from api.web.sessions import Session, same_token

router = APIRouter(include_in_schema=False)
DISCOVERY_SECONDS = 3600
CALLBACK = "/log-ind/oidc/svar"


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _mode(request: Request) -> str:
    settings = request.app.state.settings
    if settings.auth == "oidc":
        return "oidc"
    # The list signs anyone in as anyone: only for the developer at this machine.
    return "dev" if settings.web_dev_signin and settings.host in LOOPBACK else "token"


def _demo_staff(request: Request) -> list[dict[str, Any]]:
    try:
        entries = signin_entries(request.app.state.settings.tokens_file)
    except TokensFileError:
        return []
    return [
        {
            "id": staff.id,
            "name": staff.name,
            "roles": sorted(r.value for r in staff.roles),
            "schools": sorted(staff.schools),
        }
        for _, staff in entries
    ]


def _signin_page(request: Request, session: Session, error: str | None = None) -> Response:
    return page(
        request,
        session,
        "signin.html",
        status=401 if error else 200,
        mode=_mode(request),
        staff=_demo_staff(request) if _mode(request) == "dev" else [],
        error=error,
    )


@router.get("/log-ind", response_class=HTMLResponse)
async def signin_form(request: Request) -> Response:
    return _signin_page(request, session_of(request))


async def _start(request: Request, session: Session, token: str) -> Response:
    """Signs the session in with a token the API takes (its `/me`), under a new id."""
    try:
        me = await ApiClient(request.app, token).get("/me")
    except ApiError as error:
        return _signin_page(request, session, error.detail)
    session = sessions(request).renew(session)
    session.token = token
    session.staff_id, session.name = me["id"], me["name"]
    session.roles, session.schools = tuple(me["roles"]), tuple(me["schools"])
    return go(request, session, "/opgaver", f"Du er logget ind som {me['name']}.")


@router.post("/log-ind")
async def signin(request: Request) -> Response:
    session = session_of(request)
    form = await posted(request, session)
    mode = _mode(request)
    if mode == "dev":
        chosen = str(form.get("staff_id", ""))
        try:
            entries = signin_entries(request.app.state.settings.tokens_file)
        except TokensFileError as exc:
            return _signin_page(request, session, str(exc))
        token = next((t for t, staff in entries if staff.id == chosen), None)
        if token is None:
            return _signin_page(request, session, "Ukendt medarbejder / Unknown member of staff")
        return await _start(request, session, token)
    if mode == "token":
        token = str(form.get("token", "")).strip()
        if not token:
            return _signin_page(request, session, "Skriv dit token / Enter your token")
        return await _start(request, session, token)
    return go(request, session, "/log-ind")


@router.post("/log-ud")
async def signout(request: Request) -> Response:
    session = session_of(request)
    if session.signed_in:  # a session that has already ended has nothing to sign out of
        await posted(request, session)
    sessions(request).end(session)
    fresh = sessions(request).new()
    return go(request, fresh, "/log-ind", "Du er logget ud.")


# --- OIDC -------------------------------------------------------------------------------------


async def _discovery(request: Request) -> dict[str, Any]:
    """The identity provider's discovery document, fetched once an hour."""
    state = request.app.state
    cached: tuple[float, dict[str, Any]] | None = getattr(state, "oidc_discovery", None)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_SECONDS:
        return cached[1]
    issuer = request.app.state.settings.oidc_issuer.rstrip("/")
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"{issuer}/.well-known/openid-configuration")
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        # OIDC Discovery 4.3: the document must be the configured issuer's own.
        raise ValueError("the discovery document names another issuer")
    state.oidc_discovery = (time.monotonic(), document)
    return document


def _redirect_uri(request: Request) -> str:
    base = request.app.state.settings.web_base_url
    return f"{base.rstrip('/')}{CALLBACK}" if base else str(request.url_for("oidc_callback"))


NOT_SET_UP = (
    "Kommunens login er ikke sat op til indbakken (SAGSFLOW_OIDC_CLIENT_ID) / "
    "The municipality's sign-in is not set up for the inbox (SAGSFLOW_OIDC_CLIENT_ID)"
)
UNAVAILABLE = (
    "Kommunens login svarer ikke lige nu. Prøv igen om lidt / "
    "The municipality's sign-in does not answer right now. Try again shortly"
)


@router.get("/log-ind/oidc")
async def oidc_start(request: Request) -> Response:
    session = session_of(request)
    settings = request.app.state.settings
    if _mode(request) != "oidc":
        return go(request, session, "/log-ind")
    if not settings.oidc_client_id:
        return _signin_page(request, session, NOT_SET_UP)
    try:
        discovery = await _discovery(request)
    except (httpx.HTTPError, ValueError):
        return _signin_page(request, session, UNAVAILABLE)
    verifier, challenge = pkce_pair()
    session.oidc = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": verifier,
    }
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": _redirect_uri(request),
            "scope": settings.oidc_scopes,
            "state": session.oidc["state"],
            "nonce": session.oidc["nonce"],
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return go(request, session, f"{discovery['authorization_endpoint']}?{query}")


def _id_token_claims(request: Request, discovery: dict[str, Any], id_token: str) -> dict[str, Any]:
    settings = request.app.state.settings
    keys = jwt.PyJWKClient(discovery.get("jwks_uri") or settings.oidc_jwks_url, timeout=10)
    key = signing_key(keys, id_token)
    claims: dict[str, Any] = jwt.decode(
        id_token,
        key.key,
        algorithms=["RS256", "ES256"],
        audience=settings.oidc_client_id,
        issuer=settings.oidc_issuer,
        leeway=30,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != settings.oidc_client_id:
        raise jwt.InvalidAudienceError("the token was issued to another party (azp)")
    return claims


@router.get(CALLBACK, name="oidc_callback")
async def oidc_callback(request: Request) -> Response:
    session = session_of(request)
    settings = request.app.state.settings
    pending, session.oidc = session.oidc, {}
    state, code = request.query_params.get("state"), request.query_params.get("code")
    if not pending or not code or not same_token(state, pending["state"]):
        return _signin_page(
            request,
            session,
            "Login mislykkedes: start forfra / Sign-in failed: please start again",
        )
    try:
        discovery = await _discovery(request)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": _redirect_uri(request),
            "client_id": settings.oidc_client_id,
            "code_verifier": pending["verifier"],
        }
        async with httpx.AsyncClient(timeout=10) as http:
            if settings.oidc_client_secret:  # a confidential client: HTTP Basic (RFC 6749)
                auth = httpx.BasicAuth(settings.oidc_client_id, settings.oidc_client_secret)
                answer = await http.post(discovery["token_endpoint"], data=form, auth=auth)
            else:
                answer = await http.post(discovery["token_endpoint"], data=form)
        answer.raise_for_status()
        tokens = answer.json()
    except (httpx.HTTPError, ValueError, KeyError):
        return _signin_page(request, session, UNAVAILABLE)
    id_token = tokens.get("id_token")
    try:
        claims = await asyncio.to_thread(_id_token_claims, request, discovery, str(id_token))
    except (jwt.PyJWTError, httpx.HTTPError):
        claims = {}
    if not id_token or not same_token(claims.get("nonce"), pending["nonce"]):
        return _signin_page(
            request, session, "Login mislykkedes: ugyldigt svar / Sign-in failed: invalid answer"
        )
    # The API takes the access token when the provider issues it as a JWT for the API's
    # audience; a provider whose access tokens are opaque is used with the ID token instead
    # (then SAGSFLOW_OIDC_AUDIENCE is the client id).
    for token in (tokens.get("access_token"), id_token):
        if not token:
            continue
        try:
            await ApiClient(request.app, token).get("/me")
        except ApiError:
            continue
        return await _start(request, session, token)
    return _signin_page(
        request,
        session,
        "Dit login giver ikke adgang til sagsflow / Your sign-in gives no access to sagsflow",
    )
