"""AES-GCM payload encryption: every payload sagsflow hands to Temporal is ciphertext.

Inputs, signals, updates, query results, memo, summaries and details all pass through the data
converter, so all of them are encrypted; search attributes are not (they hold no personal data).
Each payload names the key that sealed it (`encryption-key-id`), so keys can be rotated: new
payloads use the active key, old ones still open with theirs.

Keys come from configuration:
- `SAGSFLOW_PAYLOAD_KEYS_FILE`: JSON `{"active": "k2", "keys": {"k1": "<base64>", "k2": "…"}}`
- or `SAGSFLOW_PAYLOAD_KEYS`: `k1=<base64>,k2=<base64>` with `SAGSFLOW_PAYLOAD_KEY_ACTIVE`
  (default: the last one listed).
Keys are 32 random bytes (AES-256), base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec

from workflows.inbound import PLAINTEXT_MARK, UNKNOWN_KEY, undecodable

_log = logging.getLogger("sagsflow.codec")

ENCODING = b"binary/encrypted"
KEY_ID_HEADER = "encryption-key-id"
NONCE_BYTES = 12
TAG_BYTES = 16  # AES-GCM's authentication tag, at the end of every sealed payload
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PayloadKeyError(ValueError):
    """Keys are missing, malformed, or a payload names a key we do not have."""


@dataclass(frozen=True)
class PayloadKeys:
    active: str
    keys: Mapping[str, bytes]

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise PayloadKeyError(f"the active payload key '{self.active}' is not among the keys")
        for key_id, key in self.keys.items():
            if not _KEY_ID.match(key_id):
                raise PayloadKeyError(f"payload key id '{key_id}' may hold letters, digits . _ -")
            if len(key) != 32:
                raise PayloadKeyError(f"payload key '{key_id}' must be 32 bytes (AES-256)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PayloadKeys | None:
        """The configured keys, or None when encryption is not configured."""
        environ = os.environ if environ is None else environ
        if environ.get("SAGSFLOW_PAYLOAD_KEYS_FILE", "").strip():
            return cls.from_file(Path(environ["SAGSFLOW_PAYLOAD_KEYS_FILE"].strip()))
        listed = environ.get("SAGSFLOW_PAYLOAD_KEYS", "").strip()
        if not listed:
            return None
        keys: dict[str, bytes] = {}
        for item in listed.split(","):
            key_id, _, encoded = item.strip().partition("=")
            keys[key_id.strip()] = _decode_key(key_id, encoded.strip())
        active = environ.get("SAGSFLOW_PAYLOAD_KEY_ACTIVE", "").strip() or list(keys)[-1]
        return cls(active=active, keys=keys)

    @classmethod
    def from_file(cls, path: Path) -> PayloadKeys:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                active=raw["active"],
                keys={key_id: _decode_key(key_id, value) for key_id, value in raw["keys"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PayloadKeyError(f"cannot read payload keys from {path}: {exc}") from exc

    def with_new_active_key(self, key_id: str) -> PayloadKeys:
        """Rotation: a fresh key becomes active; the old ones stay for reading."""
        return PayloadKeys(active=key_id, keys={**self.keys, key_id: AESGCM.generate_key(256)})

    def write(self, path: Path) -> None:
        """Write the keys file readable by its owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "active": self.active,
            "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
        }
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2)

    @classmethod
    def generate(cls, key_id: str = "k1") -> PayloadKeys:
        return cls(active=key_id, keys={key_id: AESGCM.generate_key(256)})


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadKeyError(f"payload key '{key_id}' is not valid base64") from exc


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: PayloadKeys) -> None:
        self._keys = keys
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._keys.active
        cipher = self._ciphers[key_id]
        sealed = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            sealed.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID_HEADER: key_id.encode()}, data=data)
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                # Written before encryption was configured: passed through as it is.
                opened.append(payload)
                continue
            try:
                key_id = payload.metadata.get(KEY_ID_HEADER, b"").decode()
            except UnicodeDecodeError as exc:
                raise PayloadKeyError("payload key id is not UTF-8") from exc
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                shown = key_id if _KEY_ID.match(key_id) else "(not a key id)"  # never echo junk
                raise PayloadKeyError(f"payload sealed with key '{shown}', which is not configured")
            if len(payload.data) < NONCE_BYTES + TAG_BYTES:
                raise PayloadKeyError("payload data is too short to be sealed")
            nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            try:
                plain = cipher.decrypt(nonce, ciphertext, key_id.encode())
                opened.append(Payload.FromString(plain))
            except (InvalidTag, ValueError, DecodeError) as exc:
                raise PayloadKeyError(
                    f"payload sealed with key '{key_id}' failed authentication"
                ) from exc
        return opened


class MarkingCodec(PayloadCodec):
    """The worker's codec: a payload it cannot open becomes a marked payload, not an error.

    The worker decodes every payload of a workflow activation before the workflow sees any of
    it; one signal sealed with an unknown key, or with corrupt or truncated data, would
    otherwise fail that workflow task on every retry and stall the case for good. Marked, it
    reaches the case's handler, which refuses it in the timeline (workflows/inbound.py).
    """

    def __init__(self, inner: PayloadCodec | None) -> None:
        self._inner = inner

    @property
    def inner(self) -> PayloadCodec | None:
        """The codec it wraps (None: no keys, payloads pass as they are)."""
        return self._inner

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._inner is None:
            return list(payloads)
        return await self._inner.encode(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._inner is None:
            return list(payloads)
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                # Unencrypted although keys are configured: from before they were, or sent past
                # the API and the codec server. Marked, for a case to refuse a message so sent.
                marked = Payload()
                marked.CopyFrom(payload)
                marked.metadata[PLAINTEXT_MARK] = b"1"
                opened.append(marked)
                continue
            try:
                [plain] = await self._inner.decode([payload])
            except PayloadKeyError as exc:
                if "not configured" in str(exc):
                    # Either a forged key id or a worker missing a real key (a rotation not yet
                    # rolled out): the case refuses the message in its timeline, where staff see
                    # it, and operators are told here which key id was asked for.
                    _log.error("payload sealed with a key this worker does not have: %s", exc)
                    plain = undecodable(UNKNOWN_KEY)
                else:
                    plain = undecodable(type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - any failure to open is the message's fault
                plain = undecodable(type(exc).__name__)
            opened.append(plain)
        return opened


def seals(converter: DataConverter) -> bool:
    """Whether payloads written with `converter` are encrypted."""
    codec = converter.payload_codec
    if isinstance(codec, MarkingCodec):
        codec = codec.inner
    return isinstance(codec, EncryptionCodec)


def data_converter(keys: PayloadKeys | None) -> DataConverter:
    """The one data converter of sagsflow: pydantic, encrypted when keys are configured."""
    if keys is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(keys))


def worker_data_converter(converter: DataConverter) -> DataConverter:
    """`converter` as the worker (and a replayer of its histories) must use it: payloads that
    cannot be opened are marked for the workflow to refuse, and so are those that came in
    unencrypted while keys are configured (MarkingCodec)."""
    if isinstance(converter.payload_codec, MarkingCodec):
        return converter
    return dataclasses.replace(converter, payload_codec=MarkingCodec(converter.payload_codec))
