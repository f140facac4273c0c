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
from dataclasses import dataclass, field

COOKIE = "sagsflow_web"
IDLE_SECONDS = 30 * 60
LIFETIME_SECONDS = 8 * 60 * 60


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
    def __init__(self, idle: float = IDLE_SECONDS, lifetime: float = LIFETIME_SECONDS) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}

    def new(self) -> Session:
        now = time.monotonic()
        self._sessions = {k: v for k, v in self._sessions.items() if self._alive(v, now)}
        session = Session(
            id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), started=now, seen=now
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = time.monotonic()
        if session is None or not self._alive(session, now):
            self._sessions.pop(session_id, None)
            return None
        session.seen = now
        return session

    def renew(self, session: Session) -> Session:
        """The same session under a new id and CSRF token (on signing in)."""
        self._sessions.pop(session.id, None)
        session.id = secrets.token_urlsafe(32)
        session.csrf = secrets.token_urlsafe(32)
        now = time.monotonic()
        session.started = session.seen = now
        self._sessions[session.id] = session
        return session

    def end(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def _alive(self, session: Session, now: float) -> bool:
        return now - session.seen < self.idle and now - session.started < self.lifetime


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())
