"""Payload encryption end to end, on the REAL dev server: a case with names, notes, a press
inquiry and decisions in free text runs to closing on the demo card (timers in seconds) with a
worker whose client encrypts (built by `connect_client` from SAGSFLOW_PAYLOAD_KEYS_FILE). Its
raw history, read without the codec, holds none of those texts — not even base64-decoded —
while the search attributes stay readable; the codec opens every payload again. A second case
changes keys half-way (rotation): its history holds both key ids and opens with the rotated set.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.codec import (
    ENCODING,
    KEY_ID_HEADER,
    EncryptionCodec,
    PayloadKeyError,
    PayloadKeys,
)
from core.connection import connect_client
from core.devserver import DevServer
from core.settings import Settings
from schemas.case import CaseInput
from schemas.common import CaseStatus
from schemas.messages import CaseNote, PressInquiry
from schemas.snapshot import CaseSnapshot
from service.cases import CaseService, TaskRejected, static_summary
from store import Store
from tests.casekit import COMMS, LEADER, ROLE_ACTORS, TEACHER, case_input, decision
from workers.worker import build_worker

HISTORIES = Path(__file__).parent / "histories"
# TEST-ONLY keys, public in the repository (README: "Changing the workflow safely"): never
# for real cases.
TEST_KEYS_FILE = HISTORIES / "test-payload-keys.json"
ROTATED_HISTORY = HISTORIES / "encrypted_rotated_keys.json"

NAMES = {
    "P1": ("Astrid Testesen", "Mor: 11 22 33 44"),
    "P2": ("Bertram Prøvesen", None),
    "P3": ("Clara Eksempelsen", None),
}
# Free texts staff write, each with a word found nowhere else.
DECISION_TEXTS: dict[str, dict[str, str]] = {
    "assess.uncover": {
        "what": "Zebrafinke-beskeder om P1 i klassegruppen",
        "where": "Kanalen Quokkahulen for 7.b",
    },
    "assess.involve_leadership": {"note": "Ledelsen er enig om Rabarber-planen"},
    "document.note": {"text": "Notat om Pindsvin-forløbet, godkendt"},
    "stop.action_plan": {"summary": "Handlingsplan Vandmelon for klassen"},
    "close.evaluate": {
        "worked": "Blåbær-samtalerne virkede",
        "did_not_work": "Kastanje-kontakten kom for sent",
        "note": "Evalueringsnotat Hyldeblomst",
    },
}
NOTE_TEXT = "Mor til P1 ringede om Kanelsnegl-episoden"
PRESS_SUMMARY = "Journalist spørger om Agurketid-sagen"


# -- helpers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def payload_keys_file(path: Path) -> Iterator[None]:
    """SAGSFLOW_PAYLOAD_KEYS_FILE for connect_client, as a process would have it."""
    before = os.environ.get("SAGSFLOW_PAYLOAD_KEYS_FILE")
    os.environ["SAGSFLOW_PAYLOAD_KEYS_FILE"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SAGSFLOW_PAYLOAD_KEYS_FILE", None)
        else:
            os.environ["SAGSFLOW_PAYLOAD_KEYS_FILE"] = before


@contextlib.asynccontextmanager
async def encrypting_worker(
    server: DevServer, store: Store, task_queue: str, keys: PayloadKeys, keys_path: Path
) -> AsyncIterator[CaseService]:
    """A worker and a CaseService on a client made by connect_client from a keys file."""
    keys.write(keys_path)
    with payload_keys_file(keys_path):
        client = await connect_client(
            Settings(temporal_address=server.address, temporal_namespace=server.namespace)
        )
    assert isinstance(client.data_converter.payload_codec, EncryptionCodec)
    async with build_worker(client, store, task_queue):
        yield CaseService(client, store, task_queue)


def demo_case() -> CaseInput:
    case = case_input(datetime.now(UTC), offender_age=15)
    return case.model_copy(
        update={
            "case_number": f"ENC-{uuid.uuid4().hex[:8].upper()}",
            "procedure_version": "demo",
        }
    )


async def complete_open_tasks(service: CaseService, case_number: str, done: set[str]) -> None:
    snap = await service.snapshot(case_number)
    for view in snap.open_tasks:
        if view.task_id in done:
            continue
        completion = {
            "task_key": view.key,
            "task_id": view.task_id,
            "actor": ROLE_ACTORS[view.role].model_dump(mode="json"),
            "decision": decision(view.key, datetime.now(UTC), **DECISION_TEXTS.get(view.key, {})),
        }
        try:
            await service.submit_task(case_number, completion)
        except TaskRejected:
            continue  # e.g. not open any more: the next round sees
        done.add(view.task_id)


async def drive(
    service: CaseService, case_number: str, until, what: str, done: set[str], timeout: float = 40
) -> CaseSnapshot:
    """Completes every task as it opens, until `until(snapshot)`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        snap = await service.snapshot(case_number)
        if until(snap):
            return snap
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"timed out waiting for {what}: phase {snap.phase}, open "
                f"{[t.task_id for t in snap.open_tasks]}"
            )
        await complete_open_tasks(service, case_number, done)
        await asyncio.sleep(0.1)


