"""The notification dispatcher against a real SMTP server on loopback (aiosmtpd), on both stores.

Recipients per role and school, the mail's text (no personal data), exactly-once delivery across
a refused attempt and between racing dispatchers, outbox-only mode, and rows that cannot be sent.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from structlog.testing import capture_logs
from temporalio.testing import WorkflowEnvironment

from core.recipients import NotifyConfigError, Recipients
from core.settings import NotifySettings, Settings
from schemas.activities import NotificationKind, NotificationRequest
from schemas.common import StaffRole
from store import Store
from tests import storekit as kit
from tests.activity_probe_workflow import InboxProbeWorkflow
from workers.notify import Dispatcher, message_id
from workers.worker import run_worker

SCHOOL = kit.SCHOOL  # vibeke-skolen
OTHER_SCHOOL = "ny-skole"
TITLE = "Afdæk: Få et overblik over krænkelsen og dens alvorlighed"  # kit.open_task's title
DUE_TEXT = "03.03.2026 kl. 09:30"  # kit.open_task's deadline (T0 + 1 day) in Copenhagen
PLATFORM = "https://platform.example/sager"
MAIL_FROM = "sagsflow@kommune.example"
# The children of the cases, kept in the same store: none of this may reach a mail.
CHILDREN = {"P1": "Freja Kristensen", "P2": "Oliver Nørgaard", "P3": "Sofie Bæk"}
RECIPIENTS = Recipients.model_validate(
    {
        "schools": {
            SCHOOL: {
                "case_owner": ["kontakt@vibeke-skolen.example"],
                "leadership": ["ledelse@vibeke-skolen.example", "viceleder@vibeke-skolen.example"],
            },
            OTHER_SCHOOL: {"leadership": ["ledelse@ny-skole.example"]},
            "*": {"communications": ["kommunikation@kommune.example"]},
        },
        "staff": {"ab": "anne.bech@vibeke-skolen.example"},
    }
)
ALL_ADDRESSES = [
    "kontakt@vibeke-skolen.example",
    "ledelse@vibeke-skolen.example",
    "viceleder@vibeke-skolen.example",
    "ledelse@ny-skole.example",
    "kommunikation@kommune.example",
    "anne.bech@vibeke-skolen.example",
]


# ------------------------------------------------------------------------------ the SMTP server


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def key(self) -> str:
        return str(self.message["X-Sagsflow-Outbox-Key"])


class SmtpInbox:
    """aiosmtpd handler: keeps what it accepts; can refuse DATA, refuse addresses, go slow."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse_data = 0  # answer this many DATA commands with 451
        self.unknown_users: set[str] = set()  # RCPT answered with 550
        self.delay = 0.0

    async def handle_RCPT(  # noqa: ANN201
        self,
        server,
        session,
        envelope,
        address,
        rcpt_options,  # noqa: ANN001
    ):
        if address in self.unknown_users:
            return f"550 5.1.1 <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        if self.refuse_data > 0:
            self.refuse_data -= 1
            return "451 4.3.0 Try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=default_policy)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


# ------------------------------------------------------------------------------ store and clock

pytestmark = pytest.mark.databases("sqlite", "postgresql")


class Clock:
    def __init__(self) -> None:
        self.now = kit.T0 + timedelta(hours=2)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def notify_settings(port: int, **changes: object) -> NotifySettings:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_timeout": 5.0,
        "mail_from": MAIL_FROM,
        "platform_url": PLATFORM + "/",
        "recipients": RECIPIENTS,
        "backoff": 30.0,
        "interval": 0.05,
    }
    return NotifySettings(**(values | changes))  # type: ignore[arg-type]


