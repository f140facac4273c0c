"""Retention: what the scheduled sweep is asked to do, and what it did (or would do).

The report holds case numbers, dates and counts only — never a name, a text or a staff id —
so it can be shown, logged and kept in the workflow history without carrying personal data.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.common import Model

# What a free text that may have named someone reads after the retention period.
ANONYMISED_TEXT = "[slettet efter udløb af opbevaringsperioden]"


class RetentionSweepInput(Model):
    """The `RetentionSweep` workflow's input (the Schedule's action carries it)."""

    retention_days: int = Field(
        ge=1, description="Days after a case closed that its personal data is kept."
    )
    dry_run: bool = Field(
        default=False, description="Only report what would be removed; change nothing."
    )


class RetentionRequest(Model):
    """The `apply_retention` activity's input: the sweep's settings and its moment."""

    retention_days: int = Field(ge=1)
    dry_run: bool = False
    as_of: datetime = Field(
        description="When the sweep runs (the workflow's time): cases closed before "
        "as_of - retention_days are due."
    )


class RetentionCaseEntry(Model):
    """One case whose personal data was (or, in a dry run, would be) removed."""

    case_number: str
    school_id: str
    status: str = Field(description="closed or withdrawn.")
    closed_at: datetime
    participants_deleted: int = Field(ge=0, description="Names and contact details.")
    timeline_texts_anonymised: int = Field(
        ge=0, description="Free texts (notes, new incidents, rejections, reassignments)."
    )
    timeline_identities_removed: int = Field(
        ge=0, description="Events whose staff id or written reason is removed."
    )
    tasks_cleared: int = Field(
        ge=0,
        description="Inbox rows whose guidance (the drafted note), assignee and "
        "completer are removed.",
    )
    outbox_deleted: int = Field(ge=0, description="Notifications of the case, sent or not.")


class RetentionTotals(Model):
    cases: int = 0
    participants_deleted: int = 0
    timeline_texts_anonymised: int = 0
    timeline_identities_removed: int = 0
    tasks_cleared: int = 0
    outbox_deleted: int = 0


class RetentionReport(Model):
    """What one sweep removed, or — with dry_run — would remove."""

    as_of: datetime
    cutoff: datetime = Field(description="Cases closed before this moment are due.")
    retention_days: int
    dry_run: bool
    cases: list[RetentionCaseEntry] = Field(default_factory=list)
    totals: RetentionTotals = Field(default_factory=RetentionTotals)

    @classmethod
    def of(
        cls,
        request: RetentionRequest,
        cutoff: datetime,
        cases: list[RetentionCaseEntry],
    ) -> RetentionReport:
        totals = RetentionTotals(
            cases=len(cases),
            participants_deleted=sum(c.participants_deleted for c in cases),
            timeline_texts_anonymised=sum(c.timeline_texts_anonymised for c in cases),
            timeline_identities_removed=sum(c.timeline_identities_removed for c in cases),
            tasks_cleared=sum(c.tasks_cleared for c in cases),
            outbox_deleted=sum(c.outbox_deleted for c in cases),
        )
        return cls(
            as_of=request.as_of,
            cutoff=cutoff,
            retention_days=request.retention_days,
            dry_run=request.dry_run,
            cases=cases,
            totals=totals,
        )
