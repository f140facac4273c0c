"""The web pages' way to a case: the HTTP API, called in-process with the session's token.

The pages never touch the case service or the store themselves. Each call is an ordinary API
request (ASGI, no network hop) carrying the signed-in member of staff's bearer token and the
access log's purpose, so the API authenticates it, applies its policy and limits, and logs it
exactly as it would a request from any other client.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

API = "/api/v1"
# The access log's purpose for what staff do in the inbox (the API's default purpose).
WEB_PURPOSE = "sagsbehandling"


class ApiError(Exception):
    """The API refused or failed: its status and its Danish/English text."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    @property
    def danish(self) -> str:
        """The Danish half of the API's "dansk / English" text."""
        return self.detail.split(" / ", 1)[0]


class ApiClient:
    """One signed-in member of staff's calls to the API."""

    def __init__(self, app: FastAPI, token: str, purpose: str = WEB_PURPOSE) -> None:
        self._app = app
        self._headers = {"Authorization": f"Bearer {token}", "X-Purpose": purpose}

    async def get(self, path: str, **params: Any) -> Any:
        return await self._call("GET", path, params=params or None)

    async def text(self, path: str, **params: Any) -> httpx.Response:
        """A non-JSON answer (the printable note), as the API gave it."""
        return await self._send("GET", path, params=params or None)

    async def post(self, path: str, body: Any) -> Any:
        return await self._call("POST", path, json=body)

    async def put(self, path: str, body: Any) -> Any:
        return await self._call("PUT", path, json=body)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = await self._send(method, path, **kwargs)
        return answer.json()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self._app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://sagsflow", headers=self._headers
        ) as http:
            answer = await http.request(method, f"{API}{path}", **kwargs)
        if not answer.is_success:  # a redirect too: every route the pages call answers 2xx
            try:
                detail = str(answer.json().get("detail"))
            except ValueError:
                detail = answer.text
            raise ApiError(answer.status_code, detail)
        return answer
