"""`sagsflow demo`: the command and its options; the story and its run are in `cli.demo`,
imported when it runs (so that `sagsflow --help` loads neither Temporal nor the API)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.service import AddressOption, NamespaceOption, TaskQueueOption

STALL_SECONDS = 15.0


def demo(
    address: AddressOption = None,
    namespace: NamespaceOption = None,
    task_queue: TaskQueueOption = None,
    case_number: Annotated[
        str | None,
        typer.Option(
            "--case-number",
            help="Case number of the demo case; default DEMO-<date>-<random>. Sagsnummer.",
            show_default=False,
        ),
    ] = None,
    stall_timeout: Annotated[
        float,
        typer.Option(
            "--stall-timeout",
            min=1.0,
            help="Give up when nothing happens for this many seconds (no worker?). "
            "Giv op efter så mange sekunder uden fremdrift.",
        ),
    ] = STALL_SECONDS,
) -> None:
    """Run a realistic case end to end on the dev server, with accelerated timers.

    Kør en hel sag fra indberetning til afslutning på under et minut (kræver sagsflow dev).
    """
    from cli.demo import start

    start(address, namespace, task_queue, case_number, stall_timeout)
