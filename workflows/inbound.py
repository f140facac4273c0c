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


def undecodable(reason: str) -> Payload:
    return Payload(metadata={"encoding": UNDECODABLE_ENCODING}, data=reason.encode()[:200])


def read_one(payloads: Sequence[Payload], converter: PayloadConverter) -> Any:
    """The one value of a message, or a Rejection saying why it cannot be used."""
    if len(payloads) != 1:
        raise Rejection(
            f"Beskeden skal indeholde præcis én værdi, ikke {len(payloads)} / "
            f"The message must carry exactly one value, not {len(payloads)}"
        )
    [payload] = payloads
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
