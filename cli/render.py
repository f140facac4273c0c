"""How the CLI shows cases and tasks: rich tables, Danish labels, times in Copenhagen.

Nothing here names a child: everything shown comes from the workflow (pseudonyms) or the
inbox, never from the participants table.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from procedure.calendar import local_time
from schemas.labels import (
    PHASE_DA,
    ROUTE_DA,
    SEVERITY_DA,
    STAFF_ROLE_DA,
    STATUS_DA,
    TASK_STATUS_DA,
)
from schemas.snapshot import CaseSnapshot, EventKind, TaskView

if TYPE_CHECKING:  # annotations only: `fail()` renders without Temporal or SQLAlchemy loaded
    from service.cases import CaseSummary
    from store import TaskRow

# Output that goes to a pipe or a test runner: wide enough that tables keep ids on one line.
PIPE_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A console for one command; wide when not on a terminal (pipes, tests)."""
    made = Console(stderr=stderr, highlight=False)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made = Console(stderr=stderr, highlight=False, width=PIPE_WIDTH)
    return made


def local(moment: datetime | None, *, seconds: bool = False) -> str:
    """A moment in Copenhagen time, e.g. '24.11.2026 17:45'."""
    if moment is None:
        return "–"
    return local_time(moment, kl=False, seconds=seconds)


def yes_no(value: bool | None) -> str:
    if value is None:
        return "–"
    return "ja" if value else "nej"


def both(value: str | None, danish: dict[str, str]) -> str:
    """'police' → 'politi (police)': the Danish word with the value filters and JSON use."""
    if value is None:
        return "–"
    word = danish.get(value)
    return f"{word} ({value})" if word and word != value else value


def role(value: str | Any) -> str:
    value = str(getattr(value, "value", value))
    return f"{STAFF_ROLE_DA.get(value, value)} ({value})"


def actor(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value.id} ({STAFF_ROLE_DA.get(value.role.value, value.role.value)})"


# ------------------------------------------------------------------------ case list


def case_table(cases: Iterable[CaseSummary], now: datetime) -> Table:
    cases = list(cases)
    table = Table(title=f"Sager / cases ({len(cases)})", title_justify="left")
    for header in (
        "Sag / case",
        "Skole / school",
        "Fase / phase",
        "Status",
        "Spor / route",
        "Alvor / severity",
        "Åbne opg. / open tasks",
        "Næste frist / next deadline",
        "Overskredet / overdue",
    ):
        table.add_column(header)
    for case in cases:
        overdue = case.has_overdue_task
        table.add_row(
            case.case_number,
            case.school_id,
            both(case.phase, PHASE_DA),
            both(case.status, STATUS_DA),
            both(case.route, ROUTE_DA),
            both(case.severity, SEVERITY_DA),
            "–" if case.open_task_count is None else str(case.open_task_count),
            local(case.next_deadline),
            Text(yes_no(overdue), style="bold red" if overdue else ""),
        )
    return table


# ------------------------------------------------------------------------ snapshot


def snapshot_view(snap: CaseSnapshot) -> Group:
    parts: list[Any] = [_header(snap)]
    parts.append(
        _open_tasks(snap) if snap.open_tasks else Text("Åbne opgaver / open tasks: ingen / none")
    )
    parts.append(
        _done_tasks(snap)
        if snap.done_tasks
        else Text("Afsluttede opgaver / closed tasks: ingen / none")
    )
    if snap.recommendation is not None:
        parts.append(_recommendation(snap))
    timer = (
        f"Næste timer / next timer: {snap.next_timer.what} {local(snap.next_timer.at)}"
        if snap.next_timer
        else "Næste timer / next timer: ingen / none"
    )
    parts.append(Text(timer))
    parts.append(_timeline(snap))
    contacts = _contacts(snap.procedure_version)
    if contacts is not None and snap.status == "active":
        parts.append(Text(contacts))
    return Group(*parts)


def _contacts(version: str) -> str | None:
    """The card's "ER DU FORTSAT I TVIVL, SÅ KONTAKT", from the card the case runs on."""
    from procedure.loader import ProcedureError, load_spec
    from workflows.texts import contacts_guidance

    try:
        return contacts_guidance(load_spec(version=version).contacts)
    except ProcedureError:
        return None  # a card this installation does not have: the case is still shown


