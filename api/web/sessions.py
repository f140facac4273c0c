"""Server-side sessions of the web inbox, and the CSRF token of every form.

The browser holds only a random session id (an HttpOnly, SameSite=Lax cookie). The bearer token
that the pages send to the API stays here, in the API process, and the API checks it again on
every call: a token that is revoked or expired opens nothing, whatever the session says. A
session ends on signing out, after `idle` without a request, or after `lifetime` in all; it is
replaced by a new id on signing in, so an id planted before cannot be used after.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

COOKIE = "sagsflow_web"
IDLE_SECONDS = 30 * 60
LIFETIME_SECONDS = 8 * 60 * 60
MAX_SIGNED_OUT = 10_000  # sessions of visitors who have not signed in, at most
SWEEP_SECONDS = 60.0


@dataclass
class Session:
    id: str
    csrf: str
    started: float
    seen: float
    token: str | None = None  # the API bearer token of the signed-in member of staff
    staff_id: str | None = None
    name: str | None = None
    roles: tuple[str, ...] = ()
    schools: tuple[str, ...] = ()
    # The OIDC sign-in under way: state, nonce, PKCE verifier, where to go afterwards.
    oidc: dict[str, str] = field(default_factory=dict)
    flash: str | None = None  # what the next page says was done

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def press_only(self) -> bool:
        """Communications staff with no school role: they see the press view and nothing else."""
        return self.roles == ("communications",)


class WebSessions:
    """The sessions, by id. A visitor who has not signed in gets a session too (the sign-in
    form's CSRF token, an OIDC sign-in under way), but such sessions are capped: a flood of
    visits evicts the oldest signed-out ones (who then start their sign-in again), never a
    signed-in member of staff's. Expired sessions are swept at most every `sweep` seconds."""

    def __init__(
        self,
        idle: float = IDLE_SECONDS,
        lifetime: float = LIFETIME_SECONDS,
        max_signed_out: int = MAX_SIGNED_OUT,
        sweep: float = SWEEP_SECONDS,
    ) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self.max_signed_out = max_signed_out
        self.sweep = sweep
        self._sessions: dict[str, Session] = {}
        self._signed_out: OrderedDict[str, None] = OrderedDict()  # oldest first
        self._swept = time.monotonic()

    def __len__(self) -> int:
        return len(self._sessions)

    def new(self) -> Session:
        now = time.monotonic()
        if now - self._swept >= self.sweep:
            self._sessions = {k: v for k, v in self._sessions.items() if self._alive(v, now)}
            for gone in [k for k in self._signed_out if k not in self._sessions]:
                del self._signed_out[gone]
            self._swept = now
        session = Session(
            id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), started=now, seen=now
        )
        self._sessions[session.id] = session
        self._signed_out[session.id] = None
        while len(self._signed_out) > self.max_signed_out:
            oldest, _ = self._signed_out.popitem(last=False)
            self._sessions.pop(oldest, None)
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if session is None or not self._alive(session, now):
            self._forget(session_id)
            return None
        session.seen = now
        return session

    def renew(self, session: Session) -> Session:
        """The same session under a new id and CSRF token, signed in (no longer among the
        signed-out ones a flood may evict)."""
        self._forget(session.id)
        session.id = secrets.token_urlsafe(32)
        session.csrf = secrets.token_urlsafe(32)
        now = time.monotonic()
        session.started = session.seen = now
        self._sessions[session.id] = session
        return session

    def end(self, session: Session) -> None:
        self._forget(session.id)

    def _forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self._signed_out.pop(session_id, None)

    def _alive(self, session: Session, now: float) -> bool:
        return now - session.seen < self.idle and now - session.started < self.lifetime


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())
