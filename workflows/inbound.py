"""Reading a message that reaches a case from outside: any number of values, any payload.

Pure (no Temporal calls but the payload converter it is given), so the workflow's handlers can
turn whatever arrives — two values, none, a payload that did not decrypt, an unknown encoding,
JSON nested thousands of levels deep — into a refusal the timeline records, instead of an
exception that fails the workflow task on every retry, forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter

from workflows.rejections import Rejection

# The worker's codec puts this encoding on a payload it could not open (wrong or unknown key,
# corrupt data), with the reason as data, so the case can refuse the message by name.
UNDECODABLE_ENCODING = b"binary/sagsflow-undecodable"
# JSON is the only encoding staff's messages come in (the pydantic converter writes json/plain).
READABLE_ENCODINGS = (b"json/plain", b"binary/null")
# The marker's reason when the payload names a key the worker does not have.
UNKNOWN_KEY = "unknown-key"


# The worker's codec puts this on a payload that came in unencrypted while payload keys are
# configured (core/codec.py MarkingCodec): sent past the API and the codec server, so by no one
# the access log knows of.
PLAINTEXT_MARK = "sagsflow-plaintext"
# The memo a case is started with when the service seals its payloads (core/codec.py).
SEALED_MEMO = "sealed"
UNSEALED = (
    "Beskeden er ikke krypteret med sagens nøgler: beskeder til en sag sendes gennem API'et "
    "(eller kodes af codec-serveren), hvor de logges / The message is not encrypted with the "
    "case's keys: messages to a case go through the API (or the codec server), where they are "
    "logged"
)


def undecodable(reason: str) -> Payload:
    return Payload(metadata={"encoding": UNDECODABLE_ENCODING}, data=reason.encode()[:200])


def read_one(
    payloads: Sequence[Payload], converter: PayloadConverter, *, sealed_only: bool = False
) -> Any:
    """The one value of a message, or a Rejection saying why it cannot be used.
    `sealed_only`: the case runs encrypted, so a message that came in unencrypted is refused."""
    if len(payloads) != 1:
        raise Rejection(
            f"Beskeden skal indeholde præcis én værdi, ikke {len(payloads)} / "
            f"The message must carry exactly one value, not {len(payloads)}"
        )
    [payload] = payloads
    if sealed_only and payload.metadata.get(PLAINTEXT_MARK):
        raise Rejection(UNSEALED)
    encoding = payload.metadata.get("encoding", b"")
    if encoding == UNDECODABLE_ENCODING:
        if payload.data == UNKNOWN_KEY.encode():
            raise Rejection(
                "Beskeden er krypteret med en nøgle, som sagsflow ikke har – send den igen, når "
                "driften har rettet nøglerne / The message is sealed with a key sagsflow does "
                "not have – send it again once operators have fixed the keys"
            )
        raise Rejection(
            "Beskeden kunne ikke dekrypteres med sagens nøgler / "
            "The message could not be decrypted with the case's keys"
        )
    if encoding not in READABLE_ENCODINGS:
        # The encoding is attacker-chosen: it is not repeated.
        raise Rejection("Beskeden har en ukendt kodning / The message has an unknown encoding")
    try:
        return converter.from_payload(payload)
    except Exception:  # noqa: BLE001 - malformed or absurdly nested JSON: refused, not raised
        raise Rejection("Beskeden er ikke gyldig JSON / The message is not valid JSON") from None
