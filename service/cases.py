"""`CaseService`: every client-side operation on cases, for the CLI and the HTTP API alike.

It speaks the public contract (workflow, signal, update and query names of DESIGN.md) through
a Temporal client, and keeps participants' names in the store only: workflow payloads, search
attributes and the UI's summaries carry pseudonyms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
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

from core.codec import seals
from core.task_queue import TASK_QUEUE
from core.timeouts import QUERY_TIMEOUT_SECONDS, UPDATE_TIMEOUT_SECONDS
from schemas.case import CaseInput
from schemas.common import (
    Actor,
    CaseNumber,
    CaseStatus,
    Model,
    Phase,
    SchoolId,
    StaffRole,
    TaskStatus,
    case_number_of,
    case_workflow_id,
)
from schemas.labels import PARTICIPANT_ROLE_DA, VIOLATION_DA
from schemas.messages import (
    CaseNote,
    NewIncident,
    PressInquiry,
    Reassignment,
    TaskCompletion,
    Withdrawal,
)
from schemas.personal import NAME_RULE, NAME_RULE_UNSAID, free_texts, names_in
from schemas.snapshot import CaseSnapshot, EventKind, TaskView, TimelineEvent
from store import Store, TaskRow
from workflows import search_attributes as sa
from workflows.case import DigitalViolationCase
from workflows.inbound import SEALED_MEMO

WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
# The access log's purpose for what operators do with the `sagsflow` CLI.
CLI_PURPOSE = "drift: sagsflow-CLI uden om API'et"

# Running cases whose workflow tasks keep failing. Temporal sets the system search attribute
# once a workflow task has failed the number of times in the dynamic config value
# system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute (0, the default: never; see
# deploy/temporal/dynamicconfig/sagsflow.yaml and core/devserver.py), and clears it when a task
# succeeds again.
NOT_PROGRESSING_QUERY = (
    "WorkflowType = 'DigitalViolationCase' AND ExecutionStatus = 'Running' "
    "AND TemporalReportedProblems IS NOT NULL"
)


class CaseError(Exception):
    """A request about a case that cannot be carried out; the text is for staff (da / en)."""


class CaseNotFound(CaseError):
    pass


class CaseExists(CaseError):
    pass


class TaskRejected(CaseError):
    pass


class NameInText(CaseError):
    """A text for a case names one of its participants: pseudonyms only (DESIGN.md). Without
    `pseudonyms`, the refusal does not say whose name it is."""

    def __init__(self, pseudonyms: list[str]) -> None:
        self.pseudonyms = pseudonyms
        if pseudonyms:
            super().__init__(NAME_RULE.format(pseudonyms=", ".join(pseudonyms)))
        else:
            super().__init__(NAME_RULE_UNSAID)


class UnknownAssignee(CaseError):
    """A task given to someone who is not known to hold its role at the case's school."""

    def __init__(self, role: str, school_id: str) -> None:
        super().__init__(
            f"Opgaven kan kun gives til en kendt medarbejder med rollen {role} på skolen "
            f"{school_id} / The task can only go to known staff with the role {role} at the "
            f"school {school_id}"
        )


class CaseHasEnded(CaseError):
    """The case's workflow has closed: nothing more can be done in it."""

    def __init__(self, case_number: str) -> None:
        super().__init__(f"Sag {case_number} er afsluttet / Case {case_number} has ended")


