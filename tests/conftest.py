"""Shared fixtures: the real time-skipping test server, a shared dev server, the fake
activities' records, SQLite and PostgreSQL stores; and the two tiers.

- `env`: a time-skipping test server per test. `dev_temporal`: one real dev server per test
  process, for the modules that need one but not one of their own.
- `records`: what the fake case activities (tests/fakes.py) recorded: the fast tier of the
  workflow tests. `case_store`: those records or a real SQLite store, as a test is
  parametrised (tests.casekit.ON_FAKES_AND_STORE).
- `store`: a fresh SQLite store for each test; a module or test marked
  `@pytest.mark.databases("sqlite", "postgresql")` runs each test that uses `store` or
  `database_url` once on each database instead. `sqlite_store` is always SQLite (for the
  tests of such a module that need only one).
- Tiers: tests on a real store, dev server, the API platform, subprocesses or long runs are
  marked `slow`; `pytest -m "not slow"` is the fast tier. Collection fails for a test that uses
  one of INTEGRATION_FIXTURES without the marker.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
import structlog
from _pytest.nodes import coerce_node_id
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from store import Store
from tests.clikit import Zygote
from tests.fakes import MemoryRecords
from workflows import search_attributes

if TYPE_CHECKING:  # tests.test_dev_server imports this module
    from tests.test_dev_server import DevServer

BIN = Path(sys.executable).parent

# The suite runs unencrypted unless a test brings its own keys (the codec has its own tests):
# keys a developer exported for `sagsflow dev` must not reach the tests' workers and CLIs.
# Present but empty also stops the look-up of ./data/payload-keys.json (core.connection).
os.environ["SAGSFLOW_PAYLOAD_KEYS_FILE"] = ""
os.environ.pop("SAGSFLOW_PAYLOAD_KEYS", None)
os.environ.pop("SAGSFLOW_PAYLOAD_KEY_ACTIVE", None)

_INDEXED = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "INT": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


def binary(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.exit(f"{name} not found: install the test extras (make test does)", returncode=3)
    return found


def _indexed_type(key: SearchAttributeKey) -> IndexedValueType.ValueType:
    return _INDEXED[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A real time-skipping test server of its own for each test, with our search attributes.

    One per test (it starts in about 0.1 s): a shared server let one test's leftovers lock
    time skipping for the next.
    """
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=binary("temporal-test-server"),
    )
    try:
        await environment.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=environment.client.namespace,
                search_attributes={key.name: _indexed_type(key) for key in search_attributes.ALL},
            )
        )
        yield environment
    finally:
        await environment.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_temporal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    """A real `temporal server start-dev` (headless), one per test process (xdist worker),
    shared by every module that needs a real server but not one of its own.

    Its users keep to their own task queues and case numbers and never restart it, change its
    flags or list every case on it; tests that do (restarts, the Web UI, search attributes of
    an older database, broad `case list`s) start their own with tests.test_dev_server's
    `dev_server`. Starting and stopping one takes 2-3 s; a module-scoped server per file paid
    that in every file.
    """
    from tests.test_dev_server import dev_server  # that module imports this one

    async with dev_server(tmp_path_factory.mktemp("temporal"), headless=True) as started:
        yield started


@pytest.fixture(scope="session")
def sagsflow_cli() -> Iterator[Zygote]:
    """`sagsflow` commands, each in a process of its own, forked from one that has imported the
    program (tests/clikit.py): one per test process, for every module that runs the CLI."""
    zygote = Zygote()
    try:
        yield zygote
    finally:
        zygote.close()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'sagsflow.db'}"


DATABASES = ("sqlite", "postgresql")

