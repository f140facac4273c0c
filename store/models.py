"""Tables of the read model. Columns hold ids, roles and Danish staff texts, never evidence.

Enum-like columns (phase, status, role …) are plain strings holding the values of the enums in
`schemas.common`: adding a value to the contract then needs no database migration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import UtcDateTime

# Deterministic constraint names on every dialect, so Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WORKFLOW_ID = String(255)
CASE_NUMBER = String(40)
SCHOOL_ID = String(40)
TASK_ID = String(80)
STAFF_ID = String(64)
VOCABULARY = String(32)  # values of the StrEnums in schemas.common


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CaseRow(Base):
    """One row per case workflow: where it stands, for lists and dashboards."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(WORKFLOW_ID, unique=True)
    case_number: Mapped[str] = mapped_column(CASE_NUMBER, index=True)
    school_id: Mapped[str] = mapped_column(SCHOOL_ID, index=True)
    phase: Mapped[str] = mapped_column(VOCABULARY)
    status: Mapped[str] = mapped_column(VOCABULARY)
    route: Mapped[str] = mapped_column(VOCABULARY)
    severity: Mapped[str] = mapped_column(VOCABULARY)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set by the retention sweep once the case's personal data is gone; what is left of the
    # case (this row: number, school, dates, route, severity, status) is kept for statistics.
    anonymised_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TaskRow(Base):
    """The inbox: one row per task instance a workflow opened."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("workflow_id", "task_id"),
        # The inbox query: open tasks (of a school) by deadline.
        Index(None, "status", "due_at"),
        Index(None, "school_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(WORKFLOW_ID)
    task_id: Mapped[str] = mapped_column(TASK_ID)
    key: Mapped[str] = mapped_column(TASK_ID)
    title: Mapped[str] = mapped_column(Text)
    guidance: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(VOCABULARY)
    school_id: Mapped[str] = mapped_column(SCHOOL_ID)
    case_number: Mapped[str] = mapped_column(CASE_NUMBER)
    assignee: Mapped[str | None] = mapped_column(STAFF_ID)
    status: Mapped[str] = mapped_column(VOCABULARY)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_by: Mapped[str | None] = mapped_column(STAFF_ID)
    reminded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The workflow run whose store write last set this row (reset and continue-as-new).
    run_id: Mapped[str | None] = mapped_column(String(64))


class TimelineEventRow(Base):
    """The case's timeline as the workflow numbered it; `seq` makes appends idempotent."""

    __tablename__ = "timeline_events"
    __table_args__ = (UniqueConstraint("workflow_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(WORKFLOW_ID)
    case_number: Mapped[str] = mapped_column(CASE_NUMBER)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(VOCABULARY)
    text: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str | None] = mapped_column(STAFF_ID)
    actor_role: Mapped[str | None] = mapped_column(VOCABULARY)
    task_id: Mapped[str | None] = mapped_column(TASK_ID)
    reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64))


class OutboxRow(Base):
    """Notifications waiting to be sent (mail in production, the log in development)."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The sender's query: what is not sent yet, oldest first.
        Index(None, "sent_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    workflow_id: Mapped[str] = mapped_column(WORKFLOW_ID, index=True)
    case_number: Mapped[str] = mapped_column(CASE_NUMBER)
    school_id: Mapped[str] = mapped_column(SCHOOL_ID)
    kind: Mapped[str] = mapped_column(VOCABULARY)
    role: Mapped[str] = mapped_column(VOCABULARY)
    assignee: Mapped[str | None] = mapped_column(STAFF_ID)
    task_id: Mapped[str] = mapped_column(TASK_ID)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Delivery bookkeeping for the dispatcher: a row is claimed before it is sent, so two
    # dispatchers never send the same row; a failed attempt waits until next_attempt_at.
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ParticipantRow(Base):
    """A participant's name behind a case-local pseudonym. The only place names are kept:
    never in workflow payloads, search attributes or logs."""

    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("workflow_id", "pseudonym"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(WORKFLOW_ID)
    case_number: Mapped[str] = mapped_column(CASE_NUMBER)
    pseudonym: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Contact details (e.g. the custody holders' phone and mail): as personal as the name.
    contact: Mapped[str | None] = mapped_column(Text)


class StaffRow(Base):
    """Staff the API has seen (their token's roles and schools) or the tokens file lists: who a
    task may be given to. No names: the id, the roles and the schools are enough."""

    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(STAFF_ID, primary_key=True)
    roles: Mapped[str] = mapped_column(String(200))  # comma-separated StaffRole values
    schools: Mapped[str] = mapped_column(Text)  # comma-separated school ids; "*" every school
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AccessLogRow(Base):
    """Who read or did what to which case, when and why. The data subject may see it all."""

    __tablename__ = "access_log"
    __table_args__ = (Index(None, "case_number", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str] = mapped_column(STAFF_ID)
    actor_roles: Mapped[str] = mapped_column(String(200))  # comma-separated StaffRole values
    action: Mapped[str] = mapped_column(String(64))  # e.g. read_case, complete_task
    case_number: Mapped[str | None] = mapped_column(CASE_NUMBER)
    purpose: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(VOCABULARY)  # allowed, denied, failed
    detail: Mapped[str | None] = mapped_column(Text)  # ids only, never personal data