async def queue(
    store: Store,
    case_number: str,
    task_id: str = "assess.uncover-1",
    *,
    kind: NotificationKind = NotificationKind.REMINDER,
    role: StaffRole = StaffRole.CASE_OWNER,
    school_id: str = SCHOOL,
    assignee: str | None = None,
    body: str | None = None,
) -> NotificationRequest:
    """The task in the inbox, the children's names in the store, and the outbox row the
    workflow writes (the same texts as DigitalViolationCase._notification_text)."""
    await store.open_task(kit.open_task(case_number, task_id, role=role, school_id=school_id))
    await store.save_participant_names(kit.workflow_id(case_number), case_number, CHILDREN)
    subject, text = {
        NotificationKind.TASK_OPENED: (
            f"Sag {case_number}: Ny opgave – {TITLE}",
            f"Der er en ny opgave i sag {case_number}: {TITLE}. Frist: {DUE_TEXT}.",
        ),
        NotificationKind.REMINDER: (
            f"Sag {case_number}: Påmindelse – {TITLE}",
            f"Fristen for opgaven '{TITLE}' i sag {case_number} var {DUE_TEXT}.",
        ),
        NotificationKind.ESCALATION: (
            f"Sag {case_number}: Eskalering – {TITLE}",
            f"Opgaven '{TITLE}' i sag {case_number} er ikke udført. Fristen var {DUE_TEXT}. "
            "Ledelsen bedes følge op.",
        ),
    }[kind]
    request = NotificationRequest(
        key=f"{kit.workflow_id(case_number)}:{task_id}:{kind.value}",
        workflow_id=kit.workflow_id(case_number),
        case_number=case_number,
        school_id=school_id,
        kind=kind,
        role=role,
        assignee=assignee,
        task_id=task_id,
        subject=subject,
        body=body or text + " Se sagen på platformen. Beskeden indeholder ingen personoplysninger.",
        created_at=kit.T0,
    )
    assert await store.enqueue_notification(request)
    return request


async def outbox(store: Store) -> dict[str, object]:
    return {row.key: row for row in await store.list_outbox()}


def assert_no_personal_data(message: EmailMessage) -> None:
    text = "\n".join([*(f"{k}: {v}" for k, v in message.items()), message.get_content()])
    for name in CHILDREN.values():
        for part in [name, *name.split()]:
            assert part.casefold() not in text.casefold(), f"{part!r} leaked into the mail"


def assert_no_addresses(logs: list[dict[str, object]]) -> None:
    logged = repr(logs)
    for address in ALL_ADDRESSES:
        assert address.split("@")[0] + "@" not in logged, "an address reached the log"


# ------------------------------------------------------------------------------ delivering


