"""`python -m chaos`: the fault suite (`make chaos`; `make chaos-short` in CI).

Exit status 0 when every check passed for every case, 1 when a check failed, 2 when the
harness itself could not run (e.g. the server would not start).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

from chaos.processes import ChildProcesses
from chaos.run import Options, run

# (cases, worker kills, server restarts, poison signals, fault window s, settle s)
SHORT = (6, 3, 1, 24, 40.0, 60.0)
# Poison goes only to running cases: the window stays shorter than a demo case's life.
FULL = (21, 12, 4, 140, 100.0, 150.0)


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description="Run whole cases on the real Temporal dev server with a separate worker "
        "process, kill the worker and the server, send poison signals with the stock "
        "temporal CLI, then verify every case.",
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="the short CI form (6 cases, 3 worker kills, 1 server SIGKILL, "
        "24 poison signals; ~2 minutes)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the fault timing")
    parser.add_argument("--cases", type=int)
    parser.add_argument("--worker-kills", type=int)
    parser.add_argument("--server-restarts", type=int)
    parser.add_argument("--poison", type=int, help="poison signals to deliver")
    parser.add_argument("--window", type=float, help="seconds over which faults are spread")
    parser.add_argument(
        "--settle", type=float, help="seconds the cases may take to finish after the faults"
    )
    parser.add_argument(
        "--save-histories",
        type=Path,
        metavar="DIR",
        help="save a few histories of faulted cases (uses the TEST payload "
        "keys of tests/histories for the whole run)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="where db files and logs go (default: a new temporary folder, kept for inspection)",
    )
    args = parser.parse_args(argv)
    defaults = SHORT if args.short else FULL
    cases, kills, restarts, poison, window, settle = defaults

    def pick(value: object, default: object) -> object:
        return default if value is None else value

    return Options(
        mode="short" if args.short else "full",
        seed=args.seed if args.seed is not None else random.SystemRandom().randrange(10**6),
        cases=int(pick(args.cases, cases)),  # type: ignore[call-overload]
        worker_kills=int(pick(args.worker_kills, kills)),  # type: ignore[call-overload]
        server_restarts=int(pick(args.server_restarts, restarts)),  # type: ignore[call-overload]
        poison=int(pick(args.poison, poison)),  # type: ignore[call-overload]
        window=float(pick(args.window, window)),  # type: ignore[arg-type]
        settle=float(pick(args.settle, settle)),  # type: ignore[arg-type]
        save_histories=args.save_histories,
        json_path=args.json,
        work_dir=args.work_dir,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    print(
        f"chaos: {options.mode} run, seed {options.seed} (repeat with --seed "
        f"{options.seed}): {options.cases} cases, {options.worker_kills} worker kills, "
        f"{options.server_restarts} server restarts, {options.poison} poison signals "
        f"over {options.window:.0f} s",
        flush=True,
    )
    try:
        report = asyncio.run(run(options))
    except KeyboardInterrupt:
        ChildProcesses.kill_all()
        print("chaos: interrupted; every child process was stopped", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the harness could not run at all
        ChildProcesses.kill_all()
        print(f"chaos: the harness failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(report.render(), flush=True)
    if options.json_path:
        report.write_json(options.json_path)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
