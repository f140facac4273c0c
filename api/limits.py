"""Bounded work at the door (issue 11): a cap on request bodies and limits per case on the
free messages a flood could send (notes, new incidents, press inquiries).

- Body cap: an ASGI middleware answers 413 before the body is parsed — at once when the
  declared Content-Length is over the cap, and as soon as a chunked body passes it (at most
  the cap is ever held in memory). The codec server keeps its own, larger cap.
- Messages per case: counted from the access log (every accepted action is logged there
  before it is carried out). Over the hourly limit: 429 with `Retry-After` (the seconds until
  the sliding hour frees a place); over the total: 422, because waiting never helps. A refused
  message is logged as denied and never reaches the case.
"""

from __future__ import annotations

import asyncio
import json
import math
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import ALLOWED, FAILED, Audit
from core.settings import ApiSettings
from store import Store
from store.models import AccessLogRow

WINDOW = timedelta(hours=1)


def size_text(limit: int) -> str:
    """'262144 bytes (256 KiB)'."""
    if limit % (1024 * 1024) == 0:
        return f"{limit} bytes ({limit // (1024 * 1024)} MiB)"
    if limit % 1024 == 0:
        return f"{limit} bytes ({limit // 1024} KiB)"
    return f"{limit} bytes"


def too_large_text(limit: int) -> str:
    size = size_text(limit)
    return (
        f"Forespørgslen er for stor: indholdet må højst fylde {size} / "
        f"The request is too large: the body may be at most {size}"
    )


class BodyLimit:
    """Refuses a request body over the cap with 413 before the application reads it."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, prefixes: Mapping[str, int] | None = None
    ) -> None:
        """`prefixes`: path prefixes with a cap of their own (the codec server's)."""
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = dict(prefixes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        path = str(scope.get("path", ""))
        for prefix, own in self.prefixes.items():
            if path == prefix or path.startswith(prefix + "/"):
                limit = own
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await _refuse(send, limit)
                return
            # The server holds the client to its Content-Length: nothing more can arrive.
            await self.app(scope, receive, send)
            return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        # Chunked (no length declared): read up to the cap, then hand the body on.
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)  # a disconnect: let the application see it
                break
            received += len(message.get("body", b""))
            if received > limit:
                await _refuse(send, limit)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _has_body(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": too_large_text(limit)}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- messages per case -----------------------------------------------------------------------


@dataclass(frozen=True)
class MessageLimit:
    """How many of one kind of message a case takes per sliding hour and in all."""

    action: str  # the access log's action, e.g. add_note
    da: str  # plural, Danish
    en: str  # plural, English
    per_hour: int
    total: int


def message_limit(settings: ApiSettings, action: str) -> MessageLimit:
    if action == "add_note":
        return MessageLimit(
            action, "bemærkninger", "notes", settings.notes_per_hour, settings.notes_total
        )
    if action == "new_incident":
        return MessageLimit(
            action,
            "nye hændelser",
            "new incidents",
            settings.incidents_per_hour,
            settings.incidents_total,
        )
    if action == "press_inquiry":
        return MessageLimit(
            action,
            "pressehenvendelser",
            "press inquiries",
            settings.press_inquiries_per_hour,
            settings.press_inquiries_total,
        )
    raise KeyError(action)


class TooManyMessages(Exception):
    """429: the case has taken its hourly share of this kind of message."""

    def __init__(self, text: str, retry_after: int) -> None:
        super().__init__(text)
        self.retry_after = retry_after


class MessageLimitReached(Exception):
    """422: the case has taken all messages of this kind it ever will."""


# One lock per case and kind within this process: a burst of parallel requests is counted
# one after the other, not all against the same count.
_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


@asynccontextmanager
async def _counting(action: str, case_number: str) -> AsyncIterator[None]:
    lock = _locks.get((action, case_number))
    if lock is None:
        lock = asyncio.Lock()
        _locks[(action, case_number)] = lock
    async with lock:
        yield


async def admit_message(
    audit: Audit,
    store: Store,
    settings: ApiSettings,
    action: str,
    case_number: str,
    detail: str | None = None,
) -> None:
    """Logs the message as allowed if the case's limits leave room for it; else logs it as
    denied and raises TooManyMessages (429) or MessageLimitReached (422)."""
    limit = message_limit(settings, action)
    async with _counting(action, case_number):
        now = datetime.now(UTC)
        total, recent = await _counts(store, action, case_number, now - WINDOW)
        if total >= limit.total:
            await audit.refused(action, case_number, _joined(detail, f"limit={limit.total} in all"))
            raise MessageLimitReached(
                f"Sagen har fået det højeste antal {limit.da} ({limit.total}) og tager ikke "
                f"imod flere / The case has received the most {limit.en} it takes "
                f"({limit.total}) and accepts no more"
            )
        if len(recent) >= limit.per_hour:
            # The place frees when so many of the hour's messages have left the window that
            # one fewer than the limit remain.
            frees_at = recent[len(recent) - limit.per_hour] + WINDOW
            seconds = max(1, math.ceil((frees_at - now).total_seconds()))
            await audit.refused(
                action, case_number, _joined(detail, f"limit={limit.per_hour} per hour")
            )
            raise TooManyMessages(
                f"Sagen har fået det højeste antal {limit.da} i timen ({limit.per_hour}); "
                f"den næste kan sendes om {seconds} sekunder / The case has received the most "
                f"{limit.en} per hour ({limit.per_hour}); the next can be sent in "
                f"{seconds} seconds",
                seconds,
            )
        await audit.allowed(action, case_number, detail)


def _joined(detail: str | None, note: str) -> str:
    return note if detail is None else f"{detail}; {note}"


async def _counts(
    store: Store, action: str, case_number: str, since: datetime
) -> tuple[int, list[datetime]]:
    """The messages of this kind the case took in all (allowed minus those that then failed),
    and the times of those allowed since `since`, oldest first."""
    of_case = (AccessLogRow.case_number == case_number) & (AccessLogRow.action == action)
    totals = (
        select(AccessLogRow.outcome, func.count())
        .where(of_case, AccessLogRow.outcome.in_((ALLOWED, FAILED)))
        .group_by(AccessLogRow.outcome)
    )
    recent = (
        select(AccessLogRow.at, AccessLogRow.outcome)
        .where(of_case, AccessLogRow.outcome.in_((ALLOWED, FAILED)), AccessLogRow.at >= since)
        .order_by(AccessLogRow.at, AccessLogRow.id)
    )
    async with store.engine.connect() as connection:
        counted = {outcome: count for outcome, count in (await connection.execute(totals)).all()}
        rows = (await connection.execute(recent)).all()
    total = counted.get(ALLOWED, 0) - counted.get(FAILED, 0)
    allowed = [at for at, outcome in rows if outcome == ALLOWED]
    # A message that failed after it was allowed (503, the case ended) did not reach the case:
    # it frees its place, the latest first.
    failed = sum(1 for _, outcome in rows if outcome == FAILED)
    kept = allowed[: max(0, len(allowed) - failed)]
    return total, kept
