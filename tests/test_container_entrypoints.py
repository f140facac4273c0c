"""The container image, as far as a machine without a Docker engine can test it.

The Dockerfile is read and checked (pinned slim base, non-root user, entry point), and then its
recipe is replayed outside Docker: a wheel built from the build context (.dockerignore applied),
a clean venv, `pip install "<wheel>[extras]"` exactly as the Dockerfile does, and the image's
commands — `sagsflow worker` and `sagsflow api` — run from that venv with the image's
environment against a real Temporal dev server: a case opened through the API reaches the
inbox, both /metrics answer, the compose health checks pass, logs are JSON without names, and
SIGTERM stops both cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from core import environment
from tests.apikit import OPERATOR, TEACHER, new_case_body, write_tokens
from tests.test_dev_server import DevServer, free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
PIP_TIMEOUT = 420


@dataclass(frozen=True)
class Stage:
    base: str
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments)

    def last(self, instruction: str) -> str | None:
        found = [args for name, args in self.instructions if name == instruction]
        return found[-1] if found else None

    def all(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]


def dockerfile_stages() -> list[Stage]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)  # join continuation lines
    stages: list[Stage] = []
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append(Stage(base=arguments.split()[0], instructions=[]))
        elif stages:
            stages[-1].instructions.append((instruction, arguments.strip()))
    return stages


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"use the exec form (JSON list), not {arguments!r}"
    return parsed


def image_environment() -> dict[str, str]:
    """The ENV of the final stage (KEY=value pairs)."""
    found: dict[str, str] = {}
    for arguments in dockerfile_stages()[-1].all("ENV"):
        for key, value in re.findall(r'([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)', arguments):
            found[key] = value.strip('"')
    return found


def installed_extras() -> str:
    """The `[extras]` the Dockerfile installs the wheel with."""
    build = " ".join(dockerfile_stages()[0].all("RUN"))
    match = re.search(r'pip install "\$\(ls /wheels/sagsflow-\*\.whl\)(\[[a-z,]+\])?"', build)
    assert match, "the Dockerfile must install the sagsflow wheel from /wheels"
    return match.group(1) or ""


# --- the Dockerfile ---------------------------------------------------------------------------


def test_the_image_is_a_pinned_slim_python_and_runs_as_a_user() -> None:
    stages = dockerfile_stages()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for stage in stages:
        match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+", stage.base)
        assert match, f"base image {stage.base} must be python:X.Y.Z-slim-<debian>, pinned"
        minimum = re.search(r">=\s*(\d+)\.(\d+)", project["requires-python"])
        assert minimum is not None
        assert (int(match[1]), int(match[2])) >= (int(minimum[1]), int(minimum[2]))
    assert len({stage.base for stage in stages}) == 1, "build and run on the same Python"
    final = stages[-1]
    user = final.last("USER")
    assert user is not None, "the image must not run as root"
    assert user.split(":")[0] not in ("root", "0")
    assert re.fullmatch(r"\d+(:\d+)?", user), "a numeric uid, verifiable without /etc/passwd"


def test_the_entry_point_is_the_sagsflow_command_and_defaults_to_the_worker() -> None:
    final = dockerfile_stages()[-1]
    assert exec_form(final.last("ENTRYPOINT") or "null") == ["sagsflow"]
    assert exec_form(final.last("CMD") or "null") == ["worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sagsflow"] == "cli.main:app"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert compose["worker"]["command"] == ["worker"]
    assert compose["api"]["command"] == ["api"]


def test_the_image_sets_only_settings_sagsflow_reads() -> None:
    settings = {k: v for k, v in image_environment().items() if k.startswith("SAGSFLOW_")}
    # The image's setting, read back: nothing binds here.
    assert settings == {"SAGSFLOW_LOG_FORMAT": "json", "SAGSFLOW_API_HOST": "0.0.0.0"}  # noqa: S104
    assert set(settings) <= environment.NAMES


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for entry in (".env", ".venv", ".git", "data", "tests"):
        assert entry in ignored, f".dockerignore must leave out {entry}"


# --- the image's recipe, replayed in a clean venv ---------------------------------------------


def _build_context(destination: Path) -> Path:
    """A copy of the repository as Docker would send it (.dockerignore applied)."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    anywhere = [line.removeprefix("**/") for line in lines if line.startswith("**/")]
    at_root = [line for line in lines if not line.startswith("**/")]

    def ignore(folder: str, names: list[str]) -> set[str]:
        patterns = anywhere + (at_root if Path(folder) == ROOT else [])
        return {name for name in names if any(fnmatch.fnmatch(name, p) for p in patterns)}

    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


