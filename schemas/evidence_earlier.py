"""The evidence guard as cases started before "card-round-three" were judged by it. Frozen.

A running case replays the messages it took in: one this guard accepted must stay accepted
(and one it refused, refused), or the case would replay differently. So the messages to such a
case are still judged here (schemas.common.EARLIER_GUARD); every other text is judged by
schemas.evidence, which replaced this one (it let encoded images through when spaced out, and
refused ordinary Danish such as "Data: klasse/årgang 7.b"). Nothing here is to be changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
import urllib.parse

RULE = (
    "Bevismateriale må aldrig gemmes i systemet – kun oplysninger om det (handlekortet: "
    '"Gem aldrig materiale fra sagen på egen telefon eller lignende") / Evidence material '
    "must never be stored in the system, only facts about it"
)

# Signatures of image and video files, as they start.
_MAGIC: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"\x00\x00\x01\x00": "ICO",
    b"\x1aE\xdf\xa3": "WebM/Matroska",
    b"8BPS": "Photoshop",
}
_RIFF_KINDS = {b"WEBP": "WebP", b"AVI ": "AVI"}
_FTYP_KINDS = ("ftyp",)  # MP4, MOV, HEIC, AVIF: bytes 4-8

# "data:image/png;base64,…", "data:;base64,…" — but not the Danish word in "data: 12, 13".
_DATA_URI = re.compile(
    r"data\s*:\s*(?:[a-z]+\s*/\s*[\w.+-]+[^,]{0,200}|[^,]{0,100};\s*base64\s*),", re.I
)
# Runs long enough to carry a picture (chunks of 16+ symbols, optionally broken into lines as
# mail and PEM do): short tokens, ids and links pass, and so does prose.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_=-]+(?:(?:\r?\n|\\n)[A-Za-z0-9+/_=-]+)*")
_MIN_BASE64_CHARS = 160
_HEX_RUN = re.compile(r"(?:(?:\\x|0x)?[0-9a-fA-F]{2}){80,}")
_SPACED_HEX_RUN = re.compile(r"(?:(?:\\x|0x|%)?[0-9a-fA-F]{2}[\s,:]+){24,}")
_PERCENT_RUN = re.compile(r"(?:%[0-9a-fA-F]{2}){40,}")
_ESCAPED_BYTES = re.compile(r"(?:\\(?:x[0-9a-fA-F]{2}|u00[0-9a-fA-F]{2}|[0-7]{3})){24,}")
_MIN_BLOB_BYTES = 96
# Compiled once: a text is scanned word by word, and a pattern looked up by its string on every
# call cost more than the scan (most of all inside the workflow sandbox).
_ENTITY = re.compile(r"&#x?[0-9a-fA-F]+;|&[a-z]+;")
_HEX_PREFIXES = re.compile(r"\\x|0x")
_HEX_SEPARATORS = re.compile(r"\\x|0x|%|[\s,:]")
_LINE_BREAKS = re.compile(r"\s|\\n")
# Necessary conditions, each far cheaper than its pattern: a run of the characters a match is
# made of, at least as long as the shortest match (prose has spaces and other letters in between).
_HEX_CANDIDATE = re.compile(r"[0-9a-fA-Fx\\]{160}")  # _HEX_RUN: 80 pairs
_SPACED_HEX_CANDIDATE = re.compile(r"[0-9a-fA-Fx\\%\s,:]{72}")  # _SPACED_HEX_RUN: 24 × 3
_BASE64_CANDIDATE = re.compile(r"[A-Za-z0-9+/_=\\\r\n-]{160}")  # _BASE64_RUN, breaks included
_SIGNATURES = re.compile(rb"\x89PNG|\xff\xd8\xff|GIF8[79]a|RIFF|\x1aE\xdf\xa3|\x00\x00\x00.ftyp")


# A case's texts are validated again and again as they travel (API, workflow, store batch):
# verdicts are remembered by a digest of the text, so the scan runs once per text and no text
# is kept in memory by the cache. Cleared when full; dict operations are safe across threads.
_VERDICTS: dict[bytes, str | None] = {}
_VERDICTS_MAX = 8192


def material_kind(text: str) -> str | None:
    """What kind of evidence material `text` carries, or None when it is plain text."""
    if not text:
        return None
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    try:
        return _VERDICTS[digest]
    except KeyError:
        pass
    kind = _kind(text)
    if len(_VERDICTS) >= _VERDICTS_MAX:
        _VERDICTS.clear()
    _VERDICTS[digest] = kind
    return kind


def _kind(text: str) -> str | None:
    normalised = unicodedata.normalize("NFKC", text)
    for candidate in _unwrapped(normalised):
        found = _scan(candidate)
        if found:
            return found
    return None


def _unwrapped(text: str) -> list[str]:
    """The text and the layers people use to disguise content: URL encoding, HTML entities."""
    layers = [text]
    unquoted = urllib.parse.unquote(text)
    if unquoted != text:
        layers.append(unquoted)
    stripped = _ENTITY.sub(lambda m: _entity(m.group(0)), text)
    if stripped != text:
        layers.append(stripped)
    return layers


def _entity(entity: str) -> str:
    import html

    return html.unescape(entity)


def _scan(text: str) -> str | None:
    if _DATA_URI.search(text):
        return "data-URI"
    raw_bytes = _raw_magic(text)
    if raw_bytes:
        return f"{raw_bytes}-bytes"
    if "\\" in text:  # every escaped byte starts with a backslash
        for match in _ESCAPED_BYTES.finditer(text):
            return f"escaped bytes ({len(match.group(0))} chars)"
    if "%" in text and _PERCENT_RUN.search(text):
        return "percent-encoded bytes"
    if _HEX_CANDIDATE.search(text):
        for match in _HEX_RUN.finditer(text):
            return _magic(_from_hex(_HEX_PREFIXES.sub("", match.group(0)))) or "hex blob"
    if _SPACED_HEX_CANDIDATE.search(text):
        for match in _SPACED_HEX_RUN.finditer(text):
            # Spaced pairs could be a list of times or numbers: only a file signature counts.
            kind = _magic(_from_hex(_HEX_SEPARATORS.sub("", match.group(0))))
            if kind:
                return kind
    if not _BASE64_CANDIDATE.search(text):
        return None
    for match in _BASE64_RUN.finditer(text):
        run = match.group(0)
        if len(run) < _MIN_BASE64_CHARS:  # removing line breaks only shortens it
            continue
        blob = _LINE_BREAKS.sub("", run)
        if len(blob) < _MIN_BASE64_CHARS:
            continue
        decoded = _from_base64(blob)
        if decoded is not None and len(decoded) >= _MIN_BLOB_BYTES:
            return _magic(decoded) or "base64 blob"
    return None


def _raw_magic(text: str) -> str | None:
    """Binary file bytes pasted as text (decoded as latin-1 or with replacement characters)."""
    try:
        data = text.encode("latin-1", errors="ignore")
    except UnicodeError:  # pragma: no cover - ignore never raises
        return None
    for offset in _candidate_offsets(data):
        kind = _magic(data[offset:])
        if kind and kind not in ("BMP", "TIFF", "ICO"):  # too short to be telling in prose
            return kind
    if "\x00" in text or sum(ch < " " and ch not in "\n\r\t" for ch in text) > 8:
        return "binary"
    return None


def _candidate_offsets(data: bytes) -> list[int]:
    return [m.start() for m in _SIGNATURES.finditer(data)]


def _magic(data: bytes | None) -> str | None:
    if not data:
        return None
    for signature, kind in _MAGIC.items():
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[data[8:12]]
    if data[4:8].decode("latin-1") in _FTYP_KINDS:
        return "MP4/MOV/HEIC"
    return None


def _from_hex(digits: str) -> bytes | None:
    try:
        return bytes.fromhex(digits[: len(digits) // 2 * 2])
    except ValueError:
        return None


def _from_base64(blob: str) -> bytes | None:
    padded = blob + "=" * (-len(blob) % 4)
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decoder(padded)
        except (binascii.Error, ValueError):
            continue
    return None
