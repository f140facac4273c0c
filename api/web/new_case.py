"""Opret sag: the form to open a case (pseudonyms P1, P2 … given in order; names and contacts
go to the store only), with each refusal beside the row and field it is about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.models import (
    OpenCaseRequest,
)
from api.web import view
from api.web.base import (
    SignInNeeded,
    case_url,
    go,
    model_errors,
    page,
    posted,
    signed_in,
)
from api.web.client import ApiError
from api.web.sessions import Session
from procedure.loader import packaged_cards
from schemas.common import MAX_PARTICIPANTS, ParticipantRole, ViolationType

NEW_CASE_ROWS = 5  # participant rows on the form to open a case
router = APIRouter(include_in_schema=False)


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
    for name, text in model_errors(OpenCaseRequest, body, "new").items():
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
