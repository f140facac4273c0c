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
from api.limits import MessageLimitReached, TooManyMessages
from api.models import ErrorResponse
from api.notes import NoteNotReady
from api.tokens import Unauthenticated
from procedure.loader import ProcedureError
from service.cases import (
    CaseError,
    CaseExists,
    CaseHasEnded,
    CaseNotFound,
    CaseNotProgressing,
    TaskRejected,
)
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
    413: "The request body is larger than the API takes (the limit is named); refused before "
    "it is read, nothing was done. Sending it again does not help.",
    422: "Invalid request, or the case refused it (the reason, in Danish and English). A text "
    "or list over its maximum (see the schema's maxLength/maxItems) is named with the limit; "
    "so is a case that has received all messages of a kind it takes. Sending it again does "
    "not help.",
    429: "The case has received the most messages of this kind it takes per hour (the limit "
    "is named); nothing was done. Send it again after the seconds in `Retry-After`.",
    503: "Nothing was done: the access log cannot be written, Temporal/the store does not "
    "answer, or the case is not being processed right now (its workflow task is failing; "
    "operators are alerted). Retry after the seconds in `Retry-After`.",
}


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before sending again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error codes, all with the ErrorResponse body."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        responses[code] = {"model": ErrorResponse, "description": DESCRIPTIONS[code]}
        if code == 429:
            responses[code]["headers"] = RETRY_AFTER_HEADER
    return responses


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def _limit_text(error: Any) -> str | None:
    """A text or list over its maximum, said with the limit in Danish and English."""
    kind = error.get("type")
    context = error.get("ctx") or {}
    limit = context.get("max_length")
    if limit is None:
        return None
    if kind == "string_too_long":
        return (
            f"teksten er for lang: højst {limit} tegn (grænse) / "
            f"the text is too long: at most {limit} characters (limit)"
        )
    if kind == "too_long":
        actual = context.get("actual_length")
        given = f", ikke {actual}" if actual is not None else ""
        given_en = f", not {actual}" if actual is not None else ""
        return (
            f"listen er for lang: højst {limit} elementer (grænse){given} / "
            f"the list is too long: at most {limit} items (limit){given_en}"
        )
    return None


def validation_text(errors: Iterable[Any]) -> str:
    cleaned = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        # FastAPI prefixes the source ("body", "query" …); keep it: it tells where to look.
        message = _limit_text(error) or error.get("msg", "")
        cleaned.append({"loc": loc, "msg": message})
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

    async def too_many(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TooManyMessages)
        return _json(429, str(exc), {"Retry-After": str(exc.retry_after)})

    async def not_progressing(_: Request, exc: Exception) -> JSONResponse:
        log.warning("case not progressing", case_number=getattr(exc, "case_number", None))
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
            return _json(
                422,
                "Ugyldig forespørgsel: indholdet er ikke gyldig JSON (UTF-8) / "
                "Invalid request: the body is not valid JSON (UTF-8)",
            )
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
    app.add_exception_handler(MessageLimitReached, unprocessable)
    app.add_exception_handler(TooManyMessages, too_many)
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
