"""The inbox's pages: Mine opgaver, Sager, Sagen, Udfør opgave, Opret sag, the press view and
the printable note, with the small forms on a case (note, new incident, press inquiry,
withdrawal, reassignment).

Every page reads through the HTTP API and every form acts through it (web.client), signed in as
the member of staff; a refusal is shown as the API gave it, in Danish, beside the field it is
about where there is one. Forms carry the session's CSRF token and answer with a redirect
(post/redirect/get), so a reload never sends an action twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from api.deps import CASE_NUMBER_PATTERN
from api.models import (
    NewIncidentRequest,
    OpenCaseRequest,
    PressInquiryRequest,
    ReassignRequest,
    TimelineNoteRequest,
    WithdrawRequest,
)
from api.web import view
from api.web.client import ApiClient, ApiError
from api.web.forms import (
    FormField,
    danish_error,
    form_fields,
    place_errors,
    read_form,
    refused_fields,
    validate,
)
from api.web.sessions import COOKIE, Session, WebSessions, same_token
from procedure.loader import packaged_cards
from schemas.common import MAX_PARTICIPANTS, TASK_ID_PATTERN, ParticipantRole, ViolationType
from schemas.decisions import DECISION_TYPES

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
NEW_CASE_ROWS = 5  # participant rows on the form to open a case
REASON_RULE = "skal begrundes"  # the case's refusal of a departure without a reason
NOTE_KINDS_DA = {"course": "Notat om forløbet", "evaluation": "Evalueringsnotat"}

router = APIRouter(include_in_schema=False)


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


def no_such_case(
    request: Request, session: Session, case_number: str, task_id: str = ""
) -> Response | None:
    """A case number or task id that cannot be one gets the page of a case that does not exist
    (and never reaches the API as a path of another shape)."""
    if _CASE_NUMBER.fullmatch(case_number) and (not task_id or _TASK_ID.fullmatch(task_id)):
        return None
    return refused(request, session, ApiError(404, "Sagen findes ikke / No such case"))


def case_url(case_number: str, *rest: str) -> str:
    return "/".join([f"/sager/{quote(case_number, safe='')}", *(quote(r, safe="") for r in rest)])


# --- Mine opgaver, Sager --------------------------------------------------------------------


@router.get("/")
async def home(request: Request) -> Response:
    session = session_of(request)
    return go(request, session, "/opgaver" if session.signed_in else "/log-ind")


@router.get("/opgaver", response_class=HTMLResponse)
async def my_tasks(request: Request) -> Response:
    session, api = signed_in(request)
    try:
        inbox = await api.get("/inbox", page_size=100)
    except ApiError as error:
        return refused(request, session, error)
    tasks = inbox["tasks"]
    for task in tasks:
        task["step"] = view.step_of(task["key"])
    return page(request, session, "inbox.html", tasks=tasks, more=inbox["next_page"] is not None)


@router.get("/sager", response_class=HTMLResponse)
async def case_list(request: Request) -> Response:
    session, api = signed_in(request)
    if session.press_only:
        return go(request, session, "/opgaver")
    try:
        listed = await api.get("/cases", page_size=100)
    except ApiError as error:
        return refused(request, session, error)
    return page(request, session, "cases.html", cases=listed["cases"])


# --- Sagen ----------------------------------------------------------------------------------


def _may_act(session: Session, task: dict[str, Any]) -> bool:
    if session.has_role("operator"):
        return True
    if task["key"] == "treat.press" and session.has_role("communications"):
        return True
    return session.has_role(task["role"])


async def _case_page(
    request: Request,
    session: Session,
    api: ApiClient,
    case_number: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    open_form: str | None = None,
) -> Response:
    if session.press_only:
        return await _press_page(request, session, api, case_number)
    try:
        snapshot = await api.get(f"/cases/{quote(case_number, safe='')}")
    except ApiError as error:
        return refused(request, session, error)
    spec = view.card(snapshot.get("procedure_version"))
    now = datetime.now(UTC)
    for task in snapshot["open_tasks"]:
        task["overdue"] = datetime.fromisoformat(task["due_at"]) <= now
        known = spec.tasks.get(task["key"])
        task["guidance"] = known.guidance if known else ""
        task["may_act"] = _may_act(session, task)
    recommendation = snapshot.get("recommendation")
    notes = [
        (kind, title)
        for kind, title in NOTE_KINDS_DA.items()
        if any(
            t["key"] == ("document.note" if kind == "course" else "close.evaluate")
            for t in snapshot["done_tasks"]
        )
    ]
    return page(
        request,
        session,
        "case.html",
        status=status,
        case=snapshot,
        path=view.path_of(snapshot["phase"], snapshot["status"]),
        contacts=spec.contacts,
        basis=view.legal_basis(recommendation["rules"]) if recommendation else [],
        notes=notes,
        errors=errors or {},
        values=values or {},
        open_form=open_form,
        may_withdraw=session.has_role("case_owner", "leadership", "operator"),
        may_reassign=session.has_role("case_owner", "leadership", "operator"),
        running=snapshot["status"] == "active",
    )


@router.get("/sager/{case_number}", response_class=HTMLResponse)
async def case_page(request: Request, case_number: str) -> Response:
    session, api = signed_in(request)
    if (bad := no_such_case(request, session, case_number)) is not None:
        return bad
    return await _case_page(request, session, api, case_number)


async def _press_page(
    request: Request, session: Session, api: ApiClient, case_number: str
) -> Response:
    try:
        press = await api.get(f"/cases/{quote(case_number, safe='')}/press")
    except ApiError as error:
        return refused(request, session, error)
    for task in press["press_tasks"]:
        task["may_act"] = task["status"] == "open" and _may_act(session, task)
    return page(
        request,
        session,
        "press.html",
        press=press,
        path=view.path_of(press["phase"], press["status"]),
    )


@router.get("/sager/{case_number}/presse", response_class=HTMLResponse)
async def press_page(request: Request, case_number: str) -> Response:
    session, api = signed_in(request)
    if (bad := no_such_case(request, session, case_number)) is not None:
        return bad
    return await _press_page(request, session, api, case_number)


@router.get("/sager/{case_number}/notat/{kind}")
async def printable_note(request: Request, case_number: str, kind: str) -> Response:
    """The API's printable note (its own HTML and policy: no scripts, no links)."""
    session, api = signed_in(request)
    if (bad := no_such_case(request, session, case_number)) is not None:
        return bad
    if kind not in NOTE_KINDS_DA:
        return refused(request, session, ApiError(404, "Notatet findes ikke / No such note"))
    try:
        answer = await api.text(
            f"/cases/{quote(case_number, safe='')}/notes/{quote(kind, safe='')}", format="html"
        )
    except ApiError as error:
        return refused(request, session, error)
    response = HTMLResponse(answer.text)
    for name in ("content-security-policy", "x-frame-options", "referrer-policy"):
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the small forms on a case ---------------------------------------------------------------

