"""`sagsflow task …`: the inbox, completing a task (validated) and reassigning one."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from cli.service import (
    EXIT_FAILED,
    EXIT_INVALID,
    AddressOption,
    NamespaceOption,
    fail,
    group_options,
    invalid,
    run,
    run_store,
    settings,
)

# The options' choices only (enums): the rest is imported by the command that runs, so that
# `sagsflow --help` loads neither Temporal nor the API nor the store.
from schemas.common import StaffRole, TaskStatus, case_workflow_id

if TYPE_CHECKING:
    from schemas.snapshot import TaskView
    from service.cases import CaseService
    from store import Store, TaskRow

app = typer.Typer(
    name="task",
    help="The inbox: list, complete and reassign tasks.\n\nOpgaver: vis, udfør og omfordel.",
    no_args_is_help=True,
)
app.callback()(group_options)

CaseArgument = Annotated[str, typer.Argument(help="Case number, e.g. 2026-0042. Sagsnummer.")]
TaskKeyArgument = Annotated[
    str, typer.Argument(help="Task key, e.g. assess.uncover. Opgavens nøgle.")
]
TaskIdOption = Annotated[
    str | None,
    typer.Option(
        "--task-id",
        help="A specific instance (e.g. treat.press-2) when several with the key are open.",
        show_default=False,
    ),
]


# ------------------------------------------------------------------------ inbox


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    role: Annotated[
        StaffRole | None, typer.Option("--role", help="Only tasks for this role. Kun rolle.")
    ] = None,
    school: Annotated[
        str | None, typer.Option("--school", help="Only this school. Kun denne skole.")
    ] = None,
    assignee: Annotated[
        str | None,
        typer.Option("--assignee", help="Only tasks assigned to this staff id. Kun tildelt."),
    ] = None,
    case_number: Annotated[
        str | None, typer.Option("--case", help="Only this case. Kun denne sag.")
    ] = None,
    include_closed: Annotated[
        bool, typer.Option("--all", help="Include closed tasks. Også afsluttede opgaver.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """The inbox from the store (DATABASE_URL), earliest deadline first.

    Indbakken: åbne opgaver efter rolle, skole og tildeling.
    """
    from cli import render

    config = settings(ctx, address, namespace)

    async def work(store: Store) -> list[TaskRow]:
        return await store.list_tasks(
            workflow_id=case_workflow_id(case_number) if case_number else None,
            status=None if include_closed else TaskStatus.OPEN,
            role=role.value if role else None,
            school_id=school,
        )

    rows = run_store(config, work)
    if assignee is not None:
        # The store filters by role and school; assignment is a property of few rows.
        rows = [row for row in rows if row.assignee == assignee]
    now = datetime.now(UTC)
    if as_json:
        typer.echo(json.dumps([render.task_json(row, now) for row in rows], ensure_ascii=False))
        return
    out = render.console()
    if not rows:
        out.print("Ingen opgaver / no tasks")
        return
    out.print(render.task_table(rows, now))


# ------------------------------------------------------------------------ complete


def read_decision(text: str, task_key: str) -> dict[str, Any]:
    """--decision: JSON, '@file' or '@-' (stdin); "task" defaults to the task key."""
    source = "--decision"
    if text.startswith("@"):
        name = text[1:]
        source = f"--decision {text}"
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{source}: kan ikke læses / cannot be read: {exc.strerror}", EXIT_INVALID)
    try:
        decision = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{source}: ugyldig JSON / invalid JSON: {exc}", EXIT_INVALID)
    if not isinstance(decision, dict):
        fail(f"{source}: skal være et JSON-objekt / must be a JSON object", EXIT_INVALID)
    decision.setdefault("task", task_key)
    return decision


@app.command("complete")
def complete(
    ctx: typer.Context,
    case_number: CaseArgument,
    task_key: TaskKeyArgument,
    actor: Annotated[str, typer.Option("--actor", help="Staff id of who completes it. Hvem.")],
    role: Annotated[
        StaffRole, typer.Option("--role", help="The role they act in. Rollen, der handles i.")
    ],
    decision: Annotated[
        str,
        typer.Option(
            "--decision",
            help="The decision as JSON, or @FILE (@- for stdin); 'task' may be left out. "
            "Fields per task: schemas/decisions.py. Beslutningen som JSON.",
        ),
    ],
    task_id: TaskIdOption = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Required when the decision deviates from the recommendation. Begrundelse.",
            show_default=False,
        ),
    ] = None,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Complete a task through the validated `submit_task` update: an open one, as in the inbox.

    Udfør en opgave (en åben, som i indbakken). En afvist beslutning vises med årsagen, og intet registreres.
    """  # noqa: E501 - typer's --help shows the docstring's line breaks as they are
    from cli import render
    from service.cases import TaskRejected

    config = settings(ctx, address, namespace)
    completion: dict[str, Any] = {
        "task_key": task_key,
        "actor": {"id": actor, "role": role.value},
        "decision": read_decision(decision, task_key),
    }
    if task_id is not None:
        completion["task_id"] = task_id
    if reason is not None:
        completion["reason"] = reason

    async def work(service: CaseService) -> TaskView:
        # Only a task the case has recorded (its inbox row), never one a query merely showed:
        # an update for a task of a lost workflow task would break the case's replay.
        await service.require_progressing(case_number)
        try:
            row = await service.recorded_task(case_number, task_key, task_id)
            completion["task_id"] = row.task_id
            await service.log_operator_action(actor, "complete_task", case_number)
            # The workflow validates (and names every bad field): one set of rules, one answer.
            return await service.submit_task(case_number, completion)
        except TaskRejected as exc:
            fail(f"Afvist / rejected: {exc}", EXIT_FAILED)

    view = run(config, work, with_store=True)
    out = render.console()
    out.print(f"[bold green]Opgave udført[/] / task completed: {view.task_id} – {view.title}")
    if view.deviations:
        out.print(
            "Afviger fra anbefalingen / deviates from the recommendation: "
            + " ".join(view.deviations)
        )
        out.print(f"Begrundelse / reason: {view.reason}")
    out.print(f"Se sagen / show it: sagsflow case show {case_number}", style="dim")


