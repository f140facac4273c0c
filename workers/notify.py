"""The notification dispatcher: sends the outbox's rows as e-mail over SMTP, each one once.

The workflow only writes notifications into the outbox (an activity, idempotent by key); this
dispatcher delivers them. A row is claimed atomically before it is sent (see
`Store.claim_outbox`), so any number of dispatchers (the worker's and `sagsflow notify`) never
send a row twice; a failed attempt waits with exponential back-off. What is left: a crash
after the mail server accepted a message but before the row is marked sent. Then the row is
sent again when the claim expires; its Message-ID is derived from the outbox key, so the
receiving side can drop the duplicate.

A mail says only what the row says — case number, task title, deadline — plus a link to the
platform: no names. As a safety net, a row whose text names a participant of its case is not
sent. Logs carry case numbers, outbox keys and the recipients' domains, never addresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal
from urllib.parse import quote

import aiosmtplib
import structlog

from core.logs import configure_logging
from core.settings import NotifySettings, Settings
from core.shutdown import on_stop_signal
from procedure.calendar import local_time
from store import Store
from store.models import OutboxRow

__all__ = [
    "DispatchReport",
    "Dispatcher",
    "compose_message",
    "dispatching",
    "message_id",
    "run_dispatcher",
]

log = structlog.get_logger("sagsflow.notify")

_ANY_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@([A-Za-z0-9.-]+)")

Outcome = Literal["sent", "retrying", "failed"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DispatchReport:
    """What one pass over the outbox did."""

    sent: int = 0
    retrying: int = 0  # failed this time, tried again after the back-off
    failed: int = 0  # failed for good: no recipients, refused, or out of attempts
    queued: int = 0  # outbox only (no SMTP): logged, left in the outbox

    @property
    def total(self) -> int:
        return self.sent + self.retrying + self.failed + self.queued

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def summary(self) -> str:
        return (
            f"sent {self.sent}, retrying {self.retrying}, failed {self.failed}, "
            f"queued {self.queued}"
        )


def message_id(outbox_key: str, domain: str) -> str:
    """The same for every attempt of a row, so a receiving system can deduplicate."""
    digest = hashlib.sha256(outbox_key.encode()).hexdigest()[:32]
    return f"<sagsflow.{digest}@{domain}>"


def case_link(platform_url: str, case_number: str) -> str:
    return f"{platform_url.rstrip('/')}/{quote(case_number, safe='')}"


def compose_message(
    row: OutboxRow,
    recipients: list[str],
    settings: NotifySettings,
    *,
    due_at: datetime | None,
    now: datetime,
) -> EmailMessage:
    """The mail for one row: its subject and body, the deadline and the link. Nothing else."""
    assert settings.mail_from is not None and settings.platform_url is not None
    lines = [row.body, ""]
    if due_at is not None:
        lines.append(f"Frist: {local_time(due_at)}")
    lines.append(f"Sagen på platformen: {case_link(settings.platform_url, row.case_number)}")
    lines += ["", "-- ", "Sendt automatisk af sagsflow. Svar venligst ikke på denne mail."]

    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = row.subject
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = message_id(row.key, settings.mail_domain)
    message["X-Sagsflow-Outbox-Key"] = row.key
    # RFC 3834: tells auto-responders (out of office) not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message["Content-Language"] = "da"
    message.set_content("\n".join(lines) + "\n")
    return message


class Dispatcher:
    """Delivers due outbox rows; or, without SMTP, logs each queued row once."""

    def __init__(
        self,
        store: Store,
        settings: NotifySettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self._lease = timedelta(seconds=settings.lease)
        # The whole exchange for one row (connect, TLS, login, send) ends well inside the lease.
        self._send_limit = settings.lease / 2
        self._logged_up_to = 0  # outbox only: the highest row id already logged

    async def run_once(self) -> DispatchReport:
        if not self.settings.enabled:
            return await self._log_queued()
        report = DispatchReport()
        for _ in range(self.settings.batch_size):
            # One row per claim: a claim never waits behind other rows' sending.
            claimed = await self.store.claim_outbox(self._clock(), self._lease, limit=1)
            if not claimed:
                break
            report.count(await self._deliver(claimed[0]))
        return report

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Passes over the outbox every interval until `stop` is set. A failing pass (say, the
        database is away) is logged and tried again: notifications must not quietly stop."""
        log.info(
            "notification dispatcher started",
            smtp="configured" if self.settings.enabled else "none (outbox only)",
            smtp_host=self.settings.smtp_host,
            interval_s=self.settings.interval,
        )
        while not stop.is_set():
            full = False
            try:
                report = await self.run_once()
            except Exception:
                log.exception("notification pass failed; trying again after the interval")
            else:
                full = report.total >= self.settings.batch_size
                if report.total:
                    log.info("notification pass done", **vars(report))
            if not full:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.interval)
        log.info("notification dispatcher stopped")

    # ------------------------------------------------------------------ delivering a row

    async def _deliver(self, row: OutboxRow) -> Outcome:
        fields = {"case_number": row.case_number, "outbox_key": row.key, "kind": row.kind}
        recipients = self.settings.recipients.resolve(row.school_id, row.role, row.assignee)
        if not recipients:
            return await self._give_up(
                row,
                f"ingen modtagere / no recipients for role {row.role} at school {row.school_id}",
            )
        if await self._names_a_participant(row):
            return await self._give_up(
                row,
                "personoplysninger i beskeden / the text names a participant of the case: "
                "not sent (the outbox text must hold case number, task title and deadline only)",
            )
        task = await self.store.get_task(row.workflow_id, row.task_id)
        message = compose_message(
            row,
            recipients,
            self.settings,
            due_at=task.due_at if task is not None else None,
            now=self._clock(),
        )
        domains = sorted({address.rsplit("@", 1)[1].lower() for address in recipients})
        try:
            async with asyncio.timeout(self._send_limit):
                refused, _ = await aiosmtplib.send(
                    message,
                    sender=self.settings.mail_from,
                    recipients=recipients,
                    hostname=self.settings.smtp_host,
                    port=self.settings.smtp_port,
                    username=self.settings.smtp_username,
                    password=self.settings.smtp_password,
                    use_tls=self.settings.smtp_tls == "tls",
                    start_tls=self.settings.smtp_tls == "starttls",
                    timeout=self.settings.smtp_timeout,
                )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return await self._attempt_failed(row, exc)
        note = None
        if refused:
            codes = ", ".join(sorted({str(response.code) for response in refused.values()}))
            note = (
                f"{len(refused)} af {len(recipients)} modtagere afvist / "
                f"{len(refused)} of {len(recipients)} recipients refused ({codes})"
            )
        await self._mark_sent(row, note)
        log.info(
            "notification sent",
            **fields,
            attempt=row.attempts,
            recipient_count=len(recipients) - len(refused),
            recipient_domains=domains,
            refused_count=len(refused),
        )
        return "sent"

    async def _attempt_failed(self, row: OutboxRow, exc: BaseException) -> Outcome:
        error = describe_error(exc)
        if _refused_for_good(exc):
            return await self._give_up(row, f"afvist / refused: {error}")
        if row.attempts >= self.settings.max_attempts:
            return await self._give_up(
                row,
                f"opgivet efter {row.attempts} forsøg / "
                f"gave up after {row.attempts} attempts: {error}",
            )
        delay = min(self.settings.backoff * 2 ** (row.attempts - 1), self.settings.backoff_max)
        retry_at = self._clock() + timedelta(seconds=delay)
        await self.store.mark_failed(row.id, error, retry_at)
        log.warning(
            "notification not sent; will retry",
            case_number=row.case_number,
            outbox_key=row.key,
            kind=row.kind,
            attempt=row.attempts,
            retry_in_s=delay,
            error=error,
        )
        return "retrying"

    async def _give_up(self, row: OutboxRow, error: str) -> Outcome:
        await self.store.mark_failed(row.id, error, None)
        log.error(
            "notification failed for good",
            hint="fix the cause, then run `sagsflow notify --retry-failed`",
            case_number=row.case_number,
            outbox_key=row.key,
            kind=row.kind,
            attempt=row.attempts,
            error=error,
        )
        return "failed"

    async def _mark_sent(self, row: OutboxRow, note: str | None) -> None:
        # The mail is out: losing this write would send it again once the claim expires, so a
        # short database hiccup is waited out rather than given up on.
        for pause in (0.5, 2.0, 5.0, None):
            try:
                await self.store.mark_sent(row.id, self._clock(), note)
                return
            except Exception:
                if pause is None:
                    raise
                log.warning("recording a sent notification failed; retrying", outbox_key=row.key)
                await asyncio.sleep(pause)

    async def _names_a_participant(self, row: OutboxRow) -> bool:
        names = await self.store.participant_names(row.workflow_id)
        text = f"{row.subject}\n{row.body}".casefold()
        return any(
            re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", text)
            for name in names.values()
            if len(name.strip()) >= 2
        )

    # ------------------------------------------------------------------ outbox only

    async def _log_queued(self) -> DispatchReport:
        report = DispatchReport()
        while True:
            rows = await self.store.list_unsent_outbox(
                after_id=self._logged_up_to, limit=self.settings.batch_size
            )
            for row in rows:
                log.info(
                    "queued, no SMTP configured",
                    case_number=row.case_number,
                    outbox_key=row.key,
                    kind=row.kind,
                    role=row.role,
                    school_id=row.school_id,
                )
                self._logged_up_to = max(self._logged_up_to, row.id)
                report.queued += 1
            if len(rows) < self.settings.batch_size:
                return report


