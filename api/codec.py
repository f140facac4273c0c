"""The codec server: the Temporal Web UI and CLI read encrypted payloads through the API process.

Temporal's remote codec protocol: `POST /codec/decode` and `POST /codec/encode`, body
`{"payloads": [...]}` in proto3 JSON, header `X-Namespace`. Both use the API's own payload
codec (the keys its Temporal client has, `core.connection`), so the codec server can never
disagree with the workers about keys.

Who may: operators only, authenticated as for the API — `Authorization: Bearer <token>`
(tokens file or OIDC; the CLI's `--codec-auth`, the production UI's "pass access token"), or
the cookie that `/codec/session` sets for a browser, because the dev server's Web UI has no
login of its own and can only send cookies ("include cross-origin credentials"). Every
decode and encode, allowed or denied, is in the access log (action `codec_decode` /
`codec_encode`, no case number: the payloads do not say which case they belong to; the detail
is the payload count).

Refusals are `text/plain`, not the API's JSON: the Web UI takes any JSON answer for decoded
payloads (and would show nothing), while a text answer makes it keep the payloads as they are —
ciphertext — and mark the codec server as failing.

CORS (for the Web UI's origin, SAGSFLOW_CODEC_CORS_ORIGINS) applies to /codec only, never to
/api/v1. The routes are not in the API's OpenAPI document: they are Temporal's protocol.
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from google.protobuf import json_format
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from api.access import AccessDenied, AccessLogUnavailable, Audit, clean_purpose
from api.auth import AuthenticationUnavailable, Authenticator
from api.deps import recorded
from api.staff import Staff
from api.tokens import Unauthenticated
from core.codec import PayloadKeyError
from core.settings import ApiSettings

CODEC_PREFIX = "/codec"
SESSION_COOKIE = "sagsflow_codec"
SESSION_SECONDS = 8 * 3600
# A history event's payloads are at most a few MB (Temporal's blob limit is 2 MB each).
MAX_BODY_BYTES = 8 * 1024 * 1024
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Namespace", "X-Purpose")
CORS_MAX_AGE_SECONDS = 600

Direction = Literal["decode", "encode"]

router = APIRouter(prefix=CODEC_PREFIX, include_in_schema=False)


class CodecRefused(Exception):
    """The request is refused with `status`; the text says why (da / en)."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.headers = headers


NOT_CONFIGURED = (
    "Payload-kryptering er ikke sat op i API'et (SAGSFLOW_PAYLOAD_KEYS_FILE), så der er intet "
    "at afkode / Payload encryption is not configured for the API (SAGSFLOW_PAYLOAD_KEYS_FILE): "
    "there is nothing to decode"
)
ONLY_OPERATORS = (
    "Kun rollen operator kan læse og skrive Temporal-payloads / "
    "Only the role operator can decode and encode Temporal payloads"
)


@router.post("/decode")
async def decode(request: Request) -> Response:
    return await _convert(request, "decode")


@router.post("/encode")
async def encode(request: Request) -> Response:
    return await _convert(request, "encode")


async def _convert(request: Request, direction: Direction) -> Response:
    action = f"codec_{direction}"
    try:
        codec, namespace = _codec_of(request)
        staff = await _staff_of(request)
        audit = _audit_of(request, staff)
        if not staff.is_operator:
            await audit.denied(action, None, ONLY_OPERATORS)
        _check_namespace(request, namespace)
        payloads = await _payloads_of(request)
        count = str(len(payloads.payloads))
        # Logged before anything is decrypted: no read without its entry.
        await audit.allowed(action, None, count)
        async with recorded(audit, action, None, count):
            convert = codec.decode if direction == "decode" else codec.encode
            converted = await convert(list(payloads.payloads))
    except AccessDenied as exc:
        return _refusal(403, str(exc))
    except CodecRefused as exc:
        return _refusal(exc.status, str(exc), exc.headers)
    except Unauthenticated as exc:
        return _refusal(401, str(exc), {"WWW-Authenticate": "Bearer"})
    except (AccessLogUnavailable, AuthenticationUnavailable) as exc:
        return _refusal(503, str(exc), {"Retry-After": "5"})
    except PayloadKeyError as exc:
        return _refusal(422, f"Payloads kan ikke åbnes / Payloads cannot be opened: {exc}")
    body: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=converted))
    body.setdefault("payloads", [])
    return JSONResponse(body)