POSTGRES_ADMIN_URL = os.environ.get(
    "SAGSFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Skips when no PostgreSQL answers, except where SAGSFLOW_REQUIRE_POSTGRES=1 (CI): there a
    missing server is a failure, never a silent skip.
    """
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sagsflow_test_{uuid.uuid4().hex[:10]}"
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no server"
        await admin.dispose()
        reason = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}"
        if os.environ.get("SAGSFLOW_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (SAGSFLOW_REQUIRE_POSTGRES=1: CI must run these tests)")
        pytest.skip(reason)
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


# Fixtures that bring a real store, a dev server or the API platform (a dev server, a worker and
# uvicorn): a test that uses one is in the integration tier and says so with the `slow` marker,
# so that `pytest -m "not slow"` (the fast tier) never starts one.
INTEGRATION_FIXTURES = frozenset(
    {
        "store",
        "sqlite_store",
        "database_url",
        "postgres_url",
        "sqlite_db",
        "postgres_db",
        "dev_temporal",
        "server",
        "platform",
        "dev_client",
        "image",
        "sagsflow_cli",
    }
)


# The longest test files, longest first (`--durations`, summed per file). `make test` hands
# whole files to its xdist workers in collection order (--dist loadfile
# --no-loadscope-reorder), so starting these first keeps one long file from finishing last
# while the other worker idles. Only the order changes; a stale entry costs time, nothing else.
LONGEST_FILES = (
    "test_web_inbox.py",
    "test_cli_cases.py",
    "test_stuck_cases.py",
    "test_start_and_recovery.py",
    "test_container_entrypoints.py",
    "test_sagsflow_dev.py",
    "test_bounded_work.py",
    "test_api.py",
    "test_encrypted_history.py",
    "test_operator_integration.py",
    "test_store.py",
    "test_crash_window.py",
    "test_api_fuzz.py",
    "test_dev_server.py",
    "test_notify.py",
    "test_api_limits.py",
    "test_cli_startup.py",
)


def _file_rank(item: pytest.Item) -> int:
    name = item.path.name
    return LONGEST_FILES.index(name) if name in LONGEST_FILES else len(LONGEST_FILES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        # schemathesis gives the test of every API operation the same node id, and xdist then
        # ran only one of them: the operation makes each id its own.
        label = getattr(item, "operation_label", None)
        if isinstance(label, str) and label not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}[{label}]")  # pytest's own id type
    items.sort(key=_file_rank)  # stable: each file's tests keep their order
    unmarked = [
        item.nodeid
        for item in items
        if item.get_closest_marker("slow") is None
        and INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use a real store, dev server or platform but are not marked "
            "@pytest.mark.slow:\n  " + "\n  ".join(unmarked)
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`database_url` is SQLite unless the test (or its module) is marked `databases(...)`."""
    if "database_url" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("databases")
    if marker is not None:
        unknown = set(marker.args) - set(DATABASES)
        assert marker.args and not unknown, f"databases(...) takes some of {DATABASES}"
        metafunc.parametrize("database_url", marker.args, indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, empty database of the kind the test runs on (see the module doc)."""
    kind = getattr(request, "param", "sqlite")
    # A sync fixture: getfixturevalue cannot set up an async fixture from inside the loop.
    return request.getfixturevalue("sqlite_url" if kind == "sqlite" else "postgres_url")


@asynccontextmanager
async def migrated_store(url: str) -> AsyncIterator[Store]:
    opened = Store.from_url(url)
    await opened.create_schema()
    try:
        yield opened
    finally:
        await opened.dispose()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on `database_url`: SQLite, or each database the test is marked for."""
    async with migrated_store(database_url) as opened:
        yield opened


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    """A migrated SQLite store, also in a module that runs `store` on both databases."""
    async with migrated_store(sqlite_url) as opened:
        yield opened


@pytest.fixture
def records() -> MemoryRecords:
    """What the fake case activities (tests/fakes.py) record instead of a store."""
    return MemoryRecords()


@pytest.fixture
def case_store(request: pytest.FixtureRequest) -> Store | MemoryRecords:
    """`records` (the fake activities) or `store` (the real activities on SQLite), as the test
    is parametrised (tests.casekit.ON_FAKES_AND_STORE)."""
    # A sync fixture: getfixturevalue cannot set up an async fixture from inside the loop.
    return request.getfixturevalue({"fakes": "records", "sqlite": "store"}[request.param])


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo a test's configure_logging(): the root logger's handlers and level, structlog."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers = handlers
        root.setLevel(level)
        structlog.reset_defaults()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    with logging_restored():
        yield
