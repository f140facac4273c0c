"""Payloads of the case workflow's signals and update."""

from __future__ import annotations

from pydantic import Field

from schemas.common import TASK_ID_MAX, Actor, Model, ShortText, StaffId
from schemas.decisions import Decision


class TaskCompletion(Model):
    """Completes an open task: sent as the `complete_task` signal or `submit_task` update."""

    task_key: str = Field(
        min_length=1, max_length=TASK_ID_MAX, description="Task key, e.g. 'assess.uncover'."
    )
    task_id: str | None = Field(
        default=None,
        max_length=TASK_ID_MAX,
        description="A specific task instance (e.g. 'treat.press-2') when several with the "
        "same key are open; otherwise the open task with `task_key` is meant.",
    )
    actor: Actor
    decision: Decision
    reason: ShortText | None = Field(
        default=None,
        description="Required when the decision deviates from the system's recommendation.",
    )


class PressInquiry(Model):
    received_by: Actor
    medium: ShortText = Field(description="Which media outlet asked (no names of children).")
    summary: ShortText | None = None


class NewIncident(Model):
    reported_by: Actor
    description: ShortText
    reopen_assessment: bool = Field(
        description="Re-open the card at assess for a new round of assessment."
    )


class CaseNote(Model):
    author: Actor
    text: ShortText


class Withdrawal(Model):
    by: Actor
    reason: ShortText = Field(description="Why the case proved unfounded or is withdrawn.")


class Reassignment(Model):
    task_key: str = Field(min_length=1, max_length=TASK_ID_MAX)
    task_id: str | None = Field(default=None, max_length=TASK_ID_MAX)
    by: Actor
    assignee: StaffId
