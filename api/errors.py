"""Every failure as JSON `{"detail": "dansk / English"}` with the right status code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from api.access import AccessDenied, AccessLogUnavailable, InvalidPurpose
from api.auth import AuthenticationUnavailable
from api.cases import (
    CaseError,
    CaseExists,
    CaseHasEnded,
    CaseNotFound,
    CaseNotProgressing,
    TaskRejected,
)
from api.models import ErrorResponse
from api.notes import NoteNotReady
from api.tokens import Unauthenticated
from procedure.loader import ProcedureError
from workflows.rejections import describe_errors

log = structlog.get_logger("sagsflow.api")


class InvalidRequest(Exception):
    """422: the request is well-formed but cannot be accepted; the text says why."""


class CaseEnded(Exception):
    """409: the case is closed or withdrawn."""

    def __init__(self, case_number: str) -> None:
        super().__init__(
            f"Sag {case_number} er afsluttet eller trukket tilbage / "
            f"Case {case_number} is closed or withdrawn"
        )


class CaseUnavailable(Exception):
    """503: the case (its worker) or Temporal does not answer right now."""


# How long a client waits before asking a case that is not being processed again: operators
# are alerted (sagsflow_cases_not_progressing) and a repair takes minutes, not seconds.
NOT_PROGRESSING_RETRY_AFTER = "30"


UNAVAILABLE = (
    "Sagssystemet svarer ikke lige nu. Prøv igen om lidt / "
    "The case system does not answer right now. Try again shortly"
)

DESCRIPTIONS = {
    401: "Not authenticated: no, an unknown or an invalid bearer token.",
    403: "Not allowed for this member of staff (logged in the access log as denied).",
    404: "No such case (or note not approved yet).",
    409: "The case already exists, or has ended (closed or withdrawn).",
    422: "Invalid request, or the case refused it (the reason, in Danish and English).",
    503: "Nothing was done: the access log cannot be written, Temporal/the store does not "
    "answer, or the case is not being processed right now (its workflow task is failing; "
    "operators are alerted). Retry after the seconds in `Retry-After`.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error codes, all with the ErrorResponse body."""
    return {code: {"model": ErrorResponse, "description": DESCRIPTIONS[code]} for code in codes}


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def validation_text(errors: Iterable[Any]) -> str:
    cleaned = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        # FastAPI prefixes the source ("body", "query" …); keep it: it tells where to look.
        cleaned.append({"loc": loc, "msg": error.get("msg", "")})
    return describe_errors(cleaned).replace(
        "Ugyldig besked / Invalid message", "Ugyldig forespørgsel / Invalid request", 1
    )


def install_error_handlers(app: FastAPI) -> None:
    async def unauthenticated(_: Request, exc: Exception) -> JSONResponse:
        return _json(401, str(exc), {"WWW-Authenticate": "Bearer"})

    async def denied(_: Request, exc: Exception) -> JSONResponse:
        return _json(403, str(exc))

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return _json(404, str(exc))

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return _json(409, str(exc))

    async def unprocessable(_: Request, exc: Exception) -> JSONResponse:
        return _json(422, str(exc))

    async def request_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return _json(422, validation_text(exc.errors()))

    async def not_progressing(_: Request, exc: Exception) -> JSONResponse:
        log.warning("case not progressing",
                    case_number=getattr(exc, "case_number", None))
        return _json(503, str(exc), {"Retry-After": NOT_PROGRESSING_RETRY_AFTER})

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, AccessLogUnavailable | AuthenticationUnavailable | CaseUnavailable):
            return _json(503, str(exc), {"Retry-After": "5"})
        # Temporal or the database: say so plainly, log the kind of error (no personal data).
        log.error("dependency unavailable", error=type(exc).__name__)
        return _json(503, UNAVAILABLE, {"Retry-After": "5"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:
            # FastAPI's "There was an error parsing the body" (not UTF-8, not JSON): a request
            # like any other invalid one, said in both languages, with the documented status.
            return _json(422, "Ugyldig forespørgsel: indholdet er ikke gyldig JSON (UTF-8) / "
                              "Invalid request: the body is not valid JSON (UTF-8)")
        return await http_exception_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(AccessDenied, denied)
    app.add_exception_handler(CaseNotFound, not_found)
    app.add_exception_handler(NoteNotReady, not_found)
    app.add_exception_handler(CaseExists, conflict)
    app.add_exception_handler(CaseEnded, conflict)
    app.add_exception_handler(CaseHasEnded, conflict)
    app.add_exception_handler(CaseNotProgressing, not_progressing)
    app.add_exception_handler(TaskRejected, unprocessable)
    app.add_exception_handler(InvalidRequest, unprocessable)
    app.add_exception_handler(InvalidPurpose, unprocessable)
    app.add_exception_handler(CaseError, unprocessable)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(ValidationError, request_invalid)
    for kind in (
        AccessLogUnavailable,
        AuthenticationUnavailable,
        CaseUnavailable,
        RPCError,
        SQLAlchemyError,
        ProcedureError,
        asyncio.TimeoutError,
    ):
        app.add_exception_handler(kind, unavailable)
