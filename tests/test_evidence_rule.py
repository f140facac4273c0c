"""No evidence material gets in, however it is disguised; ordinary Danish text does."""

from __future__ import annotations

import base64
import urllib.parse
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.evidence import material_kind
from schemas.messages import CaseNote, TaskCompletion
from tests.casekit import TEACHER, decision

# The first bytes of real files, padded to the size of a small thumbnail.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 2
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 2
GIF = b"GIF89a\x01\x00\x01\x00" + bytes(range(256)) * 2
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 2
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(range(256)) * 2
HEIC = b"\x00\x00\x00\x18ftypheic" + bytes(range(256)) * 2
FILES = {"png": PNG, "jpeg": JPEG, "gif": GIF, "mp4": MP4, "webp": WEBP, "heic": HEIC}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def disguises() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, data in FILES.items():
        encoded = b64(data)
        found += [
            (f"{name} data URI", f"data:image/{name};base64,{encoded}"),
            (f"{name} data URI upper case", f"DATA:IMAGE/{name.upper()};BASE64,{encoded}"),
            (f"{name} data URI with spaces", f"data : image/{name} ; base64 , {encoded}"),
            (
                f"{name} data URI inside a sentence",
                f"Se billedet her: data:image/{name};base64,{encoded} – tak",
            ),
            (
                f"{name} url-encoded data URI",
                urllib.parse.quote(f"data:image/{name};base64,{encoded}"),
            ),
            (f"{name} bare base64", encoded),
            (
                f"{name} base64 in 76-char mail lines",
                "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)),
            ),
            (
                f"{name} base64 with literal \\n",
                "\\n".join(encoded[i : i + 64] for i in range(0, len(encoded), 64)),
            ),
            (f"{name} url-safe base64", base64.urlsafe_b64encode(data).decode()),
            (f"{name} base64 without padding", encoded.rstrip("=")),
            (f"{name} hex", data.hex()),
            (f"{name} spaced hex", data[:64].hex(" ")),
            (f"{name} \\x escapes", "".join(f"\\x{b:02x}" for b in data[:64])),
            (f"{name} percent-encoded bytes", urllib.parse.quote_from_bytes(data[:64])),
            (f"{name} bytes as latin-1 text", data.decode("latin-1")),
        ]
    found.append(("html entity data URI", "&#100;&#97;&#116;&#97;:image/png;base64," + b64(PNG)))
    found.append(("unknown-type base64 blob", b64(bytes(range(256)) * 3)))
    found.append(("data URI with no type", "data:;base64," + b64(PNG)))
    found.append(("fullwidth data URI", "ｄａｔａ:image/png;base64," + b64(PNG)))
    return found


@pytest.mark.parametrize(("label", "text"), disguises(), ids=[d[0] for d in disguises()])
def test_material_is_recognised_in_every_disguise(label: str, text: str) -> None:
    assert material_kind(text) is not None, label


ORDINARY = [
    "P2 har delt krænkende beskeder om P1 i klassegruppen på Snapchat kl. 21.30.",
    "Indsamlet data: 12, 13 og 14 skærmbilleder opbevares af familien (ikke skolen).",
    "Familien har fået vejledning om sletdet.dk og politi.dk/anmeld – ring 114.",
    "Tidspunkter: 10:15, 10:30, 11:45, 12:00, 12:15, 13:30, 14:45, 15:00, 15:15, 16:30.",
    "Brugernavne noteret: @anon_konto_2026, @falsk.profil.7b og ukendt_afsender_99.",
    "Link: https://www.redbarnet.dk/sletdet/ og https://politi.dk/anmeld?kategori=seksual",
    "Referencenummer 0fa3c9e2b7d14c1a9e6f, sagsnr. 2026-0042-A",
    "Krænkelsen er vurderet alvorlig; underretning sendt straks (Barnets lov § 133).",
    "Æ, ø og å virker: Ærøskøbing, Søborg, Åbenrå. " * 6,
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_case_text_passes(text: str) -> None:
    assert material_kind(text) is None


def test_a_note_with_an_image_is_refused_naming_the_rule_and_field() -> None:
    with pytest.raises(ValidationError) as exc:
        CaseNote.model_validate(
            {
                "author": TEACHER.model_dump(mode="json"),
                "text": "billede: data:image/png;base64," + b64(PNG),
            }
        )
    message = str(exc.value)
    assert "Gem aldrig materiale" in message and "Evidence material" in message
    assert "text" in message
    assert b64(PNG)[:40] not in message  # the material is never echoed back


def test_a_decision_field_with_material_is_refused() -> None:
    body = decision("assess.uncover", datetime.now(UTC), what=b64(JPEG))
    with pytest.raises(ValidationError) as exc:
        TaskCompletion.model_validate(
            {
                "task_key": "assess.uncover",
                "actor": TEACHER.model_dump(mode="json"),
                "decision": body,
            }
        )
    assert "decision.what" in str(exc.value) or "what" in str(exc.value)
