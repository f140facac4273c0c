"""Udfør opgave: a task's form, made from its decision model, and its completion through the
API's validated update; refusals beside their field, the reason field when the case asks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.web import view
from api.web.base import (
    case_url,
    go,
    on_case,
    page,
    posted,
    refused,
)
from api.web.client import ApiClient, ApiError
from api.web.forms import (
    FormField,
    form_fields,
    read_form,
    refused_fields,
    validate,
)
from api.web.sessions import Session
from schemas.decisions import DECISION_TYPES
from workflows.rejections import REASON_REQUIRED

router = APIRouter(include_in_schema=False)


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
    posted_key: str | None = None,
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
    if posted_key != task["key"]:
        fields = None  # a form posted for another task is not shown again as this one's
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
    session, api = on_case(request, case_number, task_id)
    return await _task_page(request, session, api, case_number, task_id)


@router.post("/sager/{case_number}/opgaver/{task_id}")
async def complete_task(request: Request, case_number: str, task_id: str) -> Response:
    session, api = on_case(request, case_number, task_id)
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
            if REASON_REQUIRED in error.detail:
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
            posted_key=key,
            reason=reason,
            reason_error=reason_error,
            problems=problems,
            status=422,
        )
    back = "/opgaver" if session.press_only else case_url(case_number)
    return go(request, session, back, "Opgaven er udført.")
