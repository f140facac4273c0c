"""Page tokens of the case list: Temporal's own token, sealed with an HMAC.

A token only opens for the same caller's scope and filters it was made for, and a made-up or
altered token is refused (422) before Temporal sees it. The secret comes from
SAGSFLOW_PAGE_TOKEN_SECRET; without it each process makes its own, so tokens then do not
survive a restart (the platform just starts the list again).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

MAC_BYTES = 16


class InvalidPageToken(ValueError):
    """The token was not made by this API for this list."""


class PageTokens:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def seal(self, token: bytes, scope: str) -> str:
        sealed = self._mac(token, scope) + token
        return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, sealed: str, scope: str) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidPageToken(sealed) from exc
        mac, token = raw[:MAC_BYTES], raw[MAC_BYTES:]
        if not token or not hmac.compare_digest(mac, self._mac(token, scope)):
            raise InvalidPageToken(sealed)
        return token

    def _mac(self, token: bytes, scope: str) -> bytes:
        message = scope.encode("utf-8") + b"\0" + token
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:MAC_BYTES]
