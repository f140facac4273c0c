"""`sagsflow --help` starts fast: the CLI imports only what the command asked for needs.

Help (for the command or any of its subcommands) loads typer and the options' choices; never
Temporal, FastAPI, SQLAlchemy, uvicorn, the API, the store, the workers or the workflows. The
import check is the robust part; the timing is generous, for a loaded CI machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

# The integration tier: see the `slow` marker in pyproject.toml.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SAGSFLOW = Path(sys.executable).parent / "sagsflow"

# Top-level packages that `--help` must not import.
HEAVY = (
    "temporalio",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "api",
    "service",
    "store",
    "workers",
    "workflows",
    "activities",
    "driver",
)


# What the `sagsflow` entry point does (`cli.main:app`).
LAUNCH = "import sys; sys.argv[0] = 'sagsflow'; from cli.main import app; app()"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env["COLUMNS"] = "120"
    return env


def imported_modules(*args: str) -> set[str]:
    """Every module `sagsflow *args` imports, from `python -X importtime`."""
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", LAUNCH, *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    modules = set()
    for line in ran.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    assert "cli.main" in modules  # the output is what we think it is
    return modules


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["case", "--help"],
        ["case", "open", "--help"],
        ["task", "complete", "--help"],
        ["demo", "--help"],
        ["dev", "--help"],
        ["worker", "--help"],
        ["retention", "--help"],
    ],
)
def test_help_imports_no_temporal_fastapi_or_sqlalchemy(args: list[str]) -> None:
    heavy = sorted(name for name in imported_modules(*args) if name.split(".", 1)[0] in HEAVY)
    assert heavy == [], f"`sagsflow {' '.join(args)}` imports {heavy[:10]}"


def test_sagsflow_help_takes_well_under_a_second() -> None:
    """Measured in CPU time (the child's user + system), which the rest of a parallel test
    run cannot stretch the way it stretches the wall clock."""
    assert SAGSFLOW.exists(), f"{SAGSFLOW}: the package is not installed in this environment"
    times = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        ran = subprocess.run(
            [str(SAGSFLOW), "--help"],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        assert ran.returncode == 0, ran.stderr
        assert "case" in ran.stdout and "worker" in ran.stdout
    assert min(times) < 1.0, f"`sagsflow --help` took {min(times):.2f} s of CPU at best"
