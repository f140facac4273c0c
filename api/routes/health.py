"""Service routes: liveness, readiness and the caller (`/me`)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth import CurrentStaff
from api.errors import error_responses
from api.models import Health, Readiness, StaffView
from service.cases import CaseService
from store import Store

READY_TIMEOUT_SECONDS = 5.0

router = APIRouter(prefix="/api/v1", tags=["service"])


@router.get(
    "/health",
    response_model=Health,
    summary="Liveness / Kører processen",
    description="Answers 200 while the process runs. No authentication, no dependencies.",
)
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Temporal or the store does not answer."}},
    summary="Readiness / Klar til at tage imod",
    description="200 when Temporal and the store both answer, else 503 naming which does "
    "not. No authentication.",
)
async def ready(request: Request) -> Any:
    service: CaseService = request.app.state.service
    store: Store = request.app.state.store
    try:
        temporal_ok = await asyncio.wait_for(service.ready(), READY_TIMEOUT_SECONDS)
    except TimeoutError:
        temporal_ok = False
    try:
        await asyncio.wait_for(store.ping(), READY_TIMEOUT_SECONDS)
        store_ok = True
    except Exception:  # noqa: BLE001 - any failure (or no answer) means "not ready"
        store_ok = False
    body = Readiness(
        status="ready" if temporal_ok and store_ok else "not_ready",
        temporal=temporal_ok,
        store=store_ok,
    )
    if body.status == "ready":
        return body
    return JSONResponse(status_code=503, content=body.model_dump())


@router.get(
    "/me",
    response_model=StaffView,
    responses=error_responses(401, 503),
    summary="Who am I / Hvem er jeg",
    description="The authenticated caller: staff id, name, roles and schools, as the API "
    "uses them for access control.",
)
async def me(staff: CurrentStaff) -> StaffView:
    return StaffView(
        id=staff.id,
        name=staff.name,
        roles=sorted(staff.roles, key=lambda role: role.value),
        schools=sorted(staff.schools),
    )
