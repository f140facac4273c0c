"""The access log: every read of a case and every action, with who, when, what and why.

The entry is written BEFORE the data is read or the action is carried out, and a failed write
fails the request (503): the log has no gaps. Denials are logged too. Entries hold ids only
(case number, task id, pseudonyms), never names or decision texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, NoReturn
from urllib.parse import unquote

import structlog
from fastapi import Depends, Header, Request

from api.auth import CurrentStaff
from api.staff import Staff
from schemas.evidence import RULE, material_kind
from store import Store

log = structlog.get_logger("sagsflow.api.access")

ALLOWED = "allowed"
DENIED = "denied"
FAILED = "failed"
MAX_PURPOSE_LENGTH = 200


class AccessDenied(Exception):
    """403: the text says why, in Danish and English."""


class InvalidPurpose(ValueError):
    """422: the purpose header cannot be recorded as it is."""


class AccessLogUnavailable(Exception):
    """The access log could not be written: the request must fail and nothing be done."""


class AccessLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self,
        staff: Staff,
        *,
        action: str,
        case_number: str | None,
        purpose: str,
        outcome: str,
        detail: str | None = None,
    ) -> None:
        try:
            await self.store.record_access(
                at=datetime.now(UTC),
                actor_id=staff.id,
                actor_roles=[role.value for role in staff.roles],
                action=action,
                case_number=case_number,
                purpose=purpose,
                outcome=outcome,
                detail=detail,
            )
        except Exception as exc:  # noqa: BLE001 - any failure to write means "no entry"
            log.error(
                "access log write failed",
                action=action,
                case_number=case_number,
                error=type(exc).__name__,
            )
            raise AccessLogUnavailable(
                "Adgangsloggen kan ikke skrives lige nu, så handlingen er ikke udført. Prøv igen "
                "senere / The access log cannot be written right now, so nothing was done. "
                "Try again later"
            ) from exc


def clean_purpose(raw: str | None, default: str) -> str:
    """The purpose as stored: printable, one line, at most 200 characters; else the default.

    HTTP header values are bytes: UTF-8 (read as Latin-1 by the server, so re-read here) or
    percent-encoded UTF-8 ("samtale%20med%20for%C3%A6ldre") both give Danish letters.
    """
    if raw is None:
        return default
    try:
        raw = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass  # genuinely Latin-1: keep as it is
    if "%" in raw:
        raw = unquote(raw)
    text = " ".join("".join(ch for ch in raw if ch.isprintable()).split())
    return text[:MAX_PURPOSE_LENGTH] or default


@dataclass
class Audit:
    """The access log for one request: the caller and the purpose they gave."""

    staff: Staff
    purpose: str
    access_log: AccessLog

    async def allowed(
        self, action: str, case_number: str | None = None, detail: str | None = None
    ) -> None:
        await self._record(action, case_number, ALLOWED, detail)

    async def failed(self, action: str, case_number: str | None, detail: str) -> None:
        await self._record(action, case_number, FAILED, detail)

    async def refused(
        self, action: str, case_number: str | None, detail: str | None = None
    ) -> None:
        """Logs the request as denied (e.g. over a limit); the caller raises the answer."""
        await self._record(action, case_number, DENIED, detail)

    async def denied(
        self, action: str, case_number: str | None, why: str, detail: str | None = None
    ) -> NoReturn:
        await self._record(action, case_number, DENIED, detail)
        raise AccessDenied(why)

    async def check(
        self,
        denial: str | None,
        action: str,
        case_number: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Logs the request as allowed, or as denied and raises AccessDenied (403)."""
        if denial is not None:
            await self.denied(action, case_number, denial, detail)
        await self.allowed(action, case_number, detail)

    async def _record(
        self, action: str, case_number: str | None, outcome: str, detail: str | None
    ) -> None:
        await self.access_log.record(
            self.staff,
            action=action,
            case_number=case_number,
            purpose=self.purpose,
            outcome=outcome,
            detail=detail,
        )


async def audit(
    request: Request,
    staff: CurrentStaff,
    x_purpose: Annotated[
        str | None,
        Header(
            alias="X-Purpose",
            description="Why the case is read or acted on, for the access log "
            "(default 'sagsbehandling'); UTF-8, percent-encoded if it has non-ASCII letters.",
        ),
    ] = None,
) -> Audit:
    """The FastAPI dependency: the caller, authenticated, with the access log at hand."""
    default = request.app.state.settings.default_purpose
    purpose = clean_purpose(x_purpose, default)
    kind = material_kind(purpose)
    if kind is not None:
        raise InvalidPurpose(f"X-Purpose: {RULE} ({kind})")
    return Audit(staff, purpose, request.app.state.access_log)


AuditDep = Annotated[Audit, Depends(audit)]
