"""Validated shape of the card data (card.yaml)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.common import StaffRole
from schemas.decisions import DECISION_TYPES


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deadline(Strict):
    """A span counted in clock hours or in working days (Mon-Fri except holidays).

    `seconds` exists for demonstrations and tests (the `demo` card), where a case must run
    through in a minute; a real card counts in hours and working days.
    """

    hours: int | None = Field(default=None, ge=0)
    working_days: int | None = Field(default=None, ge=1)
    seconds: int | None = Field(default=None, ge=0)
    # "Straks" that leaves the working day to act in: due at the end of the day the task opens
    # (of the next working day if it opens on another day), so no reminder comes before.
    end_of_working_day: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> Deadline:
        units = (self.hours, self.working_days, self.seconds, self.end_of_working_day)
        given = [unit for unit in units if unit is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'hours', 'working_days', 'seconds' or 'end_of_working_day'"
            )
        return self

    def describe(self) -> str:
        if self.end_of_working_day:
            return "straks (samme arbejdsdag)"
        if self.hours == 0 or self.seconds == 0:
            return "straks"
        if self.hours is not None:
            return f"{self.hours} timer"
        if self.seconds is not None:
            return f"{self.seconds} sekunder"
        return f"{self.working_days} arbejdsdage"


class Offset(Strict):
    """A calendar offset for durable timers (months, weeks, days, hours; seconds for demos)."""

    months: int = Field(default=0, ge=0)
    weeks: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)
    hours: int = Field(default=0, ge=0)
    seconds: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Offset:
        if not (self.months or self.weeks or self.days or self.hours or self.seconds):
            raise ValueError("an offset needs at least one of months, weeks, days, hours, seconds")
        return self


class Timers(Strict):
    evaluation_after: Offset
    follow_ups: list[Offset] = Field(min_length=1)
    underretning_receipt_within: Deadline


class TaskSpec(Strict):
    title: str = Field(min_length=1)
    guidance: str = Field(min_length=1)
    role: StaffRole
    deadline: Deadline
    deadline_from: Literal["opened", "reported_at", "underretning_submitted"] = "opened"
    escalate: bool = True
    escalation_grace: Deadline | None = None

    @model_validator(mode="after")
    def _grace(self) -> TaskSpec:
        if self.escalate and self.escalation_grace is None:
            raise ValueError("a task that escalates needs 'escalation_grace'")
        return self


class Contact(Strict):
    name: str
    title: str | None = None
    phone: str
    mail: str


class Contacts(Strict):
    tk: Contact
    consultant: Contact


class ProcedureSpec(Strict):
    version: str = Field(min_length=1)
    municipality: str
    timezone: str
    extra_non_working_days: list[str] = Field(default_factory=list)
    timers: Timers
    contacts: Contacts
    tasks: dict[str, TaskSpec]

    @model_validator(mode="after")
    def _every_task_known(self) -> ProcedureSpec:
        unknown = set(self.tasks) - set(DECISION_TYPES)
        missing = set(DECISION_TYPES) - set(self.tasks)
        if unknown or missing:
            raise ValueError(
                f"tasks must match the decision models: unknown {sorted(unknown)}, "
                f"missing {sorted(missing)}"
            )
        return self

    @model_validator(mode="after")
    def _deadline_bases(self) -> ProcedureSpec:
        """Only the receipt and its follow-up come after an underretning was sent; and the
        receipt period is the receipt task's deadline, so the two can never disagree."""
        after_submission = {"report.underretning_receipt", "report.underretning_follow_up"}
        wrong = sorted(
            key
            for key, task in self.tasks.items()
            if task.deadline_from == "underretning_submitted" and key not in after_submission
        )
        if wrong:
            raise ValueError(
                f"deadline_from 'underretning_submitted' only for {sorted(after_submission)}, "
                f"not {wrong}"
            )
        receipt = self.tasks.get("report.underretning_receipt")
        if receipt is not None and receipt.deadline != self.timers.underretning_receipt_within:
            raise ValueError(
                "timers.underretning_receipt_within must equal the deadline of "
                "report.underretning_receipt (it is the municipality's receipt period)"
            )
        return self


class Procedure(Strict):
    """The procedure as a case runs it: the card plus the non-working days it counts with."""

    spec: ProcedureSpec
    non_working_days: list[date] = Field(
        description="Danish public holidays (and configured extra days) for the years covered."
    )
    calendar_years: tuple[int, int] = Field(description="First and last year covered.")

    def task(self, key: str) -> TaskSpec:
        return self.spec.tasks[key]
