"""Poison signals, sent with the STOCK `temporal` CLI as an operator (or an attacker) could.

Every message here is one the case must refuse: recorded as `rejected` in its timeline, never a
failed workflow task. None of them is a valid withdrawal or a valid new incident, and no
completion here is valid for any task, so a poison signal can never move a case.

Kinds (each sent to each of the six signals over a run):
- two_args          two payloads where the handler takes one
- null              the JSON `null`
- unknown_encoding  a payload whose `encoding` no converter knows
- undecryptable     marked `binary/encrypted` with the active key id, random bytes
- encrypted_empty   marked encrypted, no data at all
- encrypted_short   marked encrypted, shorter than the AES-GCM nonce
- unknown_key_id    marked encrypted with a key id nobody has
- deep_json         JSON nested 5,000 levels deep
- malformed_json    not JSON, but properly encrypted with the case's own key (the CLI refuses
                    to send unencrypted malformed JSON; sealed, it passes, and the worker
                    decrypts it before it meets the broken JSON — the realistic path)
- wrong_types       the right field names with the wrong types
- unknown_task_key  a task key the card does not have
- plain_json        unencrypted, well-formed, plausible — and still invalid on one point
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from temporalio.api.common.v1 import Payload

from chaos.processes import clean_environment
from core.codec import EncryptionCodec, PayloadKeys

SIGNALS = (
    "complete_task",
    "add_note",
    "new_incident",
    "press_inquiry",
    "reassign_task",
    "withdraw_case",
)
KINDS = (
    "two_args",
    "null",
    "unknown_encoding",
    "undecryptable",
    "encrypted_empty",
    "encrypted_short",
    "unknown_key_id",
    "deep_json",
    "malformed_json",
    "wrong_types",
    "unknown_task_key",
    "plain_json",
)
CLI_TIMEOUT = 20.0
DEEP_LEVELS = 5000

_TEACHER = {"id": "lhj", "role": "case_owner"}
_TK = {"id": "tk1", "role": "tk"}

# Wrong types for every field any of the six messages has: invalid for all of them.
_WRONG_TYPES = {
    "task_key": 5,
    "actor": 1,
    "decision": [],
    "by": [],
    "author": None,
    "text": {},
    "received_by": "x",
    "reported_by": True,
    "reason": 3,
    "medium": 4.5,
    "reopen_assessment": "perhaps",
    "assignee": {"id": 1},
}

# Plausible, unencrypted and well-formed, but invalid on exactly one point.
_PLAIN: dict[str, dict[str, Any]] = {
    # A decision of another task's type: "wrong decision type", whatever is open.
    "complete_task": {
        "task_key": "assess.uncover",
        "actor": _TEACHER,
        "decision": {
            "task": "assess.evaluate",
            "severity": "low",
            "route": "internal",
            "underretning": False,
            "ssp": False,
        },
    },
    "add_note": {"author": _TEACHER, "text": "   "},  # blank after stripping
    "new_incident": {"reported_by": _TEACHER, "description": "Nye beskeder i klassegruppen"},
    "press_inquiry": {"received_by": _TEACHER, "summary": "Journalist ringede"},  # no medium
    "reassign_task": {
        "task_key": "assess.uncover",
        "task_id": "assess.uncover-99",
        "by": _TEACHER,
        "assignee": "abc",
    },
    "withdraw_case": {"by": _TK, "reason": "Sagen er grundløs"},  # TK may not withdraw
}

_UNKNOWN_TASK: dict[str, dict[str, Any]] = {
    "complete_task": {
        "task_key": "assess.nonexistent",
        "actor": _TEACHER,
        "decision": {"task": "assess.nonexistent"},
    },
    "reassign_task": {"task_key": "stop.nonexistent", "by": _TEACHER, "assignee": "abc"},
    # The other messages have no task: an unknown field naming one (extra fields are errors).
    "add_note": {"author": _TEACHER, "text": "note", "task_key": "close.nonexistent"},
    "new_incident": {
        "reported_by": _TEACHER,
        "description": "x",
        "reopen_assessment": False,
        "task_key": "assess.nonexistent",
    },
    "press_inquiry": {"received_by": _TEACHER, "medium": "Avisen", "task_key": "treat.nonexistent"},
    "withdraw_case": {"by": _TEACHER, "reason": "x", "task_key": "assess.nonexistent"},
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


MALFORMED_JSON = b'{"task_key": "assess.uncover", "actor": {'


async def seal_malformed_json(keys: PayloadKeys) -> bytes:
    """MALFORMED_JSON as a `json/plain` payload sealed by the production codec."""
    [sealed] = await EncryptionCodec(keys).encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=MALFORMED_JSON)]
    )
    return sealed.data


def cli_input_args(
    kind: str, signal: str, active_key_id: str, sealed_malformed: bytes = b""
) -> list[str]:
    """The `--input…` arguments of one poison signal."""
    encrypted = ["--input-meta", "encoding=binary/encrypted"]
    if kind == "two_args":
        return ["--input", "{}", "--input", "{}"]
    if kind == "null":
        return ["--input", "null"]
    if kind == "unknown_encoding":
        return ["--input", "{}", "--input-meta", "encoding=foo/unknown"]
    if kind == "undecryptable":
        return [
            "--input",
            _b64(os.urandom(64)),
            "--input-base64",
            *encrypted,
            "--input-meta",
            f"encryption-key-id={active_key_id}",
        ]
    if kind == "encrypted_empty":
        return [
            "--input",
            "",
            "--input-base64",
            *encrypted,
            "--input-meta",
            f"encryption-key-id={active_key_id}",
        ]
    if kind == "encrypted_short":
        return [
            "--input",
            _b64(os.urandom(5)),
            "--input-base64",
            *encrypted,
            "--input-meta",
            f"encryption-key-id={active_key_id}",
        ]
    if kind == "unknown_key_id":
        return [
            "--input",
            _b64(os.urandom(48)),
            "--input-base64",
            *encrypted,
            "--input-meta",
            "encryption-key-id=no-such-key",
        ]
    if kind == "deep_json":
        return ["--input", "[" * DEEP_LEVELS + "]" * DEEP_LEVELS]
    if kind == "malformed_json":
        return [
            "--input",
            _b64(sealed_malformed),
            "--input-base64",
            *encrypted,
            "--input-meta",
            f"encryption-key-id={active_key_id}",
        ]
    if kind == "wrong_types":
        return ["--input", json.dumps(_WRONG_TYPES)]
    if kind == "unknown_task_key":
        return ["--input", json.dumps(_UNKNOWN_TASK[signal])]
    if kind == "plain_json":
        return ["--input", json.dumps(_PLAIN[signal])]
    raise ValueError(f"unknown poison kind {kind}")


@dataclass
class SignalOutcome:
    delivered: bool  # the server accepted it: the case must show a rejection for it
    closed: bool  # the server refused it because the workflow is no longer running
    error: str = ""
    refused_by_cli: bool = False  # the CLI would not send it at all: a bug in this suite
    seconds: float = 0.0


async def send_poison(
    temporal_binary: str,
    address: str,
    namespace: str,
    workflow_id: str,
    signal: str,
    kind: str,
    active_key_id: str,
    sealed_malformed: bytes = b"",
) -> SignalOutcome:
    """One `temporal workflow signal` call, bounded by CLI_TIMEOUT (then killed)."""
    command = [
        temporal_binary,
        "workflow",
        "signal",
        "--address",
        address,
        "--namespace",
        namespace,
        "--workflow-id",
        workflow_id,
        "--name",
        signal,
        *cli_input_args(kind, signal, active_key_id, sealed_malformed),
        "--command-timeout",
        f"{int(CLI_TIMEOUT - 5)}s",
        # Only what is on this command line: no profile or variable of the developer's.
        "--disable-config-file",
        "--disable-config-env",
    ]
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=clean_environment(),
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        # Unknown whether it landed: counted as not delivered, so check 6 stays a lower bound.
        return SignalOutcome(False, False, "CLI timed out", seconds=time.monotonic() - started)
    text = output.decode(errors="replace").strip()
    seconds = time.monotonic() - started
    if process.returncode == 0:
        return SignalOutcome(True, False, "", seconds=seconds)
    closed = "already completed" in text.lower() or "not found" in text.lower()
    last_line = text.splitlines()[-1][:300] if text else ""
    refused = last_line.startswith("Error: input")
    return SignalOutcome(False, closed, last_line, seconds=seconds, refused_by_cli=refused)