# form name → (the API's path under the case, its request model, the field refusals go beside)
CASE_FORMS: dict[str, tuple[str, type[BaseModel], str]] = {
    "note": ("timeline/notes", TimelineNoteRequest, "text"),
    "incident": ("incidents", NewIncidentRequest, "description"),
    "press": ("press-inquiries", PressInquiryRequest, "medium"),
    "withdraw": ("withdraw", WithdrawRequest, "reason"),
}
DONE_DA = {
    "note": "Bemærkningen er sendt til sagen.",
    "incident": "Den nye hændelse er sendt til sagen.",
    "press": "Pressehenvendelsen er registreret; kommunikationsafdelingen får en opgave.",
    "withdraw": "Sagen er trukket tilbage.",
    "reassign": "Opgaven er givet videre.",
}


def _model_errors(model: type[BaseModel], body: dict[str, Any], prefix: str) -> dict[str, str]:
    try:
        model.model_validate(body)
    except ValidationError as exc:
        found: dict[str, str] = {}
        for error in exc.errors(include_url=False):
            name = f"{prefix}-{'-'.join(str(part) for part in error['loc'])}"
            found.setdefault(name, danish_error(error))
        return found
    return {}


@dataclass(frozen=True)
class CaseForm:
    """A small form on the case page, read: where it goes under the case, what it sends, the
    model's refusals, and the field the API's own refusal is shown beside."""

    path: str
    body: dict[str, Any]
    errors: dict[str, str]
    refusal_beside: str