def run_side_by_side(*commands: tuple[list[str], float]) -> None:
    """`subprocess.run(command, check=True, timeout=...)` for each, all started at once."""
    started = [(subprocess.Popen(command), command, timeout) for command, timeout in commands]
    try:
        for process, command, timeout in started:
            if process.wait(timeout) != 0:
                raise subprocess.CalledProcessError(process.returncode, command)
    finally:
        for process, _, _ in started:
            if process.poll() is None:
                process.kill()
                process.wait()


def _uv() -> str | None:
    """uv beside this interpreter (`make install` puts it there), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv with the wheel installed as the Dockerfile installs it; its bin folder.

    The Dockerfile's steps with pip: build the wheel, make a venv, install the wheel with the
    image's extras. uv takes the same steps in a fifth of the time where it is installed (it
    builds and installs the same wheel from the same index); pip otherwise."""
    work = tmp_path_factory.mktemp("image")
    context = _build_context(work / "src")
    wheels = work / "wheels"
    venv = work / "venv"
    uv = _uv()
    if uv is not None:
        build = [uv, "build", "--quiet", "--wheel", "--out-dir", str(wheels), str(context)]
        make_venv = [uv, "venv", "--quiet", "--python", sys.executable, str(venv)]
    else:
        build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
        build += ["--wheel-dir", str(wheels), str(context)]
        make_venv = [sys.executable, "-m", "venv", str(venv)]
    # The Dockerfile's first two steps do not depend on each other: side by side here.
    run_side_by_side((build, PIP_TIMEOUT), (make_venv, 120))
    [wheel] = wheels.glob("sagsflow-*.whl")
    python = str(venv / "bin" / "python")
    install = (
        [uv, "pip", "install", "--quiet", "--python", python]
        if uv is not None
        else [python, "-m", "pip", "install", "--quiet"]
    )
    subprocess.run(
        [*install, f"{wheel}{installed_extras()}"],
        check=True,
        timeout=PIP_TIMEOUT,
    )
    with zipfile.ZipFile(wheel) as archive:
        [entry_points] = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
        assert "sagsflow = cli.main:app" in archive.read(entry_points).decode()
        names = archive.namelist()
    assert not any(n.startswith("tests/") for n in names), "tests must not ship in the image"
    assert any(n.startswith("procedure/") and n.endswith(".yaml") for n in names)
    assert any(n.startswith("store/migrations/versions/") for n in names)
    return venv / "bin"


def clean_environment(image: Path, home: Path, **settings: str) -> dict[str, str]:
    """The container's environment: the image's ENV and the given settings, nothing inherited."""
    return {
        "PATH": f"{image}{os.pathsep}/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "*",
        **image_environment(),
        **settings,
    }


