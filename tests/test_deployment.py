"""The production deployment files: docker-compose.yml, .env.example, the Temporal setup
scripts, and the configuration registry (core/environment.py) with its documentation.

The compose file is validated against the Compose specification offline
(`check-jsonschema --builtin-schema vendor.compose-spec`); no Docker engine is needed.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.client import Client

from api.tokens import read_tokens_file
from core import environment, temporal_tls, tracing
from core.recipients import load_recipients
from core.settings import ALL_SETTINGS
from tests.conftest import binary
from tests.test_dev_server import DevServer, custom_search_attributes
from workflows import search_attributes

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
NAMESPACE_SCRIPT = ROOT / "deploy" / "temporal" / "setup-namespace.sh"
APP_SERVICES = ("worker", "api")
ONE_SHOT_SERVICES = ("temporal-schema", "temporal-namespace")
# ${NAME}, ${NAME:-default}, ${NAME:?error} …; $$ is a literal dollar.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
SAGSFLOW_NAME = re.compile(r"\bSAGSFLOW_[A-Z0-9_]*[A-Z0-9]\b")
# Variables only the test suite reads.
TEST_ONLY = {"SAGSFLOW_REQUIRE_POSTGRES", "SAGSFLOW_TEST_POSTGRES_URL", "SAGSFLOW_RECORD_HISTORIES"}
SOURCE_PACKAGES = (
    "api",
    "activities",
    "cli",
    "core",
    "procedure",
    "schemas",
    "service",
    "store",
    "workers",
    "workflows",
)


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    """Every NAME=value of .env.example, commented-out examples included."""
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def source_files() -> list[Path]:
    return [path for package in SOURCE_PACKAGES for path in (ROOT / package).rglob("*.py")]


# --- docker-compose.yml ---------------------------------------------------------------------


@pytest.mark.slow
def test_compose_file_is_valid_against_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_every_image_is_pinned_by_version() -> None:
    services = compose()["services"]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services.items():
        image = service["image"]
        assert "$" not in image, f"{name}: image tag from a variable is not pinned: {image}"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned"
    temporal = {
        services[s]["image"].rpartition(":")[2]
        for s in ("temporal", "temporal-schema", "temporal-namespace")
    }
    assert len(temporal) == 1, f"server and admin-tools must be one release, not {temporal}"
    for name in APP_SERVICES:
        assert services[name]["image"] == f"sagsflow:{version}"
        assert services[name]["build"] == "."


def test_the_official_temporal_setup_pattern() -> None:
    services = compose()["services"]
    assert not any("auto-setup" in s["image"] for s in services.values())
    assert services["temporal-schema"]["image"].startswith("temporalio/admin-tools:")
    assert services["temporal-namespace"]["image"].startswith("temporalio/admin-tools:")
    server = services["temporal"]
    assert server["image"].startswith("temporalio/server:")
    assert server["environment"]["DB"] == "postgres12"
    assert server["depends_on"]["temporal-schema"]["condition"] == (
        "service_completed_successfully"
    )
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert "TEMPORAL_CORS_ORIGINS" in ui
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["temporal-namespace"]["condition"] == (
            "service_completed_successfully"
        )


def test_health_checks_restart_policies_and_named_volumes() -> None:
    document = compose()
    services = document["services"]
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service["restart"].startswith("on-failure"), name
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], f"{name} has no health check"
    assert "postgres-data" in document["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgresql"]["volumes"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{volume}: {source} is not in the repository"


def test_secrets_come_from_the_env_file_and_none_is_committed() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for secret in (
        "POSTGRES_PASSWORD",
        "STORE_DB_PASSWORD",
        "SAGSFLOW_PAYLOAD_KEYS",
        "SAGSFLOW_PAGE_TOKEN_SECRET",
    ):
        assert f"${{{secret}:?" in text, f"{secret} must be required from .env"
    example = env_example()
    secrets = {v.name for v in environment.VARIABLES if v.secret} | {
        "POSTGRES_PASSWORD",
        "STORE_DB_PASSWORD",
    }
    for name, value in example.items():
        if name in secrets:
            assert value in ("", "change-me") or value.endswith("=change-me"), (
                f".env.example must not hold a real {name}"
            )
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in ignored
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_every_setting_the_services_set_is_read_by_sagsflow() -> None:
    services = compose()["services"]
    read_by = {
        v.name: {part.strip() for part in v.read_by.split(",")} for v in environment.VARIABLES
    }
    for name in APP_SERVICES:
        unknown = set(services[name]["environment"]) - environment.NAMES
        assert not unknown, f"{name} sets variables sagsflow does not read: {sorted(unknown)}"
        # ... and each one is read by the process that service runs (worker or API).
        elsewhere = {v for v in services[name]["environment"] if name not in read_by[v]}
        assert not elsewhere, f"{name} sets variables only the other process reads: {elsewhere}"


def test_every_name_in_env_example_is_read_by_sagsflow_or_by_compose() -> None:
    interpolated = set(INTERPOLATION.findall(COMPOSE.read_text(encoding="utf-8")))
    for name in env_example():
        if name.startswith("SAGSFLOW_"):
            assert name in environment.NAMES, f".env.example: {name} is read by nobody"
        else:
            assert name in environment.NAMES | interpolated, (
                f".env.example: {name} is neither a sagsflow setting nor used by compose"
            )
    # And the other way: compose needs nothing that .env.example does not mention.
    missing = {n for n in interpolated if n not in env_example()}
    assert not missing, f"compose reads variables .env.example does not show: {sorted(missing)}"


# --- the registry of environment variables ---------------------------------------------------


def test_the_registry_names_every_variable_the_code_reads() -> None:
    from_settings = {
        *(name for settings in ALL_SETTINGS for name in settings.variables().values()),
        *temporal_tls.VARIABLES,
        *tracing.VARIABLES,
    }
    assert from_settings <= environment.NAMES, sorted(from_settings - environment.NAMES)
    in_source = {
        name
        for path in source_files()
        if path.name != "environment.py"
        for name in SAGSFLOW_NAME.findall(path.read_text(encoding="utf-8"))
    }
    unlisted = in_source - environment.NAMES - TEST_ONLY
    assert not unlisted, f"read in the code but not in core/environment.py: {sorted(unlisted)}"


def test_every_registered_variable_is_read_somewhere() -> None:
    read = {
        *(name for settings in ALL_SETTINGS for name in settings.variables().values()),
        *temporal_tls.VARIABLES,
        *tracing.VARIABLES,
    }
    text = "\n".join(
        path.read_text(encoding="utf-8") for path in source_files() if path.name != "environment.py"
    )
    unread = {name for name in environment.NAMES - read if f'"{name}"' not in text}
    assert not unread, f"in core/environment.py but read by no code: {sorted(unread)}"
    assert len(environment.NAMES) == len(environment.VARIABLES), "a variable is listed twice"


def test_every_setting_says_what_it_means() -> None:
    # The registry (and so the reference) takes the meaning of a variable from its field.
    for settings in ALL_SETTINGS:
        for name, field in settings.model_fields.items():
            assert field.description, f"{settings.__name__}.{name} has no description"


def test_the_configuration_reference_documents_every_variable() -> None:
    text = CONFIGURATION_DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.MULTILINE))
    assert documented >= environment.NAMES, sorted(environment.NAMES - documented)
    stale = documented - environment.NAMES
    assert not stale, f"documented but read by nobody: {sorted(stale)}"


def test_the_runbook_covers_what_operations_need() -> None:
    text = OPERATIONS_DOC.read_text(encoding="utf-8").lower()
    for topic in (
        "## deploy",
        "## upgrading workers with running cases",
        "workflow.patched",
        "python -m workers.replay",
        "## scaling",
        "## backup and restore",
        "pg_dump",
        "## rotating the payload key",
        "sagsflow_payload_key_active",
        "## finding and repairing a stuck case from the ui",
        "namespace retention",
        "temporal cloud",
        "temporal_api_key",
    ):
        assert topic in text, f"docs/operations.md lacks {topic!r}"


# --- the Temporal setup and the example configuration -------------------------------------


def test_the_namespace_script_creates_the_case_search_attributes() -> None:
    text = NAMESPACE_SCRIPT.read_text(encoding="utf-8")
    block = re.search(r'SEARCH_ATTRIBUTES="([^"]+)"', text)
    assert block is not None
    declared = dict(pair.split(":") for pair in block.group(1).split())
    expected = {
        key.name: key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_").title()
        for key in search_attributes.ALL
    }
    assert declared == expected


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script")
async def test_the_namespace_script_runs_against_a_real_server(dev_temporal: DevServer) -> None:
    # On the shared dev server (tests/conftest.py): the script makes a namespace of its own,
    # which has none of our search attributes until the script registers them.
    temporal = binary("temporal")
    namespace = f"sagsflow-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "PATH": f"{Path(temporal).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": dev_temporal.address,
        "NAMESPACE": namespace,
        "NAMESPACE_RETENTION": "72h",
        "NO_PROXY": "*",
    }
    for _ in range(2):  # the second run finds everything in place
        process = await asyncio.create_subprocess_exec(
            "sh",
            str(NAMESPACE_SCRIPT),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, output.decode()
    assert f"namespace {namespace} ready" in output.decode()
    client = await Client.connect(dev_temporal.address, namespace=namespace)
    registered = await custom_search_attributes(client)
    for key in search_attributes.ALL:
        expected = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
        assert IndexedValueType.Name(registered[key.name]).endswith(expected), key.name


def test_the_example_configuration_files_are_valid(tmp_path: Path) -> None:
    config = ROOT / "deploy" / "config"
    staff = read_tokens_file(config / "tokens.example.yaml")
    assert any(member.is_operator for member in staff.values())
    recipients = load_recipients(config / "recipients.example.yaml")
    assert recipients.resolve("vibeke-skolen", "tk") == ["tk@kommune.example"]