async def _send_case_form(
    request: Request,
    session: Session,
    api: ApiClient,
    case_number: str,
    sent: CaseForm,
    *,
    values: dict[str, str],
    done: str,
    open_form: str | None = None,
) -> Response:
    """Sends a valid small form to the API; a refusal (the model's or the API's) shows the
    case page again with the form as it was sent, the refusal beside its field."""
    errors = sent.errors
    if not errors:
        try:
            await api.post(f"/cases/{quote(case_number, safe='')}/{sent.path}", sent.body)
        except ApiError as error:
            if error.status in (401, 403, 404):
                return refused(request, session, error)
            errors = {sent.refusal_beside: error.detail}
    if errors:
        return await _case_page(
            request,
            session,
            api,
            case_number,
            status=422,
            errors=errors,
            values=values,
            open_form=open_form,
        )
    return go(request, session, case_url(case_number), done)


@router.post("/sager/{case_number}/handling/{form_name}")
async def case_action(request: Request, case_number: str, form_name: str) -> Response:
    session, api = signed_in(request)
    if (bad := no_such_case(request, session, case_number)) is not None:
        return bad
    form = await posted(request, session)
    if form_name not in CASE_FORMS:
        return go(request, session, case_url(case_number))
    path, model, main_field = CASE_FORMS[form_name]
    body: dict[str, Any] = {
        name: str(form.get(f"{form_name}-{name}", "")).strip()
        for name in model.model_fields
        if form.get(f"{form_name}-{name}") not in (None, "")
    }
    values = {f"{form_name}-{name}": str(value) for name, value in body.items()}
    if "reopen_assessment" in model.model_fields:
        reopen = form.get(f"{form_name}-reopen_assessment") == "ja"
        body["reopen_assessment"] = reopen
        values[f"{form_name}-reopen_assessment"] = "ja" if reopen else "nej"
    return await _send_case_form(
        request,
        session,
        api,
        case_number,
        CaseForm(path, body, _model_errors(model, body, form_name), f"{form_name}-{main_field}"),
        values=values,
        open_form=form_name,
        done=DONE_DA[form_name],
    )


@router.post("/sager/{case_number}/opgaver/{task_id}/giv-videre")
async def reassign(request: Request, case_number: str, task_id: str) -> Response:
    session, api = signed_in(request)
    if (bad := no_such_case(request, session, case_number, task_id)) is not None:
        return bad
    form = await posted(request, session)
    assignee = str(form.get("assignee", "")).strip()
    name = f"reassign-{task_id}"
    body = {"assignee": assignee}
    return await _send_case_form(
        request,
        session,
        api,
        case_number,
        CaseForm(
            f"tasks/{quote(task_id, safe='')}/reassign",
            body,
            _model_errors(ReassignRequest, body, name),
            f"{name}-assignee",
        ),
        values={f"{name}-assignee": assignee},
        done=DONE_DA["reassign"],
    )


# --- Udfør opgave ---------------------------------------------------------------------------