@pytest.mark.slow
@pytest.mark.parametrize("command", [[], ["worker"], ["api"], ["case"], ["task"]])
def test_the_image_commands_start_from_the_clean_venv(image: Path, command: list[str]) -> None:
    result = subprocess.run(
        [str(image / "sagsflow"), *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(image, image.parent),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Usage" in result.stdout


@pytest.mark.slow
def test_the_replay_check_runs_from_the_clean_venv(image: Path) -> None:
    result = subprocess.run(
        [str(image / "python"), "-m", "workers.replay", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(image, image.parent),
    )
    assert result.returncode == 0, result.stderr
    assert "--query" in result.stdout


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:  # the test stops them; this only cleans up after a failure
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait(10)


def start(
    name: str,
    image: Path,
    command: list[str],
    env: dict[str, str],
    cwd: Path,
    processes: list[Process],
) -> Process:
    log = cwd / f"{name}.log"
    handle = log.open("wb")
    popen = subprocess.Popen(
        [str(image / "sagsflow"), *command],
        cwd=cwd,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()
    process = Process(name, popen, log)
    processes.append(process)
    return process


async def wait_http(
    http: httpx.AsyncClient, url: str, process: Process, timeout: float = 60
) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited:\n" + "\n".join(process.lines()[-40:]))
        try:
            response = await http.get(url)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{url} did not answer:\n" + "\n".join(process.lines()[-40:]))
        await asyncio.sleep(0.2)


def healthcheck(service: str, port: int) -> list[str]:
    """The compose health check of a service, pointed at this test's port."""
    test = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service][
        "healthcheck"
    ]["test"]
    assert test[0] == "CMD"
    internal = {"worker": "9464", "api": "8000"}[service]
    return [part.replace(f"127.0.0.1:{internal}", f"127.0.0.1:{port}") for part in test[1:]]


@pytest.mark.slow
async def test_worker_and_api_from_the_clean_venv_serve_a_case_and_stop_cleanly(
    image: Path, dev_temporal: DevServer, tmp_path: Path, processes: list[Process]
) -> None:
    home = tmp_path / "home"  # the image's WORKDIR: nothing from this checkout
    home.mkdir()
    tokens = home / "tokens.yaml"
    write_tokens(tokens)
    worker_metrics, api_port = free_port(), free_port()
    settings = clean_environment(
        image,
        home,
        TEMPORAL_ADDRESS=dev_temporal.address,
        DATABASE_URL=f"sqlite+aiosqlite:///{home / 'sagsflow.db'}",
        SAGSFLOW_TASK_QUEUE="sagsflow-image-test",
        SAGSFLOW_PAYLOAD_KEYS=f"k1={base64.b64encode(os.urandom(32)).decode()}",
        SAGSFLOW_RETENTION_SCHEDULE="off",
    )
    worker = start(
        "worker",
        image,
        ["worker"],
        settings | {"SAGSFLOW_METRICS_ADDRESS": f"127.0.0.1:{worker_metrics}"},
        home,
        processes,
    )
    api = start(
        "api",
        image,
        ["api"],
        settings
        | {
            "SAGSFLOW_API_HOST": "127.0.0.1",
            "SAGSFLOW_API_PORT": str(api_port),
            "SAGSFLOW_TOKENS_FILE": str(tokens),
        },
        home,
        processes,
    )
    base = f"http://127.0.0.1:{api_port}"
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        await wait_http(http, f"{base}/api/v1/ready", api)
        await wait_http(http, f"http://127.0.0.1:{worker_metrics}/metrics", worker)
        for service, port in (("worker", worker_metrics), ("api", api_port)):
            # Blocks the loop for the check: the servers are other processes, nothing waits here.
            check = subprocess.run(  # noqa: ASYNC221
                [
                    str(image / "python") if part == "python" else part
                    for part in healthcheck(service, port)
                ],
                capture_output=True,
                timeout=30,
            )
            assert check.returncode == 0, f"{service} health check: {check.stderr.decode()}"

        body = new_case_body()
        case_number = body["case_number"]
        opened = await http.post(f"{base}/api/v1/cases", json=body, headers=TEACHER.headers)
        assert opened.status_code == 201, opened.text
        deadline = asyncio.get_running_loop().time() + 60
        while True:  # the worker (clean venv) runs the case: its first task reaches the inbox
            inbox = (await http.get(f"{base}/api/v1/inbox", headers=TEACHER.headers)).json()
            if any(t["case_number"] == case_number for t in inbox["tasks"]):
                break
            assert asyncio.get_running_loop().time() < deadline, "\n".join(worker.lines()[-40:])
            await asyncio.sleep(0.3)

        api_metrics = (await http.get(f"{base}/metrics", headers=OPERATOR.headers)).text
        sdk_metrics = (await http.get(f"http://127.0.0.1:{worker_metrics}/metrics")).text
    assert re.search(r'^sagsflow_open_tasks\{role="case_owner"\} [1-9]', api_metrics, re.M)
    assert (
        'sagsflow_http_requests_total{method="POST",route="/api/v1/cases",status="201"} 1.0'
        in api_metrics
    )
    assert "sagsflow_http_request_duration_seconds_bucket" in api_metrics
    assert "sagsflow_overdue_tasks" in api_metrics
    assert "temporal_workflow_task_execution_latency_bucket" in sdk_metrics
    # The case writes to the store through a local activity in the workflow task.
    assert "temporal_local_activity_execution_latency_bucket" in sdk_metrics

    for process in (api, worker):
        process.popen.send_signal(signal.SIGTERM)
    # The worker exits 0; uvicorn, after its graceful shutdown, re-raises SIGTERM (exit 143 in
    # Docker, which `docker stop` treats as a clean stop).
    assert worker.popen.wait(30) == 0, "\n".join(worker.lines()[-40:])
    assert api.popen.wait(30) in (0, -signal.SIGTERM), "\n".join(api.lines()[-40:])
    assert any('"Application shutdown complete."' in line for line in api.lines())

    for process in (worker, api):
        lines = [line for line in process.lines() if line.strip()]
        assert lines, f"{process.name} logged nothing"
        records = [json.loads(line) for line in lines]  # the image logs JSON, one per line
        text = "\n".join(lines)
        for participant in body["participants"]:
            if participant.get("name"):
                assert participant["name"] not in text, f"{process.name} logged a name"
        assert all({"event", "level", "timestamp"} <= set(r) for r in records)
    assert any(r.get("case_number") == case_number for r in map(json.loads, worker.lines()))
    assert any(r.get("route") == "/api/v1/cases" for r in map(json.loads, api.lines()))
