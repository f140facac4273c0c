"""`sagsflow case …`: open, find, read and act on cases (the operator's and staff's CLI)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from cli.service import (
    EXIT_INVALID,
    AddressOption,
    NamespaceOption,
    fail,
    group_options,
    invalid,
    run,
    settings,
)

# The options' choices only (enums): the rest is imported by the command that runs, so that
# `sagsflow --help` loads neither Temporal nor the API nor the store.
from core.timeouts import QUERY_TIMEOUT_SECONDS
from schemas.common import CaseStatus, Phase, StaffRole, ViolationType

if TYPE_CHECKING:
    from schemas.snapshot import CaseSnapshot
    from service.cases import CaseService, CaseSummary


app = typer.Typer(
    name="case",
    help="Open, list, show and act on cases.\n\nOpret, find, vis og håndter sager.",
    no_args_is_help=True,
)
app.callback()(group_options)

# Where each field of the contract comes from on the command line, for error messages.
OPEN_OPTIONS = {
    "case_number": "--case-number",
    "school_id": "--school",
    "opened_by": "--opened-by / --opened-by-role",
    "reported_at": "--reported-at",
    "violation_types": "--violation",
    "participants": "--participant",
    "offender_known": "--offender-known / --offender-unknown",
    "parents_suspected": "--parents-suspected",
    "procedure_version": "--procedure-version",
}
SAME_SCHOOL = {"same": True, "samme": True, "other": False, "anden": False}

ByOption = Annotated[str, typer.Option("--by", help="Staff id of who acts. Hvem handler.")]
RoleOption = Annotated[
    StaffRole, typer.Option("--role", help="The role they act in. Rollen, der handles i.")
]
CaseArgument = Annotated[str, typer.Argument(help="Case number, e.g. 2026-0042. Sagsnummer.")]


# ------------------------------------------------------------------------ open


def parse_participant(text: str) -> tuple[dict[str, Any], str | None]:
    """'P1:victim:14:same[:Full Name]' → the participant (pseudonym only) and the name."""
    parts = text.split(":", 4)
    if len(parts) < 4:
        fail(
            f"--participant '{text}': skriv PSEUDONYM:ROLLE:ALDER:same|other[:NAVN] / "
            "expected PSEUDONYM:ROLE:AGE:same|other[:NAME], e.g. P1:victim:14:same",
            EXIT_INVALID,
        )
    pseudonym, role, age, school = (part.strip() for part in parts[:4])
    if school.lower() not in SAME_SCHOOL:
        fail(
            f"--participant '{pseudonym}': skole skal være 'same' eller 'other', ikke "
            f"'{school}' / school must be 'same' or 'other', not '{school}'",
            EXIT_INVALID,
        )
    name = parts[4].strip() if len(parts) == 5 else ""
    participant = {
        "pseudonym": pseudonym,
        "role": role,
        "age": age,
        "same_school": SAME_SCHOOL[school.lower()],
    }
    return participant, name or None


def parse_moment(text: str | None, option: str) -> datetime:
    """ISO 8601; without a UTC offset it is Copenhagen time. None: now."""
    from procedure.calendar import COPENHAGEN

    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(
            f"{option} '{text}': ikke en ISO 8601-tid / not an ISO 8601 time "
            "(e.g. 2026-11-24T09:30 or 2026-11-24T09:30:00+01:00)",
            EXIT_INVALID,
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=COPENHAGEN)


@app.command("open")
def open_case(
    ctx: typer.Context,
    case_number: Annotated[
        str, typer.Option("--case-number", help="The municipality's case number. Sagsnummer.")
    ],
    school: Annotated[str, typer.Option("--school", help="School id, e.g. vibeke-skolen. Skole.")],
    opened_by: Annotated[
        str, typer.Option("--opened-by", help="Staff id of who opens the case. Oprettet af.")
    ],
    violation: Annotated[
        list[ViolationType] | None,
        typer.Option(
            "--violation",
            metavar="KIND",
            help="Kind of violation, repeat for several: "
            + ", ".join(v.value for v in ViolationType)
            + ". Krænkelsens art (gentag for flere).",
            show_default=False,
        ),
    ] = None,
    participant: Annotated[
        list[str] | None,
        typer.Option(
            "--participant",
            help="PSEUDONYM:ROLE:AGE:same|other with an optional :NAME, e.g. "
            "P1:victim:14:same or P2:offender:15:other:Full Name; repeat for each child. "
            "The name is kept in the sagsflow database only, never in Temporal. "
            "Parter; navnet gemmes kun i databasen.",
            show_default=False,
        ),
    ] = None,
    opened_by_role: Annotated[
        StaffRole, typer.Option("--opened-by-role", help="Role of who opens it. Rolle.")
    ] = StaffRole.CASE_OWNER,
    offender_known: Annotated[
        bool | None,
        typer.Option(
            "--offender-known/--offender-unknown",
            help="Whether the offender is known; default: known if an offender participant "
            "is given. Er krænkeren kendt?",
            show_default=False,
        ),
    ] = None,
    parents_suspected: Annotated[
        bool,
        typer.Option(
            "--parents-suspected",
            help="The custody holders are suspected of abuse: not contacted first. "
            "Forældrene er mistænkt.",
        ),
    ] = False,
    reported_at: Annotated[
        str | None,
        typer.Option(
            "--reported-at",
            help="When the school learned of it, ISO 8601 (Copenhagen time without an "
            "offset); default now. Hvornår skolen fik kendskab.",
            show_default=False,
        ),
    ] = None,
    procedure_version: Annotated[
        str | None,
        typer.Option(
            "--procedure-version",
            help="Procedure version to run, e.g. 'demo'; default the current card. "
            "Handlekortets version.",
            show_default=False,
        ),
    ] = None,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Open a case: starts its workflow case-<number>.

    Opret en sag. Børn angives med pseudonymer (P1, P2 …); navne gemmes kun i databasen.
    """
    from cli import render
    from schemas.case import CaseInput, reported_at_problem

    config = settings(ctx, address, namespace)
    parsed = [parse_participant(text) for text in participant or []]
    names = {p["pseudonym"]: name for p, name in parsed if name}
    participants = [p for p, _ in parsed]
    if offender_known is None:
        offender_known = any(p["role"] == "offender" for p in participants)
    try:
        case = CaseInput.model_validate(
            {
                "case_number": case_number,
                "school_id": school,
                "opened_by": {"id": opened_by, "role": opened_by_role.value},
                "reported_at": parse_moment(reported_at, "--reported-at"),
                "violation_types": [v.value for v in violation or []],
                "participants": participants,
                "offender_known": offender_known,
                "parents_suspected": parents_suspected,
                "procedure_version": procedure_version,
            }
        )
    except ValidationError as exc:
        invalid(exc, OPEN_OPTIONS)
    problem = reported_at_problem(case.reported_at, datetime.now(UTC), "--reported-at")
    if problem is not None:
        fail(problem, EXIT_INVALID)

    async def work(service: CaseService) -> str:
        handle = await service.open_case(
            case, {pseudonym: (name, None) for pseudonym, name in names.items()} or None
        )
        return handle.id

    workflow_id = run(config, work, with_store=bool(names))
    out = render.console()
    out.print(f"[bold green]Sag {case.case_number} er oprettet[/] / case opened")
    out.print(f"Workflow id: [bold]{workflow_id}[/]")
    if names:
        out.print(
            f"Navne på {len(names)} part(er) er gemt i sagsflows database, ikke i Temporal / "
            f"names of {len(names)} participant(s) stored in the sagsflow database only"
        )
    out.print(f"Se sagen / show it: sagsflow case show {case.case_number}")


