"""The inbox's pages of reading: Mine opgaver, Sager, Sagen, the press view and the printable
note, with the small forms on a case (note, new incident, press inquiry, withdrawal,
reassignment). Udfør opgave is in api/web/tasks.py, Opret sag in api/web/new_case.py.

Every page reads through the HTTP API and every form acts through it (api/web/client.py),
signed in as the member of staff; a refusal is shown as the API gave it, in Danish, beside the
field it is about where there is one. Forms carry the session's CSRF token and answer with a
redirect (post/redirect/get), so a reload never sends an action twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from api.models import (
    NewIncidentRequest,
    PressInquiryRequest,
    ReassignRequest,
    TimelineNoteRequest,
    WithdrawRequest,
)
from api.web import view
from api.web.base import (
    NOTE_KINDS_DA,
    case_url,
    go,
    may_act,
    model_errors,
    on_case,
    page,
    posted,
    refused,
    session_of,
    signed_in,
)
from api.web.client import ApiClient, ApiError
from api.web.sessions import Session

router = APIRouter(include_in_schema=False)


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
        task["may_act"] = may_act(session, task)
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
    session, api = on_case(request, case_number)
    return await _case_page(request, session, api, case_number)


async def _press_page(
    request: Request, session: Session, api: ApiClient, case_number: str
) -> Response:
    try:
        press = await api.get(f"/cases/{quote(case_number, safe='')}/press")
    except ApiError as error:
        return refused(request, session, error)
    for task in press["press_tasks"]:
        task["may_act"] = task["status"] == "open" and may_act(session, task)
    return page(
        request,
        session,
        "press.html",
        press=press,
        path=view.path_of(press["phase"], press["status"]),
    )


@router.get("/sager/{case_number}/presse", response_class=HTMLResponse)
async def press_page(request: Request, case_number: str) -> Response:
    session, api = on_case(request, case_number)
    return await _press_page(request, session, api, case_number)


@router.get("/sager/{case_number}/notat/{kind}")
async def printable_note(request: Request, case_number: str, kind: str) -> Response:
    """The API's printable note (its own HTML and policy: no scripts, no links)."""
    session, api = on_case(request, case_number)
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
    session, api = on_case(request, case_number)
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
        CaseForm(path, body, model_errors(model, body, form_name), f"{form_name}-{main_field}"),
        values=values,
        open_form=form_name,
        done=DONE_DA[form_name],
    )


@router.post("/sager/{case_number}/opgaver/{task_id}/giv-videre")
async def reassign(request: Request, case_number: str, task_id: str) -> Response:
    session, api = on_case(request, case_number, task_id)
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
            model_errors(ReassignRequest, body, name),
            f"{name}-assignee",
        ),
        values={f"{name}-assignee": assignee},
        done=DONE_DA["reassign"],
    )