# ------------------------------------------------------------------------ reassign


@app.command("reassign")
def reassign(
    ctx: typer.Context,
    case_number: CaseArgument,
    task_key: TaskKeyArgument,
    by: Annotated[str, typer.Option("--by", help="Staff id of who reassigns. Hvem.")],
    role: Annotated[
        StaffRole, typer.Option("--role", help="The role they act in. Rollen, der handles i.")
    ],
    assignee: Annotated[
        str, typer.Option("--assignee", help="Staff id of the new assignee. Ny ansvarlig.")
    ],
    task_id: TaskIdOption = None,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Assign an open task to a member of staff.

    Tildel en åben opgave til en medarbejder.
    """
    from cli import render
    from schemas.messages import Reassignment
    from service.cases import TaskRejected

    config = settings(ctx, address, namespace)
    try:
        change = Reassignment.model_validate(
            {
                "task_key": task_key,
                "task_id": task_id,
                "by": {"id": by, "role": role.value},
                "assignee": assignee,
            }
        )
    except ValidationError as exc:
        invalid(exc, {"by": "--by / --role", "assignee": "--assignee", "task_id": "--task-id"})

    async def work(service: CaseService) -> None:
        # As `task complete`: only a task with an open inbox row.
        facts = await service.require_progressing(case_number)
        try:
            row = await service.recorded_task(case_number, task_key, task_id)
        except TaskRejected as exc:
            fail(f"Afvist / rejected: {exc}", EXIT_FAILED)
        await service.check_assignee(assignee, facts.school_id, row.role)
        await service.log_operator_action(by, "reassign_task", case_number)
        await service.reassign(case_number, change.model_copy(update={"task_id": row.task_id}))

    run(config, work, with_store=True)
    out = render.console()
    out.print(
        f"Opgaven {task_id or task_key} i sag {case_number} tildeles {assignee} / reassignment sent"
    )
    out.print(
        "Signaler besvares ikke: en afvist besked står i tidslinjen / signals do not answer: "
        f"a refused one shows in the timeline (sagsflow case show {case_number})",
        style="dim",
    )
