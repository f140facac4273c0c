"""`sagsflow notify`: send the outbox's notifications as e-mail (or, without SMTP, list them)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer


def notify(
    once: Annotated[
        bool,
        typer.Option("--once", help="One pass over the outbox, then exit (e.g. from cron)."),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="First give the notifications that failed for good (no recipients, refused, "
            "out of attempts) a fresh set of attempts: after the cause is fixed.",
        ),
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="SQLAlchemy URL of the store (env DATABASE_URL; default "
            "sqlite+aiosqlite:///./data/sagsflow.db)."
        ),
    ] = None,
) -> None:
    """Send notifications from the outbox by e-mail, each one once, with retries.

    Send beskeder fra udbakken som e-mail. Stop med Ctrl+C.

    SMTP, sender, link and recipients: SAGSFLOW_* settings, see docs/notifications.md.

    Without SAGSFLOW_SMTP_HOST the outbox is only logged, each notification once.
    """
    # Here, not at the top: `sagsflow --help` must not load the store or Temporal.
    from core.settings import NotifySettings, Settings
    from workers.notify import run_dispatcher

    try:
        settings = Settings.from_env().with_overrides(database_url=database_url)
        notify_settings = NotifySettings.from_env()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    report = asyncio.run(
        run_dispatcher(settings, notify_settings, once=once, retry_failed=retry_failed)
    )
    if report is not None:
        typer.echo(report.summary())