class CaseNotProgressing(CaseError):
    """The case runs, but its workflow task keeps failing (or no worker answers): nothing can
    be read from or done in it until operators repair it. Not the caller's fault: retry later."""

    def __init__(self, case_number: str) -> None:
        self.case_number = case_number
        super().__init__(
            f"Sagen {case_number} behandles ikke lige nu – drift er underrettet / "
            f"The case {case_number} is not being processed – operators are alerted"
        )


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
    # Attempt of the workflow task the server has pending (0: none pending).
    workflow_task_attempt: int = 0

    @property
    def stuck(self) -> bool:
        """Running, and its workflow task has failed twice in a row: one failed attempt is
        also what an ordinary worker restart leaves (a timed-out workflow task)."""
        return self.running and self.workflow_task_attempt > 2

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
        + ", ".join(
            f"{p.pseudonym} {PARTICIPANT_ROLE_DA[p.role]} {p.age} år" for p in case.participants
        ),
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

    async def snapshot(
        self, case_number: str, timeout: float = QUERY_TIMEOUT_SECONDS
    ) -> CaseSnapshot:
        """The case's `snapshot` query. A case that cannot answer (its workflow task fails,
        the query handler fails, no worker answers in time) raises CaseNotProgressing."""
        handle = self.handle(case_number)
        try:
            return await asyncio.wait_for(handle.query(DigitalViolationCase.snapshot), timeout)
        except WorkflowQueryFailedError as exc:
            raise CaseNotProgressing(case_number) from exc
        except TimeoutError as exc:
            raise await self._timed_out(case_number) from exc
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc

    async def submit_task(
        self,
        case_number: str,
        completion: TaskCompletion | Mapping[str, Any],
        timeout: float = UPDATE_TIMEOUT_SECONDS,
    ) -> TaskView:
        """Complete a task through the validated update; a refusal raises TaskRejected.

        Staff act on recorded state: callers first find the task's inbox row
        (`recorded_task`), never only in a query's answer."""
        payload = (
            completion.model_dump(mode="json")
            if isinstance(completion, BaseModel)
            else dict(completion)
        )
        await self._no_names(case_number, payload)
        try:
            return await asyncio.wait_for(
                self.handle(case_number).execute_update(
                    # The update takes *args (a malformed call is refused, not failed); the
                    # SDK's overloads only type one-argument updates.
                    DigitalViolationCase.submit_task,  # type: ignore[arg-type]
                    payload,
                ),
                timeout,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            message = getattr(cause, "message", None) or str(cause or exc)
            raise TaskRejected(message) from exc
        except TimeoutError as exc:
            raise await self._timed_out(case_number) from exc
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc

    async def timeline(self, case_number: str) -> list[TimelineEvent]:
        """The whole timeline. From the store when there is one: a case that continued as new
        (a long life) carries only its latest events in the workflow itself."""
        if self.store is None:
            return (await self.snapshot(case_number)).timeline
        rows = await self.store.list_events(case_workflow_id(case_number))
        return [
            TimelineEvent(
                seq=row.seq,
                at=row.at,
                kind=EventKind(row.kind),
                text=row.text,
                actor=Actor(id=row.actor_id, role=StaffRole(row.actor_role))
                if row.actor_id and row.actor_role
                else None,
                task_id=row.task_id,
                reason=row.reason,
            )
            for row in rows
        ]

    async def recorded_task(
        self, case_number: str, task_key: str, task_id: str | None = None
    ) -> TaskRow:
        """The open inbox row of the task: what the case has recorded in its history.

        A query can show a task of a workflow task that is later lost (a worker crashing
        mid-task); an update sent for it breaks the case's replay. So staff act only on tasks
        the case has written to the inbox. Raises TaskRejected when there is no open row.
        """
        if self.store is None:
            raise CaseError("Opgaver kræver databasen / tasks need the store")
        workflow_id = case_workflow_id(case_number)
        if task_id is not None:
            row = await self.store.get_task(workflow_id, task_id)
            rows = [] if row is None else [row]
            shown = task_id
        else:
            rows = [
                r for r in await self.store.list_tasks(workflow_id=workflow_id) if r.key == task_key
            ]
            shown = task_key
        open_rows = [r for r in rows if r.status == TaskStatus.OPEN.value]
        if len(open_rows) == 1:
            return open_rows[0]
        if len(open_rows) > 1:
            ids = ", ".join(r.task_id for r in open_rows)
            raise TaskRejected(
                f"Flere åbne opgaver '{task_key}' ({ids}): angiv hvilken / "
                f"Several open tasks '{task_key}' ({ids}): name one (--task-id)"
            )
        if not rows:
            raise TaskRejected(
                f"Opgaven '{shown}' er ikke åben endnu / Task '{shown}' is not open yet"
            )
        raise TaskRejected(f"Opgaven '{shown}' er allerede udført / Task '{shown}' is already done")

    async def require_progressing(self, case_number: str) -> CaseFacts:
        """Raises CaseHasEnded or CaseNotProgressing unless the case runs and progresses."""
        facts = await self.describe_case(case_number)
        if facts.ended:
            raise CaseHasEnded(case_number)
        if facts.stuck:
            raise CaseNotProgressing(case_number)
        return facts

    async def press_inquiry(self, case_number: str, inquiry: PressInquiry) -> None:
        await self._signal(case_number, "press_inquiry", inquiry)

    async def new_incident(self, case_number: str, incident: NewIncident) -> None:
        await self._signal(case_number, "new_incident", incident)

    async def add_note(self, case_number: str, note: CaseNote) -> None:
        await self._signal(case_number, "add_note", note)

    async def withdraw(self, case_number: str, withdrawal: Withdrawal) -> None:
        await self._signal(case_number, "withdraw_case", withdrawal)

    async def reassign(self, case_number: str, change: Reassignment) -> None:
        await self._signal(case_number, "reassign_task", change)

    async def log_operator_action(self, actor_id: str, action: str, case_number: str) -> None:
        """An action taken outside the API (the `sagsflow` CLI, with the keys and the store):
        in the access log as an operator's, before it is carried out, as the API logs its
        own. No store: nothing to log in (and nothing to read names from either)."""
        if self.store is None:
            return
        await self.store.record_access(
            at=datetime.now(UTC),
            actor_id=actor_id,
            actor_roles=[StaffRole.OPERATOR.value],
            action=f"cli_{action}",
            case_number=case_number,
            purpose=CLI_PURPOSE,
            outcome="allowed",
        )

    def _sealed(self) -> bool:
        return seals(self.client.data_converter)

    async def check_assignee(self, assignee: str, school_id: str, role: str) -> None:
        """A task goes only to a member of staff the directory knows (the API's tokens) with
        the task's role at the case's school: else it would sit in no one's inbox."""
        if self.store is None:
            return
        member = await self.store.staff_member(assignee)
        if member is not None:
            roles, schools = member.roles.split(","), member.schools.split(",")
            # Communications handles press for every school: its staff work at none.
            anywhere = role == StaffRole.COMMUNICATIONS.value
            if role in roles and (anywhere or school_id in schools or "*" in schools):
                return
        raise UnknownAssignee(role, school_id)

    async def _no_names(self, case_number: str, message: Mapping[str, Any]) -> None:
        """Refuse a text that names a participant of the case, before the case sees it: the
        names are in the store only, behind the pseudonyms staff write instead."""
        if self.store is None:
            return
        texts = free_texts(message)
        if not texts:
            return
        names = await self.store.participant_names(case_workflow_id(case_number))
        named = names_in(texts, names)
        if named:
            raise NameInText(named)

    async def _signal(self, case_number: str, signal: Any, message: BaseModel) -> None:
        payload = message.model_dump(mode="json")
        if signal != "reassign_task":  # a staff id and a task key: no free text
            await self._no_names(case_number, payload)
        try:
            await self.handle(case_number).signal(signal, payload)
        except RPCError as exc:
            raise self._not_found(case_number, exc) from exc

    @staticmethod
    def _not_found(case_number: str, exc: RPCError) -> Exception:
        """What a refused RPC means for staff. FAILED_PRECONDITION is not "ended": the server
        also says it of a running case whose workflow task is failing ("Unable to query
        workflow due to Workflow Task in failed state")."""
        text = str(exc).lower()
        ended = "completed" in text or "closed" in text
        if exc.status == RPCStatusCode.NOT_FOUND:
            if "already completed" in text:
                return CaseHasEnded(case_number)
            return CaseNotFound(
                f"Sag {case_number} findes ikke / Case {case_number} does not exist"
            )
        if exc.status == RPCStatusCode.FAILED_PRECONDITION:
            return CaseHasEnded(case_number) if ended else CaseNotProgressing(case_number)
        if exc.status == RPCStatusCode.DEADLINE_EXCEEDED:
            return CaseNotProgressing(case_number)
        return exc

    async def _timed_out(self, case_number: str) -> Exception:
        """A query or update that got no answer in time: ended, or running and not
        progressing (a failing workflow task, or no worker)."""
        try:
            facts = await self.describe_case(case_number)
        except CaseError as exc:
            return exc
        except RPCError:
            return CaseNotProgressing(case_number)
        return CaseHasEnded(case_number) if not facts.running else CaseNotProgressing(case_number)

    async def count_not_progressing(self) -> int:
        """Running cases Temporal reports with failing workflow tasks (visibility)."""
        return (await self.client.count_workflows(NOT_PROGRESSING_QUERY)).count

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
            raise CaseNotFound(f"Sag {case_number} findes ikke / Case {case_number} does not exist")
        pending = described.raw_description.pending_workflow_task
        return CaseFacts(
            case_number=case_number,
            school_id=school,
            running=described.status == WorkflowExecutionStatus.RUNNING,
            status=described.typed_search_attributes.get(sa.CASE_STATUS),
            workflow_task_attempt=pending.attempt
            if described.raw_description.HasField("pending_workflow_task")
            else 0,
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
                # A workflow task lost with its worker is retried after this (Temporal's
                # default is 10 s): a killed worker's case resumes within seconds.
                task_timeout=WORKFLOW_TASK_TIMEOUT,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=static_summary(case),
                static_details=static_details(case),
                # The case takes messages only encrypted when its own start was (issue 15).
                memo={SEALED_MEMO: True} if self._sealed() else None,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.CASE_NUMBER, case.case_number),
                        SearchAttributePair(sa.SCHOOL_ID, case.school_id),
                        SearchAttributePair(sa.CASE_PHASE, Phase.ASSESS.value),
                        SearchAttributePair(sa.CASE_STATUS, "active"),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError as exc:
            raise CaseExists(
                f"Sag {case.case_number} findes allerede / Case {case.case_number} already exists"
            ) from exc
        if details:
            assert self.store is not None
            await self.store.save_participant_details(workflow_id, case.case_number, dict(details))
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
            school_id=school_id,
            phase=phase,
            status=status,
            overdue=overdue,
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
            case_number=attrs.get(sa.CASE_NUMBER) or case_number_of(execution.id) or execution.id,
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
