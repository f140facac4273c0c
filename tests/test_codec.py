"""AES-GCM payload encryption: sealed, opened, rotated, refused when tampered with."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from core.codec import ENCODING, EncryptionCodec, PayloadKeyError, PayloadKeys, data_converter
from schemas.messages import CaseNote

NOTE = CaseNote.model_validate(
    {"author": {"id": "lhj", "role": "case_owner"}, "text": "Astrid Testesen er ked af det"}
)


async def test_payloads_are_ciphertext_and_open_again() -> None:
    converter = data_converter(PayloadKeys.generate("k1"))
    sealed = await converter.encode([NOTE])
    assert sealed[0].metadata["encoding"] == ENCODING
    assert sealed[0].metadata["encryption-key-id"] == b"k1"
    assert b"Astrid" not in sealed[0].SerializeToString()
    assert (await converter.decode(sealed, [CaseNote]))[0] == NOTE


async def test_old_payloads_still_open_after_rotation() -> None:
    old = PayloadKeys.generate("k1")
    sealed_with_k1 = await data_converter(old).encode([NOTE])
    rotated = old.with_new_active_key("k2")
    converter = data_converter(rotated)
    assert (await converter.decode(sealed_with_k1, [CaseNote]))[0] == NOTE
    sealed_with_k2 = await converter.encode([NOTE])
    assert sealed_with_k2[0].metadata["encryption-key-id"] == b"k2"
    with pytest.raises(PayloadKeyError, match="key 'k2', which is not configured"):
        await data_converter(old).decode(sealed_with_k2, [CaseNote])


async def test_tampered_payload_is_refused() -> None:
    keys = PayloadKeys.generate("k1")
    sealed = (await EncryptionCodec(keys).encode([Payload(data=b"x")]))[0]
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + b"\x00")
    with pytest.raises(PayloadKeyError, match="failed authentication"):
        await EncryptionCodec(keys).decode([tampered])


async def test_unencrypted_payloads_pass_through() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"hej"')
    assert await EncryptionCodec(PayloadKeys.generate()).decode([plain]) == [plain]


def test_keys_from_environment_and_file(tmp_path: Path) -> None:
    one, two = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    keys = PayloadKeys.from_env({"SAGSFLOW_PAYLOAD_KEYS": f"a={one},b={two}"})
    assert keys is not None and keys.active == "b" and set(keys.keys) == {"a", "b"}
    assert PayloadKeys.from_env({}) is None
    path = tmp_path / "keys.json"
    keys.write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert PayloadKeys.from_env({"SAGSFLOW_PAYLOAD_KEYS_FILE": str(path)}) == keys
    path.write_text(json.dumps({"active": "c", "keys": {"a": one}}))
    with pytest.raises(PayloadKeyError, match="active payload key 'c'"):
        PayloadKeys.from_file(path)
    with pytest.raises(PayloadKeyError, match="32 bytes"):
        PayloadKeys.from_env({"SAGSFLOW_PAYLOAD_KEYS": "a=" + base64.b64encode(b"short").decode()})


async def test_a_sealed_payload_that_is_no_payload_inside_is_refused() -> None:
    """Issue 15: authentic ciphertext holding bytes that are no protobuf Payload is refused
    (PayloadKeyError: a 422 at the codec), not an unexpected error (a 500)."""
    keys = PayloadKeys.generate("k1")
    nonce = bytes(12)
    data = nonce + AESGCM(keys.keys["k1"]).encrypt(nonce, b"\xff\xff\xff\xff", b"k1")
    sealed = Payload(metadata={"encoding": ENCODING, "encryption-key-id": b"k1"}, data=data)
    with pytest.raises(PayloadKeyError):
        await EncryptionCodec(keys).decode([sealed])