def describe_error(exc: BaseException) -> str:
    """A short text for last_error and the log, with addresses cut to their domain."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        answers = {_without_local_parts(f"{r.code} {r.message}".strip()) for r in exc.recipients}
        text = f"all {len(exc.recipients)} recipients refused: {', '.join(sorted(answers))}"
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.code} {exc.message}"
    elif isinstance(exc, TimeoutError):
        text = "TimeoutError: the SMTP exchange took too long"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return _without_local_parts(text)[:1000]


def _without_local_parts(text: str) -> str:
    return _ANY_ADDRESS.sub(lambda match: f"…@{match.group(1)}", text)


def _refused_for_good(exc: BaseException) -> bool:
    # 5xx for every recipient: the addresses are wrong, and trying again will not help.
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPRecipientRefused) and exc.code >= 500


# ---------------------------------------------------------------------- running it


@asynccontextmanager
async def dispatching(store: Store, settings: NotifySettings) -> AsyncIterator[Dispatcher | None]:
    """Runs the dispatcher loop beside the caller (the worker) while the context is open.

    Without SMTP nothing runs: the outbox is the notification (the embedded default).
    """
    if not settings.enabled:
        log.info("notifications stay in the outbox: no SMTP configured (SAGSFLOW_SMTP_HOST)")
        yield None
        return
    stop = asyncio.Event()
    dispatcher = Dispatcher(store, settings)
    loop = asyncio.create_task(dispatcher.run_forever(stop), name="notification-dispatcher")
    try:
        yield dispatcher
    finally:
        stop.set()
        # A send under way may finish (bounded by the SMTP timeout); then the loop is cut.
        try:
            await asyncio.wait_for(loop, timeout=settings.smtp_timeout + 5)
        except TimeoutError:
            log.warning("notification dispatcher cancelled at shutdown")
        except Exception:
            # Never hide why the caller is leaving (or turn a clean stop into a crash).
            log.exception("notification dispatcher ended with an error")


async def run_dispatcher(
    settings: Settings,
    notify_settings: NotifySettings,
    *,
    once: bool = False,
    retry_failed: bool = False,
) -> DispatchReport | None:
    """`sagsflow notify`: one pass (`once`) or a loop until SIGINT/SIGTERM."""
    configure_logging(settings.log_format, settings.log_level)
    store = Store.from_url(settings.database_url)
    try:
        await store.create_schema()
        if retry_failed:
            requeued = await store.requeue_failed_outbox(_utcnow())
            log.info("failed notifications queued again", count=requeued)
        dispatcher = Dispatcher(store, notify_settings)
        if once:
            report = await dispatcher.run_once()
            log.info("notification pass done", **vars(report))
            return report
        async with on_stop_signal() as stop:
            await dispatcher.run_forever(stop)
        return None
    finally:
        await store.dispose()
