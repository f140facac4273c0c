"""Alembic, driven from code: `Store.create_schema()` upgrades the database to head.

The migration scripts ship inside the package (`store/migrations`), so an installed worker
can migrate without a checkout. `alembic.ini` at the repository root points at the same
scripts for developers writing new revisions (`alembic revision --autogenerate -m …`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if database_url:
        # ConfigParser treats % as interpolation; URLs may hold %-escaped passwords.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(connection: Connection) -> None:
    """Runs the migrations on an open (sync) connection; the caller owns the transaction."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