def _header(snap: CaseSnapshot) -> Table:
    table = Table(title=f"Sag / case {snap.case_number}", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("Workflow id", snap.workflow_id),
        ("Skole / school", snap.school_id),
        ("Fase / phase", both(snap.phase.value, PHASE_DA)),
        ("Status", both(snap.status.value, STATUS_DA)),
        ("Runde / round", str(snap.round)),
        ("Spor / route", both(snap.route.value, ROUTE_DA)),
        ("Alvor / severity", both(snap.severity.value, SEVERITY_DA)),
        ("Underretning", yes_no(snap.underretning)),
        ("Handlekort / procedure", snap.procedure_version),
        ("Næste frist / next deadline", local(snap.next_deadline)),
        ("Overskredet / overdue", yes_no(snap.has_overdue_task)),
        ("Pr. / as of", local(snap.as_of, seconds=True)),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def _open_tasks(snap: CaseSnapshot) -> Table:
    table = Table(title=f"Åbne opgaver / open tasks ({len(snap.open_tasks)})", title_justify="left")
    table.add_column("Opgave-id / task id", no_wrap=True)
    table.add_column("Titel / title", ratio=1, min_width=30)
    for header in ("Rolle / role", "Tildelt / assignee", "Frist / due", "Overskredet / overdue"):
        table.add_column(header)
    for view in snap.open_tasks:
        overdue = view.overdue(snap.as_of)
        table.add_row(
            view.task_id,
            view.title,
            role(view.role),
            view.assignee or "–",
            local(view.due_at),
            Text(yes_no(overdue), style="bold red" if overdue else ""),
        )
    return table


def _done_tasks(snap: CaseSnapshot) -> Table:
    done = sorted(snap.done_tasks, key=lambda v: (v.completed_at or v.opened_at, v.task_id))
    table = Table(title=f"Afsluttede opgaver / closed tasks ({len(done)})", title_justify="left")
    table.add_column("Opgave-id / task id", no_wrap=True)
    table.add_column("Titel / title", ratio=1, min_width=30)
    for header in (
        "Status",
        "Udført af / by",
        "Tidspunkt / at",
        "Begrundelse / reason",
    ):
        table.add_column(header)
    for view in done:
        table.add_row(
            view.task_id,
            view.title,
            TASK_STATUS_DA.get(view.status.value, view.status.value),
            actor(view.completed_by),
            local(view.completed_at),
            _reason(view),
        )
    return table


def _reason(view: TaskView) -> str:
    if view.reason and view.deviations:
        return f"{view.reason} (afviger: {' '.join(view.deviations)})"
    return view.reason or ""


def _recommendation(snap: CaseSnapshot) -> Table:
    advice = snap.recommendation
    assert advice is not None
    table = Table(title="Anbefaling / recommendation", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Politianmeldelse / police report", yes_no(advice.police_report))
    table.add_row("Underretning", yes_no(advice.underretning))
    table.add_row("SSP", yes_no(advice.ssp))
    if advice.police_advice:
        table.add_row("Politiets råd / police advice", "bekymringssamtale, fjernelse af materiale")
    for reason in advice.reasons:
        table.add_row("Begrundelse / reason", reason)
    return table


EVENT_STYLE = {
    EventKind.REJECTED: "red",
    EventKind.TASK_REMINDED: "yellow",
    EventKind.TASK_ESCALATED: "bold yellow",
    EventKind.RECEIPT_MISSING: "yellow",
    EventKind.PHASE_ENTERED: "bold",
    EventKind.CASE_CLOSED: "bold green",
    EventKind.CASE_WITHDRAWN: "bold magenta",
}


def _timeline(snap: CaseSnapshot) -> Table:
    table = Table(title=f"Tidslinje / timeline ({len(snap.timeline)})", title_justify="left")
    for header in (
        "#",
        "Tid / time",
        "Hændelse / kind",
        "Tekst / text",
        "Aktør / actor",
        "Begrundelse / reason",
    ):
        table.add_column(header)
    for event in snap.timeline:
        table.add_row(
            str(event.seq),
            local(event.at, seconds=True),
            event.kind.value,
            Text(event.text, style=EVENT_STYLE.get(event.kind, "")),
            actor(event.actor),
            event.reason or "",
        )
    return table


# ------------------------------------------------------------------------ inbox


def task_table(rows: Iterable[TaskRow], now: datetime) -> Table:
    rows = list(rows)
    table = Table(title=f"Opgaver / tasks ({len(rows)})", title_justify="left")
    table.add_column("Sag / case", no_wrap=True)
    table.add_column("Skole / school")
    table.add_column("Opgave-id / task id", no_wrap=True)
    table.add_column("Titel / title", ratio=1, min_width=30)
    table.add_column("Rolle / role")
    table.add_column("Tildelt / assignee")
    table.add_column("Status")
    table.add_column("Frist / due", no_wrap=True)
    table.add_column("Overskredet / overdue")
    table.add_column("Påmindet, eskaleret / reminded, escalated")
    for row in rows:
        overdue = task_overdue(row, now)
        flags = [
            word for word, on in (("påmindet", row.reminded), ("eskaleret", row.escalated)) if on
        ]
        table.add_row(
            row.case_number,
            row.school_id,
            row.task_id,
            row.title,
            role(row.role),
            row.assignee or "–",
            TASK_STATUS_DA.get(row.status, row.status),
            local(row.due_at),
            Text(yes_no(overdue), style="bold red" if overdue else ""),
            ", ".join(flags) or "–",
        )
    return table


def task_overdue(row: TaskRow, now: datetime) -> bool:
    return row.status == "open" and now >= row.due_at


def task_json(row: TaskRow, now: datetime) -> dict[str, Any]:
    return {
        "workflow_id": row.workflow_id,
        "case_number": row.case_number,
        "school_id": row.school_id,
        "task_id": row.task_id,
        "key": row.key,
        "title": row.title,
        "guidance": row.guidance,
        "role": row.role,
        "assignee": row.assignee,
        "status": row.status,
        "opened_at": row.opened_at.isoformat(),
        "due_at": row.due_at.isoformat(),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "completed_by": row.completed_by,
        "reminded": row.reminded,
        "escalated": row.escalated,
        "overdue": task_overdue(row, now),
    }
