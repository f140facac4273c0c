"""What every page of the web inbox shares: the templates, the session of the request, the
answers (a page, a redirect, a refusal in the API's words), the CSRF check of a posted form,
the check that a path can name a case, and the model's refusals by field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from api.deps import CASE_NUMBER_PATTERN
from api.web import view
from api.web.client import ApiClient, ApiError
from api.web.forms import (
    danish_error,
)
from api.web.sessions import COOKIE, Session, WebSessions, same_token
from schemas.common import TASK_ID_PATTERN

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["when"] = view.when
templates.env.filters["day"] = view.day
templates.env.filters["danish"] = view.danish
templates.env.globals["step_of"] = view.step_of

# The pages' own policy: scripts, styles and images from sagsflow only, forms to itself, never
# in a frame. The OIDC sign-in leaves by a link, not a form.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
NOTE_KINDS_DA = {"course": "Notat om forløbet", "evaluation": "Evalueringsnotat"}


class SignInNeeded(Exception):
    """No session, or the API no longer takes its token: sign in (again)."""


# --- sessions and answers ------------------------------------------------------------------


def sessions(request: Request) -> WebSessions:
    found: WebSessions = request.app.state.web_sessions
    return found


def session_of(request: Request) -> Session:
    """The visitor's session; a new, signed-out one for a first visit (one per request)."""
    known: Session | None = getattr(request.state, "web_session", None)
    if known is None:
        known = sessions(request).get(request.cookies.get(COOKIE)) or sessions(request).new()
        request.state.web_session = known
    return known


def signed_in(request: Request) -> tuple[Session, ApiClient]:
    session = session_of(request)
    if session.token is None:
        raise SignInNeeded
    return session, ApiClient(request.app, session.token)


def with_cookie(request: Request, response: Response, session: Session) -> Response:
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https"
        or str(request.app.state.settings.web_base_url or "").startswith("https://"),
        path="/",
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"  # case data never stays in a browser cache
    return response


def page(
    request: Request, session: Session, template: str, status: int = 200, **context: Any
) -> Response:
    flash, session.flash = session.flash, None
    response = templates.TemplateResponse(
        request,
        template,
        {"session": session, "flash": flash, "csrf": session.csrf, **context},
        status_code=status,
    )
    return with_cookie(request, response, session)


def go(request: Request, session: Session, url: str, flash: str | None = None) -> Response:
    if flash:
        session.flash = flash
    return with_cookie(request, RedirectResponse(url, status_code=303), session)


def refused(request: Request, session: Session, error: ApiError) -> Response:
    """A page that cannot be shown: no such case (also one that is not theirs), not allowed,
    or not available right now — in the API's words."""
    if error.status == 401:
        raise SignInNeeded
    titles = {
        404: "Sagen findes ikke",
        403: "Ingen adgang",
        409: "Sagen er afsluttet",
        429: "For mange beskeder lige nu",
    }
    return page(
        request,
        session,
        "refused.html",
        status=error.status if error.status in (403, 404, 409, 422, 429) else 503,
        title=titles.get(error.status, "Ikke muligt lige nu"),
        error=error,
    )


async def posted(request: Request, session: Session) -> Any:
    """The form, once its CSRF token is the session's; a forged form is refused (403)."""
    form = await request.form()
    token = form.get("csrf")
    if not same_token(token if isinstance(token, str) else None, session.csrf):
        raise ForgedForm
    return form


class ForgedForm(Exception):
    """A form without the session's CSRF token."""


_CASE_NUMBER = re.compile(str(CASE_NUMBER_PATTERN))
_TASK_ID = re.compile(TASK_ID_PATTERN)


class NoSuchCase(Exception):
    """A path that cannot name a case or task: answered as a case that does not exist."""


def on_case(request: Request, case_number: str, task_id: str = "") -> tuple[Session, ApiClient]:
    """`signed_in` for a page on a case (or one of its tasks): a case number or task id that
    cannot be one is the page of a case that does not exist, and never reaches the API as a path
    of another shape."""
    session, api = signed_in(request)
    if not _CASE_NUMBER.fullmatch(case_number) or (task_id and not _TASK_ID.fullmatch(task_id)):
        raise NoSuchCase
    return session, api


def case_url(case_number: str, *rest: str) -> str:
    return "/".join([f"/sager/{quote(case_number, safe='')}", *(quote(r, safe="") for r in rest)])


def model_errors(model: type[BaseModel], body: dict[str, Any], prefix: str) -> dict[str, str]:
    try:
        model.model_validate(body)
    except ValidationError as exc:
        found: dict[str, str] = {}
        for error in exc.errors(include_url=False):
            name = f"{prefix}-{'-'.join(str(part) for part in error['loc'])}"
            found.setdefault(name, danish_error(error))
        return found
    return {}


def may_act(session: Session, task: dict[str, Any]) -> bool:
    if session.has_role("operator"):
        return True
    if task["key"] == "treat.press" and session.has_role("communications"):
        return True
    return session.has_role(task["role"])
