"""Why a message to a case is refused, in Danish and English for staff.

Pure: used by the case workflow's signal handlers and the `submit_task` validator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.common import EARLIER_GUARD, TASK_ID_MAX, TASK_ID_PATTERN
from schemas.decisions import UnderretningDecision, UnderretningReceiptDecision

M = TypeVar("M", bound=BaseModel)
_KEY_SHAPE = re.compile(TASK_ID_PATTERN)


class Rejection(Exception):
    """A message the case refuses; the text is shown to staff as it is."""


def parse(model: type[M], raw: Any, *, earlier_guard: bool = False) -> M:
    """Validate a raw message into its model, or refuse it naming each bad field.
    `earlier_guard`: judge its texts as a case started before "card-round-three" did."""
    if raw is None:
        raise Rejection("Beskeden har intet indhold / The message has no content")
    try:
        return model.model_validate(raw, context=EARLIER_GUARD if earlier_guard else None)
    except ValidationError as exc:
        raise Rejection(describe_errors(exc.errors())) from None


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for error in errors:
        field = ".".join(str(part) for part in error.get("loc", ())) or "(besked/message)"
        message = str(error.get("msg", "ugyldig værdi / invalid value"))
        message = message.removeprefix("Value error, ")
        parts.append(f"felt/field '{field}': {message}")
    return "Ugyldig besked / Invalid message: " + "; ".join(parts)


def unknown_task(key: str) -> Rejection:
    # Echo only what looks like a task key: a message's text must never reach the timeline.
    shown = f" '{key}'" if len(key) <= TASK_ID_MAX and _KEY_SHAPE.fullmatch(key) else ""
    return Rejection(f"Ukendt opgave{shown} / Unknown task{shown}")


def not_open_yet(key: str) -> Rejection:
    return Rejection(f"Opgaven '{key}' er ikke åben endnu / Task '{key}' is not open yet")


def already_done(key: str, status: str = "done") -> Rejection:
    """A task that is no longer open, said as what happened to it."""
    if status == "superseded":
        return Rejection(
            f"Opgaven '{key}' er erstattet, fordi en ny hændelse genåbnede vurderingen / "
            f"Task '{key}' was superseded: a new incident re-opened the assessment"
        )
    if status == "withdrawn":
        return Rejection(
            f"Opgaven '{key}' er lukket, fordi sagen er trukket tilbage / "
            f"Task '{key}' was closed: the case was withdrawn"
        )
    return Rejection(f"Opgaven '{key}' er allerede udført / Task '{key}' is already done")


def unknown_instance(task_id: str) -> Rejection:
    return Rejection(
        f"Opgaven '{task_id}' findes ikke i sagen / Task '{task_id}' does not exist in this case"
    )


def wrong_role(key: str, required: str, given: str) -> Rejection:
    return Rejection(
        f"Opgaven '{key}' udføres af rollen '{required}', ikke '{given}' / "
        f"Task '{key}' is for role '{required}', not '{given}'"
    )


def wrong_decision(key: str, decision_task: str) -> Rejection:
    return Rejection(
        f"Beslutningen hører til opgaven '{decision_task}', ikke '{key}' / "
        f"The decision is of the type for task '{decision_task}', not '{key}'"
    )


# How the refusal of a departure without a reason begins: the web inbox shows it beside its
# reason field.
REASON_REQUIRED = "Beslutningen afviger fra anbefalingen og skal begrundes i feltet 'reason'"


def reason_required(deviations: list[str]) -> Rejection:
    listed = " ".join(deviations)
    return Rejection(
        f"{REASON_REQUIRED}: {listed} / "
        "The decision deviates from the recommendation: give a reason in the field 'reason'"
    )


def no_follow_up_left() -> Rejection:
    return Rejection(
        "Der er ingen flere planlagte opfølgninger: vælg 'close' eller 'reopen' / "
        "No further follow-up is planned: choose 'close' or 'reopen'"
    )


def case_ended(status: str) -> Rejection:
    return Rejection(f"Sagen er afsluttet ({status}) / The case has ended ({status})")


def being_opened(task_id: str) -> Rejection:
    return Rejection(
        f"Opgaven '{task_id}' er ved at blive åbnet – prøv igen om et øjeblik / "
        f"Task '{task_id}' is being opened – try again in a moment"
    )


# A staff member's clock a little ahead of the workflow's is no error.
CLOCK_SKEW = timedelta(minutes=5)


def implausible_time(
    decision: object, now: datetime, reported_at: datetime, submitted_at: datetime | None
) -> Rejection | None:
    """An underretning sent in the future or before the school knew of the case, or a receipt
    before the underretning: each would move the municipality's 6-weekday receipt period."""
    if isinstance(decision, UnderretningDecision):
        field, moment = "submitted_at", decision.submitted_at
        if moment < reported_at:
            return Rejection(
                f"'{field}' ligger før skolen fik kendskab til sagen / "
                f"'{field}' is before the school learned of the case"
            )
    elif isinstance(decision, UnderretningReceiptDecision):
        field, moment = "received_at", decision.received_at
        if submitted_at is not None and moment < submitted_at:
            return Rejection(
                f"'{field}' ligger før underretningen blev sendt / "
                f"'{field}' is before the underretning was sent"
            )
    else:
        return None
    if moment > now + CLOCK_SKEW:
        return Rejection(f"'{field}' ligger i fremtiden / '{field}' is in the future")
    return None
