"""Saved histories of real cases still replay against the current workflow code.

Histories are recorded by the workflow tests with SAGSFLOW_RECORD_HISTORIES=1. A change to
`workflows/` that breaks this test would break running cases: put it behind workflow.patched().

Every history replays through the encrypting data converter, as the worker runs it: payloads
written before encryption pass through unchanged, `encrypted_*.json` (recorded by
tests/test_encrypted_history.py, with a key rotation half-way) opens with the TEST-ONLY keys in
histories/test-payload-keys.json.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from core.codec import ENCODING, PayloadKeys, data_converter, worker_data_converter
from workflows.case import DigitalViolationCase

HISTORY_DIR = Path(__file__).parent / "histories"
TEST_KEYS_FILE = HISTORY_DIR / "test-payload-keys.json"
HISTORIES = sorted(p for p in HISTORY_DIR.glob("*.json") if p != TEST_KEYS_FILE)
ENCRYPTED = [p for p in HISTORIES if p.stem.startswith("encrypted_")]


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"case-{path.stem}", path.read_text())


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 3, "tests/histories/ lost its saved histories"
    assert ENCRYPTED, "tests/histories/ lost its encrypted history"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    converter = worker_data_converter(data_converter(PayloadKeys.from_file(TEST_KEYS_FILE)))
    replayer = Replayer(workflows=[DigitalViolationCase], data_converter=converter)
    await replayer.replay_workflow(load(path))


@pytest.mark.parametrize("path", ENCRYPTED, ids=[p.stem for p in ENCRYPTED])
async def test_an_encrypted_history_needs_its_keys(path: Path) -> None:
    history = load(path)
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING
    replayer = Replayer(workflows=[DigitalViolationCase], data_converter=pydantic_data_converter)
    with pytest.raises(RuntimeError, match="Unknown payload encoding binary/encrypted"):
        await replayer.replay_workflow(history)