async def _task_and_case(
    api: ApiClient, session: Session, case_number: str, task_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The open task and what the form shows of its case (comms: the press view)."""
    number = quote(case_number, safe="")
    if session.press_only:
        press = await api.get(f"/cases/{number}/press")
        tasks = press["press_tasks"]
        shown = {"case_number": press["case_number"], "procedure_version": None}
    else:
        shown = await api.get(f"/cases/{number}")
        tasks = shown["open_tasks"]
    task = next((t for t in tasks if t["task_id"] == task_id and t["status"] == "open"), None)
    return task, shown


async def _task_page(
    request: Request,
    session: Session,
    api: ApiClient,
    case_number: str,
    task_id: str,
    *,
    fields: list[FormField] | None = None,
    reason: str = "",
    reason_error: str | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    try:
        task, shown = await _task_and_case(api, session, case_number, task_id)
    except ApiError as error:
        return refused(request, session, error)
    if task is None:
        return refused(
            request,
            session,
            ApiError(
                404,
                f"Opgaven {task_id} er ikke åben i sag {case_number} / "
                f"Task {task_id} is not open in case {case_number}",
            ),
        )
    model = DECISION_TYPES[task["key"]]
    spec = view.card(shown.get("procedure_version"))
    known = spec.tasks.get(task["key"])
    recommendation = shown.get("recommendation")
    return page(
        request,
        session,
        "task.html",
        status=status,
        task=task,
        case_number=case_number,
        guidance=known.guidance if known else "",
        contacts=spec.contacts,
        fields=fields if fields is not None else form_fields(model),
        recommendation=recommendation,
        basis=view.legal_basis(recommendation["rules"]) if recommendation else [],
        reason=reason,
        reason_error=reason_error,
        problems=problems or [],
        invalid=refused_fields(fields) if fields is not None else [],
        back=case_url(case_number, "presse") if session.press_only else case_url(case_number),
    )


@router.get("/sager/{case_number}/opgaver/{task_id}", response_class=HTMLResponse)
async def task_form(request: Request, case_number: str, task_id: str) -> Response:
    session, api = signed_in(request)
    if (bad := no_such_case(request, session, case_number, task_id)) is not None:
        return bad
    return await _task_page(request, session, api, case_number, task_id)


@router.post("/sager/{case_number}/opgaver/{task_id}")
async def complete_task(request: Request, case_number: str, task_id: str) -> Response:
    session, api = signed_in(request)
    if (bad := no_such_case(request, session, case_number, task_id)) is not None:
        return bad
    form = await posted(request, session)
    key = str(form.get("task_key", ""))
    if key not in DECISION_TYPES:
        return go(request, session, case_url(case_number))
    model = DECISION_TYPES[key]
    fields = form_fields(model)
    decision = {"task": key, **read_form(fields, form)}
    reason = str(form.get("reason", "")).strip()
    problems, invalid = validate(model, fields, decision)
    reason_error = None
    if not invalid:
        body: dict[str, Any] = {"decision": decision}
        if reason:
            body["reason"] = reason
        try:
            await api.post(
                f"/cases/{quote(case_number, safe='')}/tasks/{quote(task_id, safe='')}/complete",
                body,
            )
        except ApiError as error:
            if error.status in (401, 403, 404, 409):
                return refused(request, session, error)
            if REASON_RULE in error.detail:
                reason_error = error.detail
            else:
                problems = [error.detail]
            invalid = True
    if invalid:
        return await _task_page(
            request,
            session,
            api,
            case_number,
            task_id,
            fields=fields,
            reason=reason,
            reason_error=reason_error,
            problems=problems,
            status=422,
        )
    back = "/opgaver" if session.press_only else case_url(case_number)
    return go(request, session, back, "Opgaven er udført.")


# --- Opret sag ------------------------------------------------------------------------------


def _versions(request: Request) -> list[str]:
    """The cards staff may open a case on: the configured one; in `sagsflow dev` also the
    packaged ones (the demo card's timers run in seconds: never for real cases)."""
    if not request.app.state.settings.web_dev_signin:
        return []
    found = []
    for path in packaged_cards():
        version = view.card_version(path)
        if version and version not in found:
            found.append(version)
    return found


NEW_CASE_LABELS = {
    "case_number": "Sagsnummer",
    "school_id": "Skole",
    "reported_at": "Hvornår",
    "violation_types": "Slags krænkelse",
    "offender_known": "Kendes krænkeren?",
    "parents_suspected": "Er forældrene mistænkt?",
    "participants": "Involverede børn",
    "role": "rolle",
    "age": "alder",
    "same_school": "går på skolen",
    "name": "navn",
    "contact": "kontakt",
    "procedure_version": "Handlekort",
}


def new_case_label(name: str) -> str:
    """The field a refusal on the new-case form is about, for its error summary."""
    parts = name.split("-")
    if parts[0] == "participants" and len(parts) == 3 and parts[1].isdigit():
        return f"Barn {int(parts[1]) + 1}: {NEW_CASE_LABELS.get(parts[2], parts[2])}"
    return NEW_CASE_LABELS.get(parts[0], parts[0])


def _new_case_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    now = datetime.now(UTC).astimezone(view.TIMEZONE).strftime("%Y-%m-%dT%H:%M")
    return page(
        request,
        session,
        "new_case.html",
        status=status,
        values={"reported_at": now, **(values or {})},
        errors=errors or {},
        problems=problems or [],
        schools=[s for s in session.schools if s != "*"],
        any_school="*" in session.schools,
        violations=[(v.value, view.danish(v, "violation")) for v in ViolationType],
        roles=[(r.value, view.danish(r, "participant_role")) for r in ParticipantRole],
        rows=range(min(NEW_CASE_ROWS, MAX_PARTICIPANTS)),
        versions=_versions(request),
        label_of=new_case_label,
    )


@router.get("/ny-sag", response_class=HTMLResponse)
async def new_case_form(request: Request) -> Response:
    session, _ = signed_in(request)
    return _new_case_page(request, session)


def _new_case_body(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The API's OpenCaseRequest from the form, and the form's values to show again."""
    values: dict[str, Any] = {k: v for k, v in form.multi_items() if k != "csrf"}
    values["violation_types"] = form.getlist("violation_types")
    reported = str(form.get("reported_at", "")).strip()
    body: dict[str, Any] = {
        "case_number": str(form.get("case_number", "")).strip(),
        "school_id": str(form.get("school_id", "")).strip(),
        "reported_at": view.local_iso(reported) if reported else None,
        "violation_types": form.getlist("violation_types"),
        "offender_known": {"ja": True, "nej": False}.get(str(form.get("offender_known"))),
        "parents_suspected": form.get("parents_suspected") == "ja",
        "participants": [],
    }
    version = str(form.get("procedure_version", "")).strip()
    if version:
        body["procedure_version"] = version
    rows: list[int] = []  # the form's row of each participant, for refusals beside it
    for index in range(NEW_CASE_ROWS):
        role = str(form.get(f"participants-{index}-role", "")).strip()
        filled = role or any(
            str(form.get(f"participants-{index}-{part}", "")).strip()
            for part in ("age", "name", "contact")
        )
        if not filled:
            continue  # an empty row: no child
        rows.append(index)
        person: dict[str, Any] = {
            "pseudonym": f"P{len(body['participants']) + 1}",
            "role": role,
            "age": str(form.get(f"participants-{index}-age", "")).strip() or None,
            "same_school": form.get(f"participants-{index}-same_school") == "ja",
        }
        for optional in ("name", "contact"):
            text = str(form.get(f"participants-{index}-{optional}", "")).strip()
            if text:
                person[optional] = text
        # Left out, not empty: the model then says what is missing ("Skal udfyldes").
        body["participants"].append({k: v for k, v in person.items() if v not in (None, "")})
    values["_rows"] = rows
    return {k: v for k, v in body.items() if v is not None}, values


@router.post("/ny-sag")
async def open_case(request: Request) -> Response:
    session, api = signed_in(request)
    form = await posted(request, session)
    body, values = _new_case_body(form)
    rows = values.pop("_rows")
    errors = {}
    for name, text in _model_errors(OpenCaseRequest, body, "new").items():
        # A participant's refusal goes beside its row on the form, which may not be its
        # place in the list (empty rows are skipped).
        parts = name.removeprefix("new-").split("-")
        if parts[0] == "participants" and len(parts) > 2 and parts[1].isdigit():
            parts[1] = str(rows[int(parts[1])])
        errors["-".join(parts)] = text
    problems: list[str] = []
    if not errors:
        try:
            await api.post("/cases", body)
        except ApiError as error:
            if error.status == 401:
                raise SignInNeeded from None
            problems = [error.detail]
    if errors or problems:
        return _new_case_page(
            request, session, values=values, errors=errors, problems=problems, status=422
        )
    return go(
        request, session, case_url(body["case_number"]), f"Sag {body['case_number']} er oprettet."
    )


__all__ = ["ForgedForm", "SignInNeeded", "place_errors", "router"]
