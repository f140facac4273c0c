"""Engine creation: the embedded SQLite default and PostgreSQL in production."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/sagsflow.db"
# A worker, the API and the CLI may write the same SQLite file: wait for the lock, don't fail.
SQLITE_BUSY_TIMEOUT_MS = 15_000
SUPPORTED_DIALECTS = ("sqlite", "postgresql")

# These loggers write every statement with its parameters at DEBUG/INFO — the parameters are
# names and contact details. Capped here, where the drivers are chosen, so that no log level
# set elsewhere (a debugging session, a test) can make them leak personal data.
PARAMETER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool")
for _name in PARAMETER_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)


def create_engine(url: str | URL) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite+aiosqlite or "
            "postgresql+asyncpg"
        )
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(parsed, pool_pre_ping=True)
    return _create_sqlite_engine(parsed)


def _create_sqlite_engine(url: URL) -> AsyncEngine:
    options: dict[str, Any] = {}
    if _is_in_memory(url):
        # Every new connection to ":memory:" is a new, empty database: share one.
        options["poolclass"] = StaticPool
    else:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)
    event.listen(engine.sync_engine, "connect", _tune_sqlite_connection)
    return engine


def sqlite_batch_writer(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, for writing a whole batch in one thread.

    Through aiosqlite every statement of a transaction is a round trip through the event loop,
    and a loop busy with twenty cases stretched each write (and SQLite's one write lock) to
    tens of milliseconds. On a thread of its own a batch holds the lock for about one.
    None for PostgreSQL and for an in-memory database (its one connection is the async one).
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or _is_in_memory(url):
        return None
    writer = create_sync_engine(url.set(drivername="sqlite+pysqlite"))
    event.listen(writer, "connect", _tune_sqlite_connection)
    return writer


def _is_in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def _tune_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API) run while a writer (an activity) commits.
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first: switching a new database to WAL takes a lock, and connections
        # opening it at the same moment must wait for each other, not fail "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, far fewer fsyncs
    finally:
        cursor.close()