# ------------------------------------------------------------------------ list / show


@app.command("list")
def list_cases(
    ctx: typer.Context,
    school: Annotated[
        str | None, typer.Option("--school", help="Only this school. Kun denne skole.")
    ] = None,
    phase: Annotated[
        Phase | None, typer.Option("--phase", help="Only cases in this phase. Kun denne fase.")
    ] = None,
    status: Annotated[
        CaseStatus | None,
        typer.Option("--status", help="Only cases with this status. Kun denne status."),
    ] = None,
    overdue: Annotated[
        bool | None,
        typer.Option(
            "--overdue/--not-overdue",
            help="Only cases with (or without) an overdue task. Med/uden overskredet frist.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many. Højst.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """List cases from Temporal's search attributes (no personal data).

    Vis sager, filtreret efter skole, fase, status og overskredne frister.
    """
    from cli import render

    config = settings(ctx, address, namespace)

    async def work(service: CaseService) -> list[CaseSummary]:
        return await service.list_cases(
            school_id=school,
            phase=phase.value if phase else None,
            status=status.value if status else None,
            overdue=overdue,
            limit=limit,
        )

    cases = run(config, work)
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in cases], ensure_ascii=False))
        return
    out = render.console()
    if not cases:
        out.print("Ingen sager fundet / no cases found")
        return
    out.print(render.case_table(cases, datetime.now(UTC)))


@app.command("show")
def show_case(
    ctx: typer.Context,
    case_number: CaseArgument,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Show a case: where it stands, its tasks, recommendation, next timer and timeline.

    Vis en sag: status, opgaver, anbefaling, næste timer og tidslinje.
    """
    from cli import render

    config = settings(ctx, address, namespace)
    snap = run(config, lambda service: snapshot(service, case_number))
    if as_json:
        typer.echo(json.dumps(snap.model_dump(mode="json"), ensure_ascii=False))
        return
    render.console().print(render.snapshot_view(snap))


async def snapshot(service: CaseService, case_number: str) -> CaseSnapshot:
    try:
        # The service's own (longer) limit would say "not being processed"; here, next to
        # `sagsflow dev`, a missing worker is the likelier reason, and this line names it.
        return await asyncio.wait_for(
            service.snapshot(case_number, timeout=QUERY_TIMEOUT_SECONDS + 5),
            QUERY_TIMEOUT_SECONDS,
        )
    except TimeoutError:
        fail(
            f"Ingen worker svarede inden {QUERY_TIMEOUT_SECONDS:.0f} s på forespørgslen om sag "
            f"{case_number}. Kører workeren (sagsflow dev / sagsflow worker)?\n"
            f"No worker answered the query about case {case_number} within "
            f"{QUERY_TIMEOUT_SECONDS:.0f} s. Is the worker running?"
        )


# ------------------------------------------------------------------------ signals


def _actor(by: str, role: StaffRole) -> dict[str, str]:
    return {"id": by, "role": role.value}


def _signal(
    ctx: typer.Context,
    address: str | None,
    namespace: str | None,
    case_number: str,
    send: str,
    message: Any,
    done: str,
) -> None:
    from cli import render

    config = settings(ctx, address, namespace)
    from schemas.personal import ACTOR_FIELDS

    actor = next(getattr(message, field) for field in ACTOR_FIELDS if hasattr(message, field))

    async def work(service: CaseService) -> None:
        # With the store: in the access log (an operator's action outside the API), and a
        # text naming a participant is refused before the case sees it.
        await service.log_operator_action(actor.id, send, case_number)
        await getattr(service, send)(case_number, message)

    run(config, work, with_store=True)
    render.console().print(done)
    render.console().print(
        "Signaler besvares ikke: en afvist besked står i tidslinjen / signals do not answer: "
        f"a refused one shows in the timeline (sagsflow case show {case_number})",
        style="dim",
    )


def _model(name: str) -> Any:
    """A message model of `schemas.messages`, imported when a command sends one."""
    from schemas import messages

    return getattr(messages, name)


def _build(model: Any, raw: dict[str, Any], options: dict[str, str]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        invalid(exc, options)


@app.command("press-inquiry")
def press_inquiry(
    ctx: typer.Context,
    case_number: CaseArgument,
    by: ByOption,
    role: RoleOption,
    medium: Annotated[
        str, typer.Option("--medium", help="Which media outlet asked. Hvilket medie.")
    ],
    summary: Annotated[
        str | None,
        typer.Option(
            "--summary", help="What they asked (no names of children). Hvad der spørges om."
        ),
    ] = None,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Record a press inquiry: opens an urgent task for the communications department.

    Pressehenvendelse: kommunikationsafdelingen inddrages altid.
    """
    message = _build(
        _model("PressInquiry"),
        {"received_by": _actor(by, role), "medium": medium, "summary": summary},
        {"received_by": "--by / --role", "medium": "--medium", "summary": "--summary"},
    )
    _signal(
        ctx,
        address,
        namespace,
        case_number,
        "press_inquiry",
        message,
        f"Pressehenvendelse sendt til sag {case_number} / press inquiry sent",
    )


@app.command("note")
def add_note(
    ctx: typer.Context,
    case_number: CaseArgument,
    by: ByOption,
    role: RoleOption,
    text: Annotated[str, typer.Option("--text", help="The note (use pseudonyms). Notatet.")],
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Add a note to the case's timeline.

    Tilføj et notat til sagens tidslinje.
    """
    message = _build(
        _model("CaseNote"),
        {"author": _actor(by, role), "text": text},
        {"author": "--by / --role", "text": "--text"},
    )
    _signal(
        ctx,
        address,
        namespace,
        case_number,
        "add_note",
        message,
        f"Notat sendt til sag {case_number} / note sent",
    )


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    case_number: CaseArgument,
    by: ByOption,
    role: RoleOption,
    reason: Annotated[
        str, typer.Option("--reason", help="Why the case is withdrawn. Begrundelse.")
    ],
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Withdraw a case that proved unfounded; its open tasks are closed.

    Træk en sag tilbage (med begrundelse).
    """
    message = _build(
        _model("Withdrawal"),
        {"by": _actor(by, role), "reason": reason},
        {"by": "--by / --role", "reason": "--reason"},
    )
    _signal(
        ctx,
        address,
        namespace,
        case_number,
        "withdraw",
        message,
        f"Tilbagetrækning sendt til sag {case_number} / withdrawal sent",
    )


@app.command("incident")
def new_incident(
    ctx: typer.Context,
    case_number: CaseArgument,
    by: ByOption,
    role: RoleOption,
    description: Annotated[
        str, typer.Option("--description", help="What happened. Hvad der er sket.")
    ],
    reopen: Annotated[
        bool,
        typer.Option("--reopen", help="Re-open assessment for a new round. Genåbn vurderingen."),
    ] = False,
    address: AddressOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Record a new incident, optionally re-opening the assessment.

    Registrér en ny hændelse; genåbn evt. vurderingen.
    """
    message = _build(
        _model("NewIncident"),
        {"reported_by": _actor(by, role), "description": description, "reopen_assessment": reopen},
        {"reported_by": "--by / --role", "description": "--description"},
    )
    _signal(
        ctx,
        address,
        namespace,
        case_number,
        "new_incident",
        message,
        f"Ny hændelse sendt til sag {case_number} / new incident sent",
    )