def payload_nodes(
    node: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every payload (a dict with `metadata`) in a history's proto3 JSON, with where it is."""
    if isinstance(node, dict):
        if isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            yield path, node
            return
        for key, value in node.items():
            yield from payload_nodes(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from payload_nodes(value, path)


def base64_decoded(document: dict[str, Any]) -> str:
    """Every payload's data and metadata, base64-decoded: what a reader of the raw history
    could recover without the keys."""
    texts = []
    for _, node in payload_nodes(document):
        texts.append(base64.b64decode(node.get("data", "")).decode("utf-8", "replace"))
        texts.extend(
            base64.b64decode(v).decode("utf-8", "replace") for v in node["metadata"].values()
        )
    return "\n".join(texts)


def is_search_attribute(path: tuple[str, ...]) -> bool:
    return "searchAttributes" in path


# The SDK's own bookkeeping in markers, written by the SDK core and never passed through the
# codec: a local activity's type, attempt and times ("data"; its result is "result", sealed),
# a patch's id ("patch-data").
# They carry no case data; the plaintext scans above cover them all the same.
SDK_MARKER_FIELDS = ("data", "patch-data")


def is_sdk_bookkeeping(path: tuple[str, ...]) -> bool:
    return "markerRecordedEventAttributes" in path and any(f in path for f in SDK_MARKER_FIELDS)


def is_sealed(path: tuple[str, ...]) -> bool:
    return not is_search_attribute(path) and not is_sdk_bookkeeping(path)


async def decrypted(document: dict[str, Any], keys: PayloadKeys) -> str:
    """Every payload opened with the codec, as text."""
    codec = EncryptionCodec(keys)
    sealed = [
        json_format.ParseDict(node, Payload())
        for path, node in payload_nodes(document)
        if not is_sdk_bookkeeping(path)
    ]
    return "\n".join(p.data.decode("utf-8", "replace") for p in await codec.decode(sealed))


def variants(text: str) -> list[str]:
    """A text as it may show in JSON: raw, and with non-ASCII letters escaped."""
    return [text, json.dumps(text)[1:-1]]


async def raw_history(server: DevServer, workflow_id: str) -> dict[str, Any]:
    """The history as the server keeps it, read by a client WITHOUT the codec."""
    plain = await Client.connect(
        server.address, namespace=server.namespace, data_converter=pydantic_data_converter
    )
    history = await plain.get_workflow_handle(workflow_id).fetch_history()
    document: dict[str, Any] = json.loads(history.to_json())
    return document


# -- fixtures --------------------------------------------------------------------------------


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_finished_cases_raw_history_holds_no_plaintext_and_opens_with_the_codec(
    dev_temporal: DevServer, store: Store, tmp_path: Path
) -> None:
    keys = PayloadKeys.generate("k1")
    case = demo_case()
    queue = f"enc-{uuid.uuid4().hex[:8]}"
    keys_path = tmp_path / "keys.json"
    async with encrypting_worker(dev_temporal, store, queue, keys, keys_path) as service:
        handle = await service.open_case(case, NAMES)
        await service.add_note(case.case_number, CaseNote(author=TEACHER, text=NOTE_TEXT))
        await service.press_inquiry(
            case.case_number,
            PressInquiry(
                received_by=LEADER, medium="Lokalavisen Ugleposten", summary=PRESS_SUMMARY
            ),
        )
        done: set[str] = set()
        final = await drive(
            service,
            case.case_number,
            lambda s: s.status != CaseStatus.ACTIVE,
            "the case to close",
            done,
        )
        assert final.status == CaseStatus.CLOSED
        assert "treat.press" in done and "close.evaluate" in done
        # The names are where they belong: in the store.
        assert (await store.participant_names(handle.id))["P1"] == "Astrid Testesen"

    document = await raw_history(dev_temporal, handle.id)
    raw, recoverable = json.dumps(document, ensure_ascii=False), base64_decoded(document)
    free_texts = [
        NOTE_TEXT,
        PRESS_SUMMARY,
        "Lokalavisen Ugleposten",
        *(text for texts in DECISION_TEXTS.values() for text in texts.values()),
    ]
    ui_texts = [
        static_summary(case),
        "Navne findes kun i sagsflows database",
        "Åbn opgave",
        "Evaluering",
    ]
    names = [name for name, _ in NAMES.values()] + ["11 22 33 44"]
    for secret in free_texts + ui_texts + names:
        for form in variants(secret):
            assert form not in raw, f"plaintext in the raw history: {secret!r}"
            assert form not in recoverable, f"plaintext after base64-decoding: {secret!r}"
    assert COMMS.id not in recoverable  # the actors are inside the ciphertext too

    # Every payload is ciphertext, except search attributes: those stay readable for search.
    payloads = list(payload_nodes(document))
    sealed = [n for p, n in payloads if is_sealed(p)]
    searchable = [n for p, n in payloads if is_search_attribute(p)]
    assert len(sealed) > 50 and searchable
    encodings = {base64.b64decode(n["metadata"]["encoding"]) for n in sealed}
    assert encodings == {ENCODING}
    attributes = "\n".join(base64.b64decode(n.get("data", "")).decode() for n in searchable)
    for value in (case.case_number, case.school_id, "closed", "close"):
        assert json.dumps(value) in attributes

    opened = await decrypted(document, keys)
    for secret in free_texts + ui_texts:
        assert secret in opened or json.dumps(secret)[1:-1] in opened, secret
    for name in names:
        assert name not in opened  # never in Temporal, not even encrypted


@pytest.mark.slow
async def test_payloads_sealed_with_an_old_key_still_open_after_rotation(
    dev_temporal: DevServer, store: Store, tmp_path: Path
) -> None:
    rotated = PayloadKeys.from_file(TEST_KEYS_FILE)  # test-k1 + test-k2, active test-k2
    old = PayloadKeys(active="test-k1", keys={"test-k1": rotated.keys["test-k1"]})
    case = demo_case()
    queue = f"rot-{uuid.uuid4().hex[:8]}"
    done: set[str] = set()
    old_path, new_path = tmp_path / "old.json", tmp_path / "new.json"
    async with encrypting_worker(dev_temporal, store, queue, old, old_path) as service:
        handle = await service.open_case(case)
        await drive(
            service, case.case_number, lambda s: s.phase.value == "document", "phase document", done
        )
    # A restart with the rotated keys: the new worker replays what k1 sealed and seals with k2.
    async with encrypting_worker(dev_temporal, store, queue, rotated, new_path) as service:
        await service.add_note(case.case_number, CaseNote(author=TEACHER, text=NOTE_TEXT))
        final = await drive(
            service,
            case.case_number,
            lambda s: s.status != CaseStatus.ACTIVE,
            "the case to close",
            done,
        )
        assert final.status == CaseStatus.CLOSED
        assert await service.case_input(case.case_number) == case  # sealed with k1, read now

    document = await raw_history(dev_temporal, handle.id)
    sealed = [n for p, n in payload_nodes(document) if is_sealed(p)]
    key_ids = {base64.b64decode(n["metadata"][KEY_ID_HEADER]).decode() for n in sealed}
    assert key_ids == {"test-k1", "test-k2"}
    opened = await decrypted(document, rotated)
    assert NOTE_TEXT in opened and DECISION_TEXTS["assess.uncover"]["what"] in opened
    with pytest.raises(PayloadKeyError, match="'test-k2', which is not configured"):
        await decrypted(document, old)

    if os.environ.get("SAGSFLOW_RECORD_HISTORIES") == "1":
        # The encrypted saved history that tests/test_replay.py replays with the test keys.
        ROTATED_HISTORY.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def test_a_broken_key_configuration_stops_a_process_with_a_clear_error(tmp_path: Path) -> None:
    from core.connection import configured_payload_keys

    broken = tmp_path / "keys.json"
    broken.write_text('{"active": "k9", "keys": {}}')
    with pytest.raises(PayloadKeyError, match="active payload key 'k9'"):
        configured_payload_keys({"SAGSFLOW_PAYLOAD_KEYS_FILE": str(broken)})
    with pytest.raises(PayloadKeyError, match="cannot read payload keys"):
        configured_payload_keys({"SAGSFLOW_PAYLOAD_KEYS_FILE": str(tmp_path / "missing.json")})
    assert isinstance(PayloadKeyError("x"), ValueError)  # the CLI's exit code 2


def test_every_process_finds_the_keys_of_sagsflow_dev_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.connection import configured_payload_keys

    monkeypatch.chdir(tmp_path)
    assert configured_payload_keys({}) is None  # nothing anywhere: off (and a warning)
    keys = PayloadKeys.generate("k1")
    keys.write(tmp_path / "data" / "payload-keys.json")
    assert configured_payload_keys({}) == keys  # ./data/payload-keys.json, like DATABASE_URL
    assert configured_payload_keys({"SAGSFLOW_PAYLOAD_KEYS_FILE": ""}) is None  # explicitly off
    other = PayloadKeys.generate("k7")
    other.write(tmp_path / "other.json")
    assert configured_payload_keys({"SAGSFLOW_PAYLOAD_KEYS_FILE": "other.json"}) == other


def test_sagsflow_dev_makes_its_keys_once_and_shares_them_with_its_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.dev import DevOptions, dev_payload_keys

    monkeypatch.setenv("SAGSFLOW_PAYLOAD_KEYS_FILE", "")  # restored after the test
    options = DevOptions(data_dir=tmp_path, api_port=8123)
    assert options.codec_endpoint == "http://127.0.0.1:8123/codec"
    assert DevOptions(data_dir=tmp_path, codec_endpoint="").codec_endpoint == ""
    first = dev_payload_keys(options)
    path = tmp_path.resolve() / "payload-keys.json"
    assert first.created and first.path == path
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.environ["SAGSFLOW_PAYLOAD_KEYS_FILE"] == str(path)
    monkeypatch.setenv("SAGSFLOW_PAYLOAD_KEYS_FILE", "")  # a restart, as a new process
    again = dev_payload_keys(options)  # the same keys, or the old cases could not be opened
    assert not again.created and again.keys == first.keys
