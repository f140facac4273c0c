"""The HTTP API on a REAL platform for tests: `temporal server start-dev`, a worker and the API
(uvicorn) with a SQLite store — all in a background thread with its own event loop, so that
both async tests (httpx) and synchronous ones (schemathesis) reach it over HTTP at any time.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from fastapi import FastAPI

from api.app import create_app
from core.apiserver import serving
from core.codec import PayloadKeys, data_converter
from core.settings import ApiSettings, Settings
from service.cases import CaseService
from store import Store
from tests.test_dev_server import dev_server, free_port
from workers.worker import build_worker

T = TypeVar("T")

SCHOOL = "vibeke-skolen"
OTHER_SCHOOL = "anden-skole"


@dataclass(frozen=True)
class ApiUser:
    id: str
    roles: list[str]
    schools: list[str]

    @property
    def token(self) -> str:
        return f"test-token-{self.id}-0123456789"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


TEACHER = ApiUser("lhj", ["case_owner"], [SCHOOL])
LEADER = ApiUser("skoleleder1", ["leadership"], [SCHOOL])
TK = ApiUser("tk1", ["tk"], ["*"])
COMMS = ApiUser("komm1", ["communications"], [])
OPERATOR = ApiUser("drift1", ["operator"], ["*"])
OTHER_TEACHER = ApiUser("laerer2", ["case_owner"], [OTHER_SCHOOL])
CLASS_TEACHER = ApiUser("kontaktlaerer7b", ["case_owner"], [SCHOOL])  # a task may go to them
ALL_STAFF = [TEACHER, LEADER, TK, COMMS, OPERATOR, OTHER_TEACHER, CLASS_TEACHER]
BY_ROLE = {"case_owner": TEACHER, "leadership": LEADER, "tk": TK, "communications": COMMS}


def write_tokens(path: Path) -> None:
    document = {
        "staff": [
            {
                "token": s.token,
                "id": s.id,
                "name": f"Test {s.id}",
                "roles": s.roles,
                "schools": s.schools,
            }
            for s in ALL_STAFF
        ]
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


class ApiPlatform:
    """Dev server + worker + API in a thread; `url` is the API's base URL, `address` the
    Temporal frontend's. With `payload_keys`, the client (worker, API, codec server) encrypts."""

    def __init__(
        self,
        data_dir: Path,
        payload_keys: PayloadKeys | None = None,
        **api_settings: Any,
    ) -> None:
        self.data_dir = data_dir
        self.payload_keys = payload_keys
        self.api_settings = api_settings  # ApiSettings beyond the tokens file and the port
        self.url = ""
        self.address = ""
        self.app: FastAPI | None = None
        self.store: Store | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="api-platform", daemon=True)

    def start(self, timeout: float = 60) -> ApiPlatform:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the API platform did not start in time")
        if self._failure is not None:
            raise RuntimeError("the API platform failed to start") from self._failure
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Runs a coroutine on the platform's loop (where its store and client live)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self.submit(coroutine))

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tokens = self.data_dir / "tokens.yaml"
        write_tokens(tokens)
        database_url = f"sqlite+aiosqlite:///{self.data_dir / 'sagsflow.db'}"
        task_queue = f"api-{uuid.uuid4().hex[:8]}"
        async with dev_server(self.data_dir, headless=True) as server:
            client = await server.connect(data_converter=data_converter(self.payload_keys))
            store = Store.from_url(database_url)
            await store.create_schema()
            try:
                async with build_worker(client, store, task_queue):
                    settings = ApiSettings(
                        tokens_file=tokens, port=free_port(), **self.api_settings
                    )
                    app = create_app(
                        settings,
                        service=CaseService(client, store, task_queue),
                        store=store,
                        worker_settings=Settings(
                            temporal_address=server.address,
                            task_queue=task_queue,
                            database_url=database_url,
                        ),
                    )
                    async with serving(app, settings.host, settings.port) as url:
                        self.url, self.app, self.store = url, app, store
                        self.address = server.address
                        self._ready.set()
                        await self._stop.wait()
            finally:
                await store.dispose()


def new_case_body(
    school: str = SCHOOL,
    *,
    procedure_version: str | None = "demo",
    names: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """A new case as the platform sends it (JSON), with names for the store."""
    participants = [
        {"pseudonym": "P1", "role": "victim", "age": 14, "same_school": True},
        {"pseudonym": "P2", "role": "offender", "age": 15, "same_school": True},
    ]
    if names:
        participants[0] |= {"name": "Astrid Testesen", "contact": "Mor: 11 22 33 44"}
        participants[1] |= {"name": "Bertram Prøvesen"}
    body = {
        "case_number": f"API-{uuid.uuid4().hex[:8].upper()}",
        "school_id": school,
        "reported_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "violation_types": ["harassment"],
        "participants": participants,
        "offender_known": True,
        "procedure_version": procedure_version,
    }
    return body | overrides


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiPlatform]:
    """One real platform per test module (import this fixture into the module)."""
    started = ApiPlatform(tmp_path_factory.mktemp("api")).start()
    try:
        yield started
    finally:
        started.stop()
