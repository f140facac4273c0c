"""`sagsflow retention`: run the retention sweep now and show its report — a dry run unless
`--apply` is given.

The sweep runs as the `RetentionSweep` workflow on the worker's task queue (the same one the
daily schedule starts), so it needs a running worker; the report holds case numbers, dates and
counts, never a name or a text.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from cli.service import EXIT_INVALID, AddressOption, NamespaceOption, fail, run, settings

if TYPE_CHECKING:
    from rich.table import Table

    from schemas.retention import RetentionReport
    from service.cases import CaseService


def retention(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run/--apply",
            help="--dry-run (default): only report what would be removed. --apply: remove it. "
            "Prøvekørsel eller sletning.",
        ),
    ] = True,
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=1,
            help="Retention period in days after closing (env SAGSFLOW_RETENTION_DAYS; "
            "default 730). Opbevaringsperiode i dage.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        int,
        typer.Option(
            "--timeout",
            min=10,
            help="Seconds the sweep may take, waiting for a worker included; after that it "
            "is stopped by Temporal and changes nothing more.",
        ),
    ] = 300,
    as_json: Annotated[
        bool, typer.Option("--json", help="The report as JSON. Rapporten som JSON.")
    ] = False,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Remove personal data of cases closed longer ago than the retention period.

    Slet persondata i sager, der er afsluttet for længere tid siden end opbevaringsperioden.
    """
    # Here, not at the top: `sagsflow --help` must not load Temporal or the workflows.
    from temporalio.client import WorkflowFailureError

    from cli import render
    from core.settings import RetentionSettings
    from schemas.retention import RetentionSweepInput
    from workers.retention_schedule import WORKFLOW_ID_PREFIX
    from workflows.retention import RetentionSweep

    config = settings(ctx, address, namespace)
    if days is None:
        try:
            days = RetentionSettings.from_env().retention_days
        except ValueError as exc:
            fail(str(exc), EXIT_INVALID)
    sweep = RetentionSweepInput(retention_days=days, dry_run=dry_run)

    async def work(service: CaseService) -> RetentionReport:
        try:
            return await service.client.execute_workflow(
                RetentionSweep.run,
                sweep,
                id=f"{WORKFLOW_ID_PREFIX}-cli-{uuid.uuid4().hex[:8]}",
                task_queue=config.task_queue,
                execution_timeout=timedelta(seconds=timeout),
            )
        except WorkflowFailureError as exc:
            fail(
                "Opbevaringskørslen fejlede / the retention sweep failed: "
                f"{exc.cause}. Kører en worker? / Is a worker running?"
            )

    report = run(config, work)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    out = render.console()
    out.print(report_table(report))


def report_table(report: RetentionReport) -> Table:
    from rich.table import Table

    from cli import render

    what = (
        "Prøvekørsel – intet er ændret / dry run – nothing changed"
        if report.dry_run
        else "Persondata slettet / personal data removed"
    )
    table = Table(
        title=(
            f"{what}\nOpbevaringsperiode / retention: {report.retention_days} dage/days · "
            f"afsluttet før / closed before {render.local(report.cutoff)}"
        ),
        title_justify="left",
    )
    for header in (
        "Sag / case",
        "Skole / school",
        "Status",
        "Afsluttet / closed",
        "Deltagere / participants",
        "Tekster / texts",
        "Personer i tidslinjen / identities",
        "Opgaver / tasks",
        "Beskeder / outbox",
    ):
        table.add_column(header)
    for case in report.cases:
        table.add_row(
            case.case_number,
            case.school_id,
            render.both(case.status, render.STATUS_DA),
            render.local(case.closed_at),
            str(case.participants_deleted),
            str(case.timeline_texts_anonymised),
            str(case.timeline_identities_removed),
            str(case.tasks_cleared),
            str(case.outbox_deleted),
        )
    totals = report.totals
    table.add_section()
    table.add_row(
        f"I alt / total: {totals.cases}",
        "",
        "",
        "",
        str(totals.participants_deleted),
        str(totals.timeline_texts_anonymised),
        str(totals.timeline_identities_removed),
        str(totals.tasks_cleared),
        str(totals.outbox_deleted),
        style="bold",
    )
    return table