def _refusal(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(text, status_code=status, headers=headers)


def _codec_of(request: Request) -> tuple[PayloadCodec, str]:
    """The API's own payload codec and namespace (from its Temporal client)."""
    service = getattr(request.app.state, "service", None)
    client = getattr(service, "client", None)
    codec = getattr(getattr(client, "data_converter", None), "payload_codec", None)
    if client is None or codec is None:
        raise CodecRefused(503, NOT_CONFIGURED)
    return codec, client.namespace


async def _staff_of(request: Request) -> Staff:
    """The caller: the bearer token, else the browser's codec session cookie."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "Send 'Authorization: Bearer <token>' / Send 'Authorization: Bearer <token>'"
            )
    else:
        session = request.cookies.get(SESSION_COOKIE, "")
        kept = _sessions(request).token(session) if session else ""
        if kept is None:
            raise Unauthenticated(
                f"Sessionen er udløbet eller logget ud: log ind igen på {CODEC_PREFIX}/session / "
                f"The session has expired or was signed out: sign in again at "
                f"{CODEC_PREFIX}/session"
            )
        # The session's token is checked again below, on every request: one revoked or
        # expired since sign-in opens nothing.
        token = kept
    if not token.strip():
        raise Unauthenticated(
            "Log ind: send 'Authorization: Bearer <token>' (temporal --codec-auth) eller log ind "
            f"på {CODEC_PREFIX}/session / Authentication required: send 'Authorization: Bearer "
            f"<token>' (temporal --codec-auth) or sign in at {CODEC_PREFIX}/session"
        )
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.authenticate(token.strip())


def _audit_of(request: Request, staff: Staff) -> Audit:
    default = request.app.state.settings.default_purpose
    purpose = clean_purpose(request.headers.get("X-Purpose"), default)
    return Audit(staff, purpose, request.app.state.access_log)


def _check_namespace(request: Request, namespace: str) -> None:
    asked = request.headers.get("X-Namespace", "").strip()
    if not asked:
        raise CodecRefused(400, "Headeren X-Namespace mangler / The X-Namespace header is missing")
    if asked != namespace:
        raise CodecRefused(
            403,
            f"Denne codec-server betjener kun namespace '{namespace}' / "
            f"This codec server serves namespace '{namespace}' only",
        )


async def _payloads_of(request: Request) -> Payloads:
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise CodecRefused(413, "For mange payloads / Too many payloads")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise CodecRefused(413, "For mange payloads / Too many payloads")
    try:
        return json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        raise CodecRefused(
            400,
            'Kroppen skal være {"payloads": [...]} i proto3-JSON / '
            f'The body must be {{"payloads": [...]}} in proto3 JSON ({type(exc).__name__})',
        ) from exc


# -- a browser session for the Web UI ------------------------------------------------------

_SESSION_PAGE = """<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>sagsflow codec</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>sagsflow · codec-server</h1>
{body}
</body></html>
"""

_SIGN_IN_FORM = """<p>Log ind som operator, så Temporal Web UI kan vise sagernes payloads i klartekst
i denne browser. / Sign in as an operator so the Temporal Web UI shows the cases' payloads
decrypted in this browser.</p>
<form method="post" action="{prefix}/session">
<label>Token: <input type="password" name="token" autocomplete="off" size="40" required></label>
<button type="submit">Log ind / Sign in</button>
</form>"""  # noqa: E501 - served as it is: no line of the page is re-wrapped for the linter

_SIGNED_IN = """<p>Logget ind som <b>{staff}</b> i {hours} timer. / Signed in as <b>{staff}</b> for
{hours} hours.</p>
<p>I Web UI'et: åbn codec-indstillingerne, behold endpointet <code>{endpoint}</code> og slå
<i>Include cross-origin credentials</i> til; åbn UI'et på samme vært som codec-serveren
(fx 127.0.0.1). / In the Web UI: open the codec server settings, keep the endpoint
<code>{endpoint}</code> and turn on <i>Include cross-origin credentials</i>; open the UI on the
same host as the codec server (e.g. 127.0.0.1).</p>
<form method="post" action="{prefix}/session/end"><button type="submit">Log ud / Sign out</button>
</form>"""


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_SESSION_PAGE.format(body=body), status_code=status)


@router.get("/session")
async def session_form() -> HTMLResponse:
    return _page(_SIGN_IN_FORM.format(prefix=CODEC_PREFIX))


@router.post("/session")
async def sign_in(request: Request) -> Response:
    """Checks the token (operators only, logged as `codec_session`) and starts a session: a
    random id in an HttpOnly, SameSite=Strict cookie for /codec (the dev UI sends it with its
    codec requests), the operator and the expiry here. The token itself is never a cookie."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    try:
        if not token:
            raise Unauthenticated("Skriv et token / Enter a token")
        staff = await request.app.state.authenticator.authenticate(token)
        audit = _audit_of(request, staff)
        if not staff.is_operator:
            await audit.denied("codec_session", None, ONLY_OPERATORS)
        await audit.allowed("codec_session", None)
    except Unauthenticated as exc:
        return _page(f"<p>{html.escape(str(exc))}</p>", 401)
    except AccessDenied as exc:
        return _page(f"<p>{html.escape(str(exc))}</p>", 403)
    except (AccessLogUnavailable, AuthenticationUnavailable) as exc:
        return _page(f"<p>{html.escape(str(exc))}</p>", 503)
    endpoint = str(request.url_for("decode")).removesuffix("/decode")
    response = _page(
        _SIGNED_IN.format(
            staff=html.escape(staff.id),
            hours=SESSION_SECONDS // 3600,
            prefix=CODEC_PREFIX,
            endpoint=html.escape(endpoint),
        )
    )
    response.set_cookie(
        SESSION_COOKIE,
        _sessions(request).start(token),
        max_age=SESSION_SECONDS,
        path=CODEC_PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/session/end")
async def sign_out(request: Request) -> Response:
    _sessions(request).end(request.cookies.get(SESSION_COOKIE, ""))
    response = _page("<p>Logget ud / Signed out.</p>")
    response.delete_cookie(SESSION_COOKIE, path=CODEC_PREFIX, httponly=True, samesite="strict")
    return response


# -- CORS for the Web UI, on /codec only -----------------------------------------------------


class CodecCORSMiddleware:
    """CORS for the Web UI's origins on /codec; every other path passes untouched."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["POST"],
            allow_headers=list(CORS_ALLOW_HEADERS),
            allow_credentials=True,
            max_age=CORS_MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == CODEC_PREFIX or path.startswith(CODEC_PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class CodecSessions:
    """The codec's browser sessions, server-side: a random id (the cookie) → the operator's
    token and when the session expires. The token stays here, never in the browser, and is
    checked again on every request (revoked or expired, it opens nothing); signing out or the
    expiry ends the session at once. Kept in the API process: after a restart the operator signs
    in again."""

    def __init__(self, seconds: float = SESSION_SECONDS) -> None:
        self.seconds = seconds
        self._sessions: dict[str, tuple[str, float]] = {}

    def start(self, token: str) -> str:
        now = time.monotonic()
        self._sessions = {k: v for k, v in self._sessions.items() if v[1] > now}
        session = secrets.token_urlsafe(32)
        self._sessions[session] = (token, now + self.seconds)
        return session

    def token(self, session: str) -> str | None:
        found = self._sessions.get(session)
        if found is None or found[1] <= time.monotonic():
            self._sessions.pop(session, None)
            return None
        return found[0]

    def end(self, session: str) -> None:
        self._sessions.pop(session, None)


def _sessions(request: Request) -> CodecSessions:
    sessions: CodecSessions = request.app.state.codec_sessions
    return sessions


def install_codec(app: FastAPI, settings: ApiSettings) -> None:
    """Mounts the codec server on `app` at /codec, with CORS for the UI's origins."""
    app.state.codec_sessions = CodecSessions()
    app.include_router(router)
    app.add_middleware(CodecCORSMiddleware, origins=settings.codec_cors_origins)
