"""A case's records: participants' names, the notes as documents, and the access log."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from api import policy
from api.deps import (
    CaseNumberPath,
    CaseParams,
    CaseRequest,
    OnCase,
    ServiceDep,
    StoreDep,
    case_access,
    snapshot_of,
)
from api.errors import InvalidRequest
from api.models import (
    AccessEntry,
    AccessLogExport,
    NoteFormat,
    NoteKind,
    Participants,
    ParticipantsUpdate,
    ParticipantView,
)
from api.notes import render
from api.routes import CASE_ERRORS
from procedure.loader import ProcedureError, load_spec
from procedure.models import ProcedureSpec
from schemas.common import case_workflow_id
from service.cases import CaseService
from store import Store

router = APIRouter(prefix="/api/v1", tags=["records"])


async def _participants(service: CaseService, store: Store, case_number: str) -> Participants:
    case = await service.case_input(case_number)
    rows = {
        row.pseudonym: row for row in await store.participant_rows(case_workflow_id(case_number))
    }
    return Participants(
        case_number=case_number,
        participants=[
            ParticipantView(
                pseudonym=p.pseudonym,
                role=p.role,
                age=p.age,
                same_school=p.same_school,
                name=rows[p.pseudonym].name if p.pseudonym in rows else None,
                contact=rows[p.pseudonym].contact if p.pseudonym in rows else None,
            )
            for p in case.participants
        ],
    )


@router.get(
    "/cases/{case_number}/participants",
    response_model=Participants,
    responses=CASE_ERRORS,
    summary="Participants with names / Parter med navne",
    description="The children of the case by pseudonym, role and age, with their names and "
    "contact details where recorded. Names are kept in sagsflow's database only and shown "
    "only to the case owner and leadership of the case's school and to operators. Recorded in "
    "the access log.",
)
async def read_participants(
    case: Annotated[
        OnCase,
        Depends(case_access(policy.participants, action="read_participants", detail="names")),
    ],
    service: ServiceDep,
    store: StoreDep,
) -> Participants:
    async with case.recorded():
        return await _participants(service, store, case.case_number)


async def _names_given(
    case_number: CaseNumberPath, body: ParticipantsUpdate
) -> CaseParams[ParticipantsUpdate]:
    """The case number and body, validated, and each pseudonym named once: refused (422)
    before the case is looked up or anything logged."""
    given = [p.pseudonym for p in body.participants]
    if len(set(given)) != len(given):
        raise InvalidRequest("Hvert pseudonym højst én gang / each pseudonym at most once")
    return CaseParams(case_number=case_number, body=body)


def _names_detail(given: CaseParams[ParticipantsUpdate]) -> str:
    """Which pseudonyms' names are recorded: ids for the access log, never the names."""
    return "names=" + ",".join(sorted(p.pseudonym for p in given.body.participants))


@router.put(
    "/cases/{case_number}/participants",
    response_model=Participants,
    responses=CASE_ERRORS,
    summary="Record names / Registrer navne",
    description="Records or corrects the names and contact details behind pseudonyms of the "
    "case (each given pseudonym's are replaced). Kept in sagsflow's database only, never in "
    "Temporal. For the case owner and leadership of the case's school and operators.",
)
async def update_participants(
    case: Annotated[
        CaseRequest[CaseParams[ParticipantsUpdate]],
        Depends(
            case_access(
                policy.participants,
                action="update_participants",
                params=_names_given,
                detail=_names_detail,
            )
        ),
    ],
    service: ServiceDep,
    store: StoreDep,
) -> Participants:
    case_number, body = case.case_number, case.params.body
    async with case.recorded():
        opened = await service.case_input(case_number)
        unknown = sorted(
            {p.pseudonym for p in body.participants} - {p.pseudonym for p in opened.participants}
        )
        if unknown:
            raise InvalidRequest(
                f"Sagen har ingen parter {', '.join(unknown)} / "
                f"the case has no participants {', '.join(unknown)}"
            )
        await store.save_participant_details(
            case_workflow_id(case_number),
            case_number,
            {p.pseudonym: (p.name, p.contact) for p in body.participants},
        )
        return await _participants(service, store, case_number)


@lru_cache(maxsize=8)
def _spec(version: str) -> ProcedureSpec:
    try:
        return load_spec(version=version or None)
    except ProcedureError:
        # A version this installation does not ship: the contacts of the current card.
        return load_spec()


@dataclass(frozen=True)
class NoteParams:
    """Which note of which case, in which format."""

    case_number: str
    kind: NoteKind
    format: NoteFormat


async def _note_asked(
    case_number: CaseNumberPath,
    kind: NoteKind,
    format: Annotated[  # noqa: A002 - the query parameter's name
        NoteFormat, Query(description="markdown or html.")
    ] = NoteFormat.MARKDOWN,
) -> NoteParams:
    """The note's path and format, validated before the case is looked up or anything logged
    (a dependency of `case_access`, as the body is for the other routes)."""
    return NoteParams(case_number=case_number, kind=kind, format=format)


@router.get(
    "/cases/{case_number}/notes/{kind}",
    response_class=Response,
    responses={
        200: {
            "description": "The note as Markdown (text/markdown) or as a printable HTML page "
            "(text/html).",
            "content": {
                "text/markdown": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
        },
        **CASE_ERRORS,
    },
    summary="A case's note as a document / Sagens notat som dokument",
    description="`course`: the short note on the course of events (the approved text of "
    "`document.note`); `evaluation`: the evaluation note (`close.evaluate`). With the "
    "municipality's contacts from the procedure. `format=html` gives a printable page in which "
    "all text from staff is escaped. 404 until the note is approved. Recorded in the access "
    "log.",
)
async def read_note(
    case: Annotated[
        CaseRequest[NoteParams],
        Depends(
            case_access(
                policy.read_case,
                action="read_note",
                params=_note_asked,
                detail=lambda given: f"note={given.kind.value}; format={given.format.value}",
            )
        ),
    ],
    service: ServiceDep,
) -> Response:
    async with case.recorded():
        snapshot = await snapshot_of(service, case.case_number)
        spec = await asyncio.to_thread(_spec, snapshot.procedure_version)
        document = render(snapshot, case.params.kind, spec)
    if case.params.format == NoteFormat.HTML:
        return Response(document.html, media_type="text/html; charset=utf-8")
    return Response(document.markdown, media_type="text/markdown; charset=utf-8")


@router.get(
    "/cases/{case_number}/access-log",
    response_model=AccessLogExport,
    responses=CASE_ERRORS,
    summary="Export a case's access log / Udlever sagens adgangslog",
    description="Every read of and action on the case — who, when, what, why and whether it "
    "was allowed — for the data subject's right of access. For leadership of the case's "
    "school and operators. The export itself is logged first, so it is included.",
)
async def export_access_log(
    case: Annotated[
        OnCase, Depends(case_access(policy.export_access_log, action="export_access_log"))
    ],
    store: StoreDep,
) -> AccessLogExport:
    async with case.recorded():
        rows = await store.list_access(case.case_number)
    return AccessLogExport(
        case_number=case.case_number,
        exported_at=datetime.now(UTC),
        entries=[
            AccessEntry(
                at=row.at,
                actor_id=row.actor_id,
                actor_roles=[role for role in row.actor_roles.split(",") if role],
                action=row.action,
                case_number=row.case_number,
                purpose=row.purpose,
                outcome=row.outcome,
                detail=row.detail,
            )
            for row in rows
        ],
    )