@pytest.mark.slow
async def test_mails_reach_the_role_at_the_school_and_say_no_more_than_the_row(
    store: Store, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp
    clock = Clock()
    reminder = await queue(store, "2026-0042", assignee="ab")
    press = await queue(
        store,
        "2026-0042",
        "treat.press-1",
        kind=NotificationKind.TASK_OPENED,
        role=StaffRole.COMMUNICATIONS,
    )
    escalation = await queue(
        store,
        "2026-0043",
        kind=NotificationKind.ESCALATION,
        role=StaffRole.LEADERSHIP,
        school_id=OTHER_SCHOOL,
    )

    with capture_logs() as logs:
        report = await Dispatcher(store, notify_settings(port), clock=clock).run_once()

    assert (report.sent, report.retrying, report.failed) == (3, 0, 0)
    mails = {mail.key: mail for mail in inbox.received}
    assert set(mails) == {reminder.key, press.key, escalation.key}
    # The school's people for the role, plus the assignee from the staff section …
    assert mails[reminder.key].rcpt_tos == [
        "kontakt@vibeke-skolen.example",
        "anne.bech@vibeke-skolen.example",
    ]
    # … the municipality-wide "*" when the school names no one for the role …
    assert mails[press.key].rcpt_tos == ["kommunikation@kommune.example"]
    # … and each school its own leadership.
    assert mails[escalation.key].rcpt_tos == ["ledelse@ny-skole.example"]

    for request in (reminder, press, escalation):
        mail = mails[request.key]
        message = mail.message
        assert mail.mail_from == MAIL_FROM
        assert message["From"] == MAIL_FROM
        assert message["To"].addresses == tuple(Address(addr_spec=a) for a in mail.rcpt_tos)
        assert message["Subject"] == request.subject
        assert message["Message-ID"] == message_id(request.key, "kommune.example")
        assert message["Auto-Submitted"] == "auto-generated"
        body = message.get_content()
        assert request.body in body
        assert request.case_number in body and TITLE in body
        assert f"Frist: {DUE_TEXT}" in body
        assert f"{PLATFORM}/{request.case_number}" in body
        assert_no_personal_data(message)
    assert mails[reminder.key].message["Subject"] == f"Sag 2026-0042: Påmindelse – {TITLE}"

    rows = await outbox(store)
    assert all(
        (row.sent_at, row.attempts, row.claimed_until, row.last_error) == (clock.now, 1, None, None)
        for row in rows.values()
    )
    sent_logs = [entry for entry in logs if entry["event"] == "notification sent"]
    assert sorted(entry["outbox_key"] for entry in sent_logs) == sorted(mails)
    assert {entry["case_number"] for entry in sent_logs} == {"2026-0042", "2026-0043"}
    assert_no_addresses(logs)


@pytest.mark.slow
async def test_a_refused_attempt_is_retried_after_the_backoff_and_delivered_exactly_once(
    store: Store, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp
    clock = Clock()
    request = await queue(store, "2026-0044")
    dispatcher = Dispatcher(store, notify_settings(port), clock=clock)
    inbox.refuse_data = 1

    first = await dispatcher.run_once()
    assert (first.sent, first.retrying) == (0, 1)
    assert inbox.received == []
    [row] = (await outbox(store)).values()
    assert (row.sent_at, row.attempts, row.claimed_until) == (None, 1, None)
    assert row.last_error is not None and "451" in row.last_error
    assert row.next_attempt_at == clock.now + timedelta(seconds=30)

    clock.advance(29)  # not due yet
    assert (await dispatcher.run_once()).total == 0
    assert inbox.received == []

    clock.advance(2)
    second = await dispatcher.run_once()
    assert (second.sent, second.retrying) == (1, 0)
    third = await dispatcher.run_once()
    assert third.total == 0

    assert [mail.key for mail in inbox.received] == [request.key]
    [row] = (await outbox(store)).values()
    assert (row.sent_at, row.attempts, row.claimed_until, row.next_attempt_at, row.last_error) == (
        clock.now,
        2,
        None,
        None,
        None,
    )


@pytest.mark.slow
async def test_racing_dispatchers_deliver_every_row_exactly_once(
    database_url: str, store: Store, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp
    inbox.delay = 0.02  # keep the dispatchers side by side
    keys = [(await queue(store, f"2026-{n:04d}")).key for n in range(100, 108)]
    stores = [Store.from_url(database_url) for _ in range(3)]
    try:
        reports = await asyncio.gather(
            *(Dispatcher(each, notify_settings(port)).run_once() for each in stores)
        )
    finally:
        for each in stores:
            await each.dispose()

    assert sum(report.sent for report in reports) == len(keys)
    assert Counter(mail.key for mail in inbox.received) == Counter(keys)
    rows = await outbox(store)
    assert all(row.sent_at is not None and row.attempts == 1 for row in rows.values())


@pytest.mark.slow
async def test_without_smtp_rows_stay_in_the_outbox_and_are_logged_once(
    store: Store, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, _port = smtp
    first = [(await queue(store, f"2026-{n:04d}")).key for n in (200, 201)]
    dispatcher = Dispatcher(store, NotifySettings())  # SAGSFLOW_SMTP_HOST unset
    assert not dispatcher.settings.enabled

    with capture_logs() as logs:
        assert (await dispatcher.run_once()).queued == 2
        assert (await dispatcher.run_once()).queued == 0
        later = (await queue(store, "2026-0202")).key
        assert (await dispatcher.run_once()).queued == 1

    queued = [entry for entry in logs if entry["event"] == "queued, no SMTP configured"]
    assert [entry["outbox_key"] for entry in queued] == [*first, later]
    assert [entry["case_number"] for entry in queued] == ["2026-0200", "2026-0201", "2026-0202"]
    assert inbox.received == []
    rows = await outbox(store)
    assert all(
        (row.sent_at, row.attempts, row.claimed_until, row.last_error) == (None, 0, None, None)
        for row in rows.values()
    )


@pytest.mark.slow
async def test_a_row_without_recipients_fails_for_good_until_requeued(
    store: Store, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp
    clock = Clock()
    request = await queue(store, "2026-0045", role=StaffRole.TK)  # no one for TK anywhere

    with capture_logs() as logs:
        report = await Dispatcher(store, notify_settings(port), clock=clock).run_once()

    assert (report.sent, report.failed) == (0, 1)
    [row] = (await outbox(store)).values()
    assert row.last_error == "ingen modtagere / no recipients for role tk at school vibeke-skolen"
    assert (row.sent_at, row.next_attempt_at, row.attempts) == (None, None, 1)
    [failure] = [entry for entry in logs if entry["event"] == "notification failed for good"]
    assert (failure["outbox_key"], failure["log_level"]) == (request.key, "error")

    clock.advance(86_400)  # never tried again by itself
    assert (await Dispatcher(store, notify_settings(port), clock=clock).run_once()).total == 0

    # The municipality adds TK to the recipients file and queues the failed rows again.
    fixed = Recipients.model_validate(
        RECIPIENTS.model_dump() | {"schools": {"*": {"tk": ["tk@kommune.example"]}}}
    )
    assert await store.requeue_failed_outbox(clock.now) == 1
    report = await Dispatcher(
        store, notify_settings(port, recipients=fixed), clock=clock
    ).run_once()
    assert report.sent == 1
    assert [(mail.key, mail.rcpt_tos) for mail in inbox.received] == [
        (request.key, ["tk@kommune.example"])
    ]


@pytest.mark.slow
async def test_refused_addresses_and_exhausted_attempts_fail_for_good_without_addresses(
    store: Store, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp
    clock = Clock()
    inbox.unknown_users = {"kontakt@vibeke-skolen.example"}
    refused = await queue(store, "2026-0046")
    settings = notify_settings(port, max_attempts=2)

    with capture_logs() as logs:
        report = await Dispatcher(store, settings, clock=clock).run_once()
        assert (report.failed, report.retrying) == (1, 0)  # 550: the address is wrong

        inbox.unknown_users = set()
        inbox.refuse_data = 10
        busy = await queue(store, "2026-0047")
        dispatcher = Dispatcher(store, settings, clock=clock)
        assert (await dispatcher.run_once()).retrying == 1
        clock.advance(30)
        assert (await dispatcher.run_once()).failed == 1  # the second of two attempts

    rows = await outbox(store)
    assert rows[refused.key].last_error.startswith(
        "afvist / refused: all 1 recipients refused: 550"
    )
    assert "…@vibeke-skolen.example" in rows[refused.key].last_error
    assert rows[busy.key].last_error.startswith("opgivet efter 2 forsøg / gave up after 2 attempts")
    assert all(row.sent_at is None and row.next_attempt_at is None for row in rows.values())
    assert inbox.received == []
    assert "kontakt@" not in repr([row.last_error for row in rows.values()])
    assert_no_addresses(logs)


@pytest.mark.slow
async def test_a_row_whose_text_names_a_child_is_not_sent(
    store: Store, smtp: tuple[SmtpInbox, int]
) -> None:
    inbox, port = smtp
    await queue(store, "2026-0048", body="Freja Kristensen er blevet krænket. Frist: i morgen.")

    with capture_logs() as logs:
        report = await Dispatcher(store, notify_settings(port), clock=Clock()).run_once()

    assert report.failed == 1 and inbox.received == []
    [row] = (await outbox(store)).values()
    assert row.last_error.startswith("personoplysninger i beskeden")
    assert "Freja" not in row.last_error and "Freja" not in repr(logs)


# ------------------------------------------------------------------------------ configuration


RECIPIENTS_YAML = """\
schools:
  vibeke-skolen:
    case_owner: [kontakt@vibeke-skolen.example]
  "*":
    communications: [kommunikation@kommune.example]
staff:
  ab: anne.bech@vibeke-skolen.example
"""


def test_settings_from_the_environment(tmp_path: Path) -> None:
    assert NotifySettings.from_env({}) == NotifySettings()
    assert not NotifySettings.from_env({}).enabled
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text(RECIPIENTS_YAML, encoding="utf-8")
    environ = {
        "SAGSFLOW_SMTP_HOST": "smtp.kommune.example",
        "SAGSFLOW_SMTP_USERNAME": "sagsflow",
        "SAGSFLOW_SMTP_PASSWORD": "hemmeligt",
        "SAGSFLOW_MAIL_FROM": MAIL_FROM,
        "SAGSFLOW_PLATFORM_URL": PLATFORM + "/",
        "SAGSFLOW_RECIPIENTS_FILE": str(recipients),
        "SAGSFLOW_NOTIFY_INTERVAL": "2.5",
    }
    settings = NotifySettings.from_env(environ)
    assert settings.enabled
    assert (settings.smtp_port, settings.smtp_tls, settings.interval) == (587, "starttls", 2.5)
    assert (settings.max_attempts, settings.platform_url) == (10, PLATFORM)
    assert "hemmeligt" not in repr(settings)
    assert settings.recipients.resolve(SCHOOL, "case_owner", "ab") == [
        "kontakt@vibeke-skolen.example",
        "anne.bech@vibeke-skolen.example",
    ]
    assert settings.recipients.resolve("ny-skole", "communications") == [
        "kommunikation@kommune.example"
    ]
    assert settings.recipients.resolve("ny-skole", "leadership") == []
    implicit = NotifySettings.from_env(environ | {"SAGSFLOW_SMTP_TLS": "TLS"})
    assert (implicit.smtp_tls, implicit.smtp_port) == ("tls", 465)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SAGSFLOW_SMTP_TLS": "ssl"}, "SAGSFLOW_SMTP_TLS must be one of starttls, tls, none"),
        ({"SAGSFLOW_SMTP_PORT": "smtp"}, "SAGSFLOW_SMTP_PORT must be a whole number"),
        ({"SAGSFLOW_MAIL_FROM": ""}, "SAGSFLOW_MAIL_FROM must be set too"),
        ({"SAGSFLOW_SMTP_PASSWORD": ""}, "set both or neither"),
        ({"SAGSFLOW_PLATFORM_URL": "platform.example"}, "must be an http(s) URL"),
        ({"yaml": "schools: [a, b]"}, "schools: Input should be a valid dictionary"),
        ({"yaml": "schools:\n  Vibeke Skolen: {}"}, "school id 'Vibeke Skolen' is not valid"),
        ({"yaml": "schools:\n  x1:\n    rektor: [a@b.dk]"}, "schools.x1.rektor.[key]: Input"),
        ({"yaml": "schools:\n  x1:\n    tk: [not-an-address]"}, "schools.x1.tk.0: not an e-mail"),
        ({"yaml": "schools: {}\nteachers: {}"}, "teachers: Extra inputs are not permitted"),
        ({"yaml": "schools: {a: [}"}, "not valid YAML"),
        ({"SAGSFLOW_RECIPIENTS_FILE": "/nonexistent/recipients.yaml"}, "cannot be read"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text(change.pop("yaml", RECIPIENTS_YAML), encoding="utf-8")
    environ = {
        "SAGSFLOW_SMTP_HOST": "smtp.kommune.example",
        "SAGSFLOW_SMTP_USERNAME": "sagsflow",
        "SAGSFLOW_SMTP_PASSWORD": "hemmeligt",
        "SAGSFLOW_MAIL_FROM": MAIL_FROM,
        "SAGSFLOW_PLATFORM_URL": PLATFORM,
        "SAGSFLOW_RECIPIENTS_FILE": str(recipients),
    } | change
    with pytest.raises(NotifyConfigError) as raised:
        NotifySettings.from_env(environ)
    assert message in str(raised.value)
    assert "not-an-address" not in str(raised.value)  # no addresses echoed


# ------------------------------------------------------------------------------ in the worker


@pytest.mark.slow
async def test_the_worker_runs_the_dispatcher_when_smtp_is_configured(
    env: WorkflowEnvironment,
    tmp_path: Path,
    task_queue: str,
    smtp: tuple[SmtpInbox, int],
    restore_logging: None,
) -> None:
    inbox, port = smtp
    settings = Settings(
        temporal_address=env.client.service_client.config.target_host,
        temporal_namespace=env.client.namespace,
        task_queue=task_queue,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
    )
    running = asyncio.create_task(
        run_worker(settings, workflows=[InboxProbeWorkflow], notify_settings=notify_settings(port))
    )
    case_number = f"W-{uuid.uuid4().hex[:8]}"
    probe = kit.inbox_probe(case_number)
    try:
        await asyncio.wait_for(
            env.client.execute_workflow(
                InboxProbeWorkflow.run,
                probe,
                id=kit.workflow_id(case_number),
                task_queue=task_queue,
            ),
            timeout=15,
        )
        for _ in range(200):
            if inbox.received:
                break
            await asyncio.sleep(0.05)
    except BaseException:
        running.cancel()
        raise
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(running, timeout=15)

    assert [(mail.key, mail.rcpt_tos) for mail in inbox.received] == [
        (probe.notification.key, ["kontakt@vibeke-skolen.example"])
    ]
    store = Store.from_url(settings.database_url)
    try:
        [row] = await store.list_outbox()
    finally:
        await store.dispose()
    assert row.sent_at is not None and row.attempts == 1
