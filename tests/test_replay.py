"""Saved histories of real cases still replay against the current workflow code.

Histories are recorded by the workflow tests with SAGSFLOW_RECORD_HISTORIES=1. A change to
`workflows/` that breaks this test would break running cases: put it behind workflow.patched().
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.case import DigitalViolationCase

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 3, "tests/histories/ lost its saved histories"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"case-{path.stem}", path.read_text())
    replayer = Replayer(workflows=[DigitalViolationCase], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
