"""`DigitalViolationCase`: one durable workflow per case, walking the whole action card.

This class is the public contract (DESIGN.md: workflow, signal, update and query names) and
nothing else: it hands each case to the core that recorded it. A case started by this build
carries the `lean-core` marker and runs the lean core (workflows/core.py: one store batch per
activation, one timer per case); a case started before has no marker and replays on the frozen
first core (workflows/legacy_v1.py), exactly as it was recorded (docs/versioning.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from schemas.case import CaseInput
    from schemas.snapshot import CarriedCase, CaseOutcome, CaseSnapshot, TaskView
    from workflows import inbound
    from workflows.core import CaseCore
    from workflows.legacy_v1 import LegacyCase

# The signals of the contract. They reach one dynamic handler that reads their payload itself,
# so that no message, however malformed, can fail a workflow task (workflows/inbound.py).
SIGNALS = (
    "complete_task",
    "press_inquiry",
    "new_incident",
    "add_note",
    "withdraw_case",
    "reassign_task",
)
LEAN_CORE = "lean-core"
CARRIED_MEMO = "carried"


@workflow.defn(name="DigitalViolationCase")
class DigitalViolationCase:
    @workflow.init
    def __init__(self, case: CaseInput) -> None:
        self._input = case
        # A case that continued as new brings its state in its memo (encrypted like payloads).
        self._carried: CarriedCase | None = workflow.memo_value(
            CARRIED_MEMO, None, type_hint=CarriedCase
        )
        self._core: CaseCore | LegacyCase | None = None

    def _chosen(self) -> CaseCore | LegacyCase:
        # Decided once, in the first activation (the run method's first step comes before any
        # handler), and recorded as a marker, so every replay chooses the same core.
        if self._core is None:
            self._core = (
                CaseCore(self._input)
                if workflow.patched(LEAN_CORE) or self._carried is not None
                else LegacyCase(self._input)
            )
        return self._core

    @workflow.run
    async def run(self, case: CaseInput) -> CaseOutcome:
        core = self._chosen()
        if isinstance(core, CaseCore):
            return await core.run(case, self._carried)
        return await core.run(case)

    @workflow.signal(dynamic=True)
    async def _message(self, name: str, args: Sequence[RawValue]) -> None:
        await self._chosen().message(name, args)

    # One raw argument: converted here, so that the case can tell one that came in unencrypted
    # (the worker's codec marks it). A call with more or fewer arguments fails in the validator:
    # refused, never a failed workflow task.
    @workflow.update(name="submit_task")
    async def submit_task(self, raw: RawValue) -> TaskView:
        core = self._chosen()
        value, unsealed = _update_argument(raw)
        if isinstance(core, CaseCore):
            return await core.submit_task(value, unsealed=unsealed)
        return await core.submit_task(value)

    @submit_task.validator
    def _validate_submit_task(self, raw: RawValue) -> None:
        core = self._ready()
        value, unsealed = _update_argument(raw)
        if isinstance(core, CaseCore):
            core.validate_submit_task(value, unsealed=unsealed)
        else:
            core.validate_submit_task(value)

    @workflow.query(name="snapshot")
    def snapshot(self) -> CaseSnapshot:
        return self._ready().snapshot()

    def _ready(self) -> CaseCore | LegacyCase:
        # Queries and validators are read-only and cannot record the marker; they come after
        # the first activation, which chose the core.
        if self._core is None:
            raise RuntimeError("the case has not started yet")
        return self._core


def _update_argument(raw: RawValue) -> tuple[Any, bool]:
    """The update's value, as the SDK would have converted it, and whether it came in
    unencrypted (the worker's codec marks such a payload), for the case to decide on."""
    try:
        value = workflow.payload_converter().from_payload(raw.payload)
    except Exception:  # noqa: BLE001 - not JSON: refused by the case like any malformed call
        value = None
    return value, bool(raw.payload.metadata.get(inbound.PLAINTEXT_MARK))
