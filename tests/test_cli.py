"""The `sagsflow` command line: options override the environment."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import cli.main
from core.settings import Settings
from workers.worker import TemporalUnreachable

runner = CliRunner()


def test_worker_options_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Settings] = []

    async def fake_run_worker(settings: Settings) -> None:
        started.append(settings)

    monkeypatch.setattr(cli.main, "run_worker", fake_run_worker)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "kommune")
    monkeypatch.setenv("SAGSFLOW_TASK_QUEUE", "from-env")
    result = runner.invoke(
        cli.main.app,
        [
            "worker",
            "--address",
            "temporal:7233",
            "--task-queue",
            "from-option",
            "--database-url",
            "sqlite+aiosqlite:///x.db",
        ],
    )
    assert result.exit_code == 0, result.output
    [settings] = started
    assert settings.temporal_address == "temporal:7233"
    assert settings.temporal_namespace == "kommune"
    assert settings.task_queue == "from-option"
    assert settings.database_url == "sqlite+aiosqlite:///x.db"


def test_worker_rejects_bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGSFLOW_LOG_FORMAT", "xml")
    result = runner.invoke(cli.main.app, ["worker"])
    assert result.exit_code == 2
    assert "SAGSFLOW_LOG_FORMAT" in result.output


def test_help_is_english_with_a_danish_line() -> None:
    result = runner.invoke(cli.main.app, ["worker", "--help"])
    assert result.exit_code == 0
    assert "Run the worker" in result.output
    assert "Kør workeren" in result.output


def test_worker_says_plainly_when_temporal_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unreachable(settings: Settings) -> None:
        raise TemporalUnreachable(f"cannot connect to Temporal at {settings.temporal_address}")

    monkeypatch.setattr(cli.main, "run_worker", unreachable)
    result = runner.invoke(cli.main.app, ["worker", "--address", "nowhere:7233"])
    assert result.exit_code == 1
    assert "cannot connect to Temporal at nowhere:7233" in result.output
