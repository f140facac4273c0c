"""`CaseService`: every client-side operation on cases, for the CLI and the HTTP API alike.

It speaks the public contract (workflow, signal, update and query names of DESIGN.md) through
a Temporal client, and keeps participants' names in the store only: workflow payloads, search
attributes and the UI's summaries carry pseudonyms.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from schemas.case import CaseInput
from schemas.common import CaseNumber, CaseStatus, Model, Phase, SchoolId, case_workflow_id
from schemas.messages import (
    CaseNote,
    NewIncident,
    PressInquiry,
    Reassignment,
    TaskCompletion,
    Withdrawal,
)
from schemas.labels import PARTICIPANT_ROLE_DA, VIOLATION_DA
from schemas.snapshot import CaseSnapshot, TaskView
from store import Store
from workflows import search_attributes as sa
from workflows.case import TASK_QUEUE, DigitalViolationCase




class CaseError(Exception):
    """A request about a case that cannot be carried out; the text is for staff (da / en)."""


class CaseNotFound(CaseError):
    pass


class CaseExists(CaseError):
    pass


class TaskRejected(CaseError):
    pass


class CaseSummary(Model):
    """One line of a case list, from search attributes only: no personal data."""

    case_number: str
    school_id: str
    workflow_id: str
    phase: str | None
    status: str | None
    route: str | None
    severity: str | None
    open_task_count: int | None
    next_deadline: datetime | None
    has_overdue_task: bool | None
    started_at: datetime | None
    running: bool


@dataclass(frozen=True)
class CaseFacts:
    """What the API checks before touching a case: no personal data."""

    case_number: str
    school_id: str
    running: bool
    status: str | None

    @property
    def ended(self) -> bool:
        """Closed or withdrawn. The status search attribute says so from the moment the case
        decides it, while the workflow may still be closing its tasks for a little while."""
        return not self.running or self.status in (CaseStatus.CLOSED, CaseStatus.WITHDRAWN)


def static_summary(case: CaseInput) -> str:
    kinds = ", ".join(VIOLATION_DA[v].lower() for v in case.violation_types)
    return f"Sag {case.case_number} · {case.school_id} · {kinds}"


def static_details(case: CaseInput) -> str:
    lines = [
        f"**Sag {case.case_number}** – digital krænkelse",
        "",
        f"- Skole: {case.school_id}",
        f"- Indberettet: {case.reported_at.isoformat(timespec='minutes')}",
        f"- Oprettet af: {case.opened_by.id} ({case.opened_by.role.value})",
        "- Krænkelse: " + ", ".join(VIOLATION_DA[v].lower() for v in case.violation_types),
        f"- Krænker kendt: {'ja' if case.offender_known else 'nej'}",
        "- Parter (pseudonymer): "
        + ", ".join(f"{p.pseudonym} {PARTICIPANT_ROLE_DA[p.role]} {p.age} år" for p in case.participants),
        "",
        "Navne findes kun i sagsflows database, aldrig i Temporal.",
    ]
    return "\n".join(lines)


def list_query(
    *,
    school_id: str | None = None,
    phase: str | None = None,
    status: str | None = None,
    overdue: bool | None = None,
    school_ids: Collection[str] | None = None,
) -> str:
    """A visibility query; every value is validated first, so nothing can be injected.

    `school_ids` limits the list to those schools (the caller's own, in the HTTP API); an
    empty collection matches no case at all rather than every case.
    """
    clauses = ["WorkflowType = 'DigitalViolationCase'"]
    if school_id is not None:
        _validate(SchoolId, school_id, "school")
        clauses.append(f"{sa.SCHOOL_ID.name} = '{school_id}'")
    if school_ids is not None:
        schools = sorted(set(school_ids))
        for school in schools:
            _validate(SchoolId, school, "school")
        if not schools:
            clauses.append(f"{sa.SCHOOL_ID.name} = ''")  # no school id is empty: no match
        else:
            listed = ", ".join(f"'{school}'" for school in schools)
            clauses.append(f"{sa.SCHOOL_ID.name} IN ({listed})")
    if phase is not None:
        Phase(phase)
        clauses.append(f"{sa.CASE_PHASE.name} = '{phase}'")
    if status is not None:
        if status not in ("active", "closed", "withdrawn"):
            raise CaseError(f"Ukendt status '{status}' / Unknown status '{status}'")
        clauses.append(f"{sa.CASE_STATUS.name} = '{status}'")
    if overdue is not None:
        clauses.append(f"{sa.HAS_OVERDUE_TASK.name} = {'true' if overdue else 'false'}")
    return " AND ".join(clauses)


def _validate(kind: Any, value: str, label: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        raise CaseError(f"Ugyldig {label} '{value}' / Invalid {label} '{value}'") from exc


class CaseService:
    def __init__(self, client: Client, store: Store | None = None, task_queue: str = TASK_QUEUE):
        self.client = client
        self.store = store
        self.task_queue = task_queue

    async def list_cases(
        self,
        *,
        school_id: str | None = None,
        phase: str | None = None,
        status: str | None = None,
        overdue: bool | None = None,
        limit: int = 100,
    ) -> list[CaseSummary]:
        query = list_query(school_id=school_id, phase=phase, status=status, overdue=overdue)
        found: list[CaseSummary] = []
        async for execution in self.client.list_workflows(query, limit=limit):
            found.append(self._summary(execution))
        return found

    def handle(self, case_number: str) -> WorkflowHandle:
        _validate(CaseNumber, case_number, "sagsnummer/case number")
        return self.client.get_workflow_handle(case_workflow_id(case_number))

    async def snapshot(self, case_number: str) -> CaseSnapshot:
        try:
            return await self.handle(case_number).query(DigitalViolationCase.snapshot)
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc

    async def submit_task(
        self, case_number: str, completion: TaskCompletion | Mapping[str, Any]
    ) -> TaskView:
        """Complete a task through the validated update; a refusal raises TaskRejected."""
        payload = completion.model_dump(mode="json") if isinstance(
            completion, BaseModel) else dict(completion)
        try:
            return await self.handle(case_number).execute_update(
                DigitalViolationCase.submit_task, payload
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            message = getattr(cause, "message", None) or str(cause or exc)
            raise TaskRejected(message) from exc
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc

    async def press_inquiry(self, case_number: str, inquiry: PressInquiry) -> None:
        await self._signal(case_number, DigitalViolationCase.press_inquiry, inquiry)

    async def new_incident(self, case_number: str, incident: NewIncident) -> None:
        await self._signal(case_number, DigitalViolationCase.new_incident, incident)

    async def add_note(self, case_number: str, note: CaseNote) -> None:
        await self._signal(case_number, DigitalViolationCase.add_note, note)

    async def withdraw(self, case_number: str, withdrawal: Withdrawal) -> None:
        await self._signal(case_number, DigitalViolationCase.withdraw_case, withdrawal)

    async def reassign(self, case_number: str, change: Reassignment) -> None:
        await self._signal(case_number, DigitalViolationCase.reassign_task, change)

    async def _signal(self, case_number: str, signal: Any, message: BaseModel) -> None:
        try:
            await self.handle(case_number).signal(signal, message.model_dump(mode="json"))
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc

    @staticmethod
    def _not_found(case_number: str, exc: RPCError) -> Exception:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return CaseNotFound(
                f"Sag {case_number} findes ikke / Case {case_number} does not exist"
            )
        if exc.status == RPCStatusCode.FAILED_PRECONDITION or "completed" in str(exc).lower():
            return CaseError(
                f"Sag {case_number} er afsluttet / Case {case_number} has ended"
            )
        return exc

    # --- for the HTTP API --------------------------------------------------------------------

    async def describe_case(self, case_number: str) -> CaseFacts:
        """School and state from the case's search attributes: known from the start, no worker
        needed, no personal data read. Raises CaseNotFound."""
        try:
            described = await self.handle(case_number).describe()
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc
        school = described.typed_search_attributes.get(sa.SCHOOL_ID)
        if not school or described.workflow_type != "DigitalViolationCase":
            raise CaseNotFound(
                f"Sag {case_number} findes ikke / Case {case_number} does not exist"
            )
        return CaseFacts(
            case_number=case_number,
            school_id=school,
            running=described.status == WorkflowExecutionStatus.RUNNING,
            status=described.typed_search_attributes.get(sa.CASE_STATUS),
        )

    async def case_input(self, case_number: str) -> CaseInput:
        """The input the case was opened with (participants by pseudonym, ages, roles)."""
        handle = self.handle(case_number)
        try:
            async for event in handle.fetch_history_events(page_size=1):
                started = event.workflow_execution_started_event_attributes
                [case] = await self.client.data_converter.decode(
                    started.input.payloads, [CaseInput]
                )
                return case
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc
        raise CaseNotFound(f"Sag {case_number} findes ikke / Case {case_number} does not exist")

    async def open_case(
        self, case: CaseInput, details: Mapping[str, tuple[str, str | None]] | None = None
    ) -> WorkflowHandle:
        """Start the case, then keep names and contact details (pseudonym → (name, contact))
        in the store — never in Temporal.

        Nothing is written before the case is known to be new, so a clashing case number never
        overwrites another case's names, and a case number is never used twice (not even after
        the first case has closed): names are keyed by it.
        """
        workflow_id = case_workflow_id(case.case_number)
        if details:
            unknown = set(details) - {p.pseudonym for p in case.participants}
            if unknown:
                raise CaseError(
                    f"Navne til ukendte pseudonymer {sorted(unknown)} / "
                    f"names for unknown pseudonyms {sorted(unknown)}"
                )
            if self.store is None:
                raise CaseError("Navne kræver databasen / names need the store")
        try:
            handle = await self.client.start_workflow(
                DigitalViolationCase.run,
                case,
                id=workflow_id,
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=static_summary(case),
                static_details=static_details(case),
                search_attributes=TypedSearchAttributes([
                    SearchAttributePair(sa.CASE_NUMBER, case.case_number),
                    SearchAttributePair(sa.SCHOOL_ID, case.school_id),
                    SearchAttributePair(sa.CASE_PHASE, Phase.ASSESS.value),
                    SearchAttributePair(sa.CASE_STATUS, "active"),
                ]),
            )
        except WorkflowAlreadyStartedError as exc:
            raise CaseExists(
                f"Sag {case.case_number} findes allerede / Case {case.case_number} already exists"
            ) from exc
        if details:
            assert self.store is not None
            await self.store.save_participant_details(
                workflow_id, case.case_number, dict(details)
            )
        return handle

    async def list_cases_page(
        self,
        *,
        school_ids: Collection[str] | None = None,
        school_id: str | None = None,
        phase: str | None = None,
        status: str | None = None,
        overdue: bool | None = None,
        page_size: int = 50,
        page_token: bytes | None = None,
    ) -> tuple[list[CaseSummary], bytes | None]:
        """One page of the case list and the token of the next page (None: the last page)."""
        query = list_query(
            school_id=school_id, phase=phase, status=status, overdue=overdue,
            school_ids=school_ids,
        )
        iterator = self.client.list_workflows(
            query, page_size=page_size, next_page_token=page_token
        )
        try:
            await iterator.fetch_next_page()
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise CaseError(
                    "Ugyldig sidemarkør eller søgning / Invalid page token or query"
                ) from exc
            raise
        page = [self._summary(execution) for execution in iterator.current_page or []]
        return page, iterator.next_page_token

    async def ready(self) -> bool:
        """Whether the Temporal frontend answers its health check."""
        try:
            return bool(await self.client.service_client.check_health())
        except RPCError:
            return False

    @staticmethod
    def _summary(execution: WorkflowExecution) -> CaseSummary:
        attrs = execution.typed_search_attributes
        return CaseSummary(
            case_number=attrs.get(sa.CASE_NUMBER) or execution.id.removeprefix("case-"),
            school_id=attrs.get(sa.SCHOOL_ID) or "",
            workflow_id=execution.id,
            phase=attrs.get(sa.CASE_PHASE),
            status=attrs.get(sa.CASE_STATUS),
            route=attrs.get(sa.CASE_ROUTE),
            severity=attrs.get(sa.CASE_SEVERITY),
            open_task_count=attrs.get(sa.OPEN_TASK_COUNT),
            next_deadline=attrs.get(sa.NEXT_DEADLINE),
            has_overdue_task=attrs.get(sa.HAS_OVERDUE_TASK),
            started_at=execution.start_time,
            running=execution.status == WorkflowExecutionStatus.RUNNING,
        )
