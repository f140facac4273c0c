"""The card's rule, enforced on every text the system takes in: no evidence material.

"Gem aldrig materiale fra sagen på egen telefon eller lignende." Sexual images of a minor are
illegal to possess (straffeloven § 235), so sagsflow must never hold images, video or
screenshots, however they are written down. The evidence register holds metadata only (kind,
who holds it, when it was secured).

The guard looks at what material *is*, not at a few spellings of it:

1. Normalise: NFKC, no zero-width or soft-hyphen characters, no mail quoting ("> "), and the
   text again with URL-encoding undone (repeatedly) and HTML entities resolved.
2. Find long runs that an encoding could have produced — base64 and base64url, base32,
   ascii85, hex, and the hex dumps of xxd, hexdump -C and od — with any whitespace, ", ", ". "
   or literal "\\n" between the symbols (removed before decoding).
3. Refuse a run in which a known media or archive format starts: its first bytes (the magic
   number) become the same symbols wherever the file stands in a text, since a file starts on
   a boundary of the encoding's units — searched for as such, also reversed. Refuse a run that
   is long and dense too: a window of it uses nearly the whole alphabet, with the entropy of
   random bytes. Prose, links, paths, hashes and usernames use far fewer symbols, far less
   evenly.
4. Bytes pasted as text (control characters, raw file signatures) and `data:…;base64,` URIs.

Pure functions: used by the contract's validation (so inside workflows as well).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import math
import re
import unicodedata
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

RULE = (
    "Bevismateriale må aldrig gemmes i systemet – kun oplysninger om det (handlekortet: "
    '"Gem aldrig materiale fra sagen på egen telefon eller lignende") / Evidence material '
    "must never be stored in the system, only facts about it"
)

# ---------------------------------------------------------------- what material looks like

# File signatures that may stand anywhere in decoded bytes: four or more bytes that ordinary
# text never decodes to by chance.
_SIGNATURES: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"\x89PNG\r\n\x1a\n"), "PNG"),
    (re.compile(rb"\xff\xd8\xff[\xc0-\xfe]"), "JPEG"),
    (re.compile(rb"GIF8[79]a"), "GIF"),
    (re.compile(rb"RIFF....(?:WEBP|AVI |WAVE)", re.S), "RIFF media"),
    (re.compile(rb"\x00\x00[\x00-\x0f].ftyp[ -~]{4}", re.S), "MP4/MOV/HEIC"),
    (re.compile(rb"\x1aE\xdf\xa3"), "WebM/Matroska"),
    (re.compile(rb"PK\x03\x04"), "ZIP"),
    (re.compile(rb"\x1f\x8b\x08"), "gzip"),
    (re.compile(rb"7z\xbc\xaf\x27\x1c"), "7z"),
    (re.compile(rb"Rar!\x1a\x07"), "RAR"),
    (re.compile(rb"8BPS\x00\x01"), "Photoshop"),
    (re.compile(rb"II\*\x00|MM\x00\*"), "TIFF"),
    (re.compile(rb"%PDF-\d"), "PDF"),
)
# Shorter signatures count only at the start of what was decoded.
_LEADING: tuple[tuple[bytes, str], ...] = ((b"BM", "BMP"), (b"\x00\x00\x01\x00", "ICO"))

# How files start (offset in the file, bytes there, kind). An encoded text is searched for
# these bytes as the encoding writes them: a file starts at a boundary of the encoding's units,
# so its first bytes always become the same symbols, wherever it stands in a text. JPEG's
# fourth byte varies (the first marker), so each variant is listed.
_FILE_STARTS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    *((0, b"\xff\xd8\xff" + bytes([marker]), "JPEG") for marker in range(0xC0, 0xFF)),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"RIFF", "RIFF media"),
    (4, b"ftyp", "MP4/MOV/HEIC"),
    (0, b"\x1aE\xdf\xa3", "WebM/Matroska"),
    (0, b"PK\x03\x04", "ZIP"),
    (0, b"\x1f\x8b\x08\x00", "gzip"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"Rar!\x1a\x07", "RAR"),
    (0, b"8BPS\x00\x01", "Photoshop"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"%PDF-1", "PDF"),
)

# Pasted bytes: a raw signature with its non-printable bytes, or control characters.
_RAW = re.compile("\x89PNG\r\n\x1a|\xff\xd8\xff|PK\x03\x04|\x1aE\xdf\xa3")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_CONTROL = 8

# "data:image/png;base64,…", "data:;base64,…" once whitespace is gone; not "Data: 12, 13".
_DATA_URI = re.compile(r"data:[^,;]{0,100}(?:;[^,;]{0,100})*;base64,", re.I)

# ------------------------------------------------------------------------ normalisation

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0]"
)
_QUOTING = re.compile(r"(?m)^[ \t]*(?:>[ \t]?)+")
_WHITESPACE = re.compile(r"\s+")
_MAX_UNQUOTE = 4


def _normal(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return _QUOTING.sub("", text)


def _layers(text: str) -> Iterator[str]:
    """The text, then the layers people use to disguise content: URL encoding (repeatedly)
    and HTML entities."""
    current = _normal(text)
    yield current
    if "&" in current:
        unescaped = html.unescape(current)
        if unescaped != current:
            yield _normal(unescaped)
    for _ in range(_MAX_UNQUOTE):
        if "%" not in current:
            return
        raw = urllib.parse.unquote_to_bytes(current)
        try:
            unquoted = raw.decode("utf-8")
        except UnicodeDecodeError:
            unquoted = raw.decode("latin-1")  # bytes, as text: the raw check sees them
        if unquoted == current:
            return
        current = _normal(unquoted)
        yield current


# ---------------------------------------------------------------------------- encodings


@dataclass(frozen=True)
class _Encoding:
    """How one encoding looks in a text and how to recognise files in it.

    `run`: its symbols with the separators people put between them; `separators` are removed
    before looking. `unit`: symbols per `unit_bytes` bytes. `distinct`/`bits`: a window of
    `window` symbols counts as encoded bytes when it has at least `distinct` different symbols
    and at least `bits` of entropy per symbol (random bytes come close to the alphabet's log2;
    text is far below). `fold`: symbols made comparable (case for hex and base32, the
    url-safe alphabet for base64)."""

    name: str
    run: re.Pattern[str]
    separators: re.Pattern[str]
    encode: Callable[[bytes], str]
    unit: int
    unit_bytes: int
    window: int
    distinct: int
    bits: float
    reversed_too: bool = False
    fold: Callable[[str], str] | None = None
    # filled in below: the symbols every file start becomes, and what they stand for
    starts: re.Pattern[str] = re.compile("(?!)")
    kinds: dict[str, str] | None = None


def _hex(symbols: str) -> bytes | None:
    try:
        return bytes.fromhex(symbols[: len(symbols) // 2 * 2])
    except ValueError:
        return None


def _start_symbols(encoding: _Encoding) -> dict[str, str]:
    """The symbols each file start becomes in `encoding`: only those its own bytes decide."""
    found: dict[str, str] = {}
    unit, size = encoding.unit, encoding.unit_bytes
    for offset, signature, kind in _FILE_STARTS:
        first = -(-offset // size)  # the first whole unit inside the signature
        last = (offset + len(signature)) // size  # and the end of the last whole unit
        if encoding.name != "ascii85":  # symbol-wise: a symbol is decided by its own bits
            bits = 8 * size // unit
            first_symbol = -(-offset * 8 // bits)
            last_symbol = (offset + len(signature)) * 8 // bits
            padded = b"\x01" * offset + signature + b"\x01" * size
            symbols = encoding.encode(padded)[first_symbol:last_symbol]
        else:  # ascii85 is positional per 4-byte group
            inside = signature[first * size - offset : last * size - offset]
            symbols = encoding.encode(inside) if len(inside) >= size else ""
        if encoding.fold is not None:
            symbols = encoding.fold(symbols)
        if len(symbols) >= 4:
            found.setdefault(symbols, kind)
    return found


def _run(symbols: str) -> re.Pattern[str]:
    """A run of at least _MIN_SYMBOLS of these characters, found only from its first one (a
    scan that retried from inside every run too short would cost quadratic time)."""
    return re.compile(rf"(?<![{symbols}])[{symbols}]{{{_MIN_SYMBOLS},}}")


# Below this many symbols a run is too short to carry a picture worth refusing (a 1×1 GIF
# is about 40 bytes, 56 symbols of base64).
_MIN_SYMBOLS = 48
_SEPARATORS = r"\s,.\\"  # whitespace, ", ", ". ", and the backslash of a literal "\n"
_ENCODINGS: tuple[_Encoding, ...] = (
    _Encoding(
        "hex",
        _run(rf"0-9a-fA-FxX:;{_SEPARATORS}-"),
        re.compile(rf"0x|\\x|\\[nrt]|[xX:;{_SEPARATORS}-]"),
        lambda data: data.hex(),
        unit=2,
        unit_bytes=1,
        window=512,
        distinct=16,
        bits=3.7,
        fold=str.lower,
    ),
    _Encoding(
        "base64",
        _run(rf"A-Za-z0-9+/=_{_SEPARATORS}-"),
        re.compile(rf"\\[nrt]|[{_SEPARATORS}]"),
        lambda data: base64.b64encode(data).decode(),
        unit=4,
        unit_bytes=3,
        window=256,
        distinct=54,
        bits=5.2,
        reversed_too=True,
        fold=lambda symbols: symbols.replace("-", "+").replace("_", "/"),
    ),
    _Encoding(
        "base32",
        _run(rf"A-Za-z2-7={_SEPARATORS}"),
        re.compile(rf"\\[nrt]|[{_SEPARATORS}]"),
        lambda data: base64.b32encode(data).decode(),
        unit=8,
        unit_bytes=5,
        window=256,
        distinct=29,
        bits=4.6,
        fold=str.upper,
    ),
    _Encoding(
        "ascii85",
        _run(r"!-uz\s"),
        re.compile(r"\s"),
        lambda data: base64.a85encode(data).decode(),
        unit=5,
        unit_bytes=4,
        window=256,
        distinct=66,
        bits=5.6,
    ),
)
_ENCODINGS = tuple(
    dataclasses.replace(
        encoding,
        starts=re.compile("|".join(map(re.escape, sorted(starts, key=len, reverse=True)))),
        kinds=starts,
    )
    for encoding in _ENCODINGS
    for starts in [_start_symbols(encoding)]
)
# Hex dumps: an offset, then groups of 2 or 4 hex digits (xxd, hexdump -C, od -t x1).
_DUMP_LINE = re.compile(
    r"(?m)^[ \t]*[0-9a-fA-F]{6,8}:?((?:[ \t]{1,2}[0-9a-fA-F]{2}(?:[0-9a-fA-F]{2})?(?=[ \t]|$))+)"
)
_DUMP_MIN_LINES = 3


def _signature(data: bytes) -> str | None:
    for signature, kind in _LEADING:
        if data.startswith(signature):
            return kind
    for pattern, kind in _SIGNATURES:
        if pattern.search(data):
            return kind
    return None


def _dense(symbols: str, encoding: _Encoding) -> bool:
    """Whether a window of the run looks like encoded random bytes (compressed media)."""
    size = encoding.window
    if len(symbols) < size:
        return False
    step = size // 2
    for start in range(0, len(symbols) - size + step, step):
        window = symbols[start : start + size]
        if len(set(window)) < encoding.distinct:  # cheap, and enough for prose
            continue
        counts = Counter(window)
        total = len(window)
        bits = -sum(n / total * math.log2(n / total) for n in counts.values())
        if bits >= encoding.bits:
            return True
    return False


def _scan_encoding(text: str, encoding: _Encoding) -> str | None:
    assert encoding.kinds is not None
    for match in encoding.run.finditer(text):
        symbols = encoding.separators.sub("", match.group(0))
        if len(symbols) < _MIN_SYMBOLS:
            continue
        if encoding.fold is not None:
            symbols = encoding.fold(symbols)
        found = encoding.starts.search(symbols)
        if found is None and encoding.reversed_too:
            found = encoding.starts.search(symbols[::-1])
        if found is not None:
            return encoding.kinds[found.group(0)]
        if _dense(symbols, encoding):
            return f"{encoding.name}-encoded data"
    return None


def _scan_dump(text: str) -> str | None:
    lines = _DUMP_LINE.findall(text)
    if len(lines) < _DUMP_MIN_LINES:
        return None
    digits = _WHITESPACE.sub("", "".join(lines))
    data = _hex(digits)
    if data and (kind := _signature(data)):
        return f"{kind} (hex dump)"
    if _dense(digits.lower(), _ENCODINGS[0]):
        return "hex dump"
    return None


def _scan(text: str) -> str | None:
    squeezed = _WHITESPACE.sub("", text)
    if _DATA_URI.search(squeezed):
        return "data-URI"
    if _RAW.search(text) or len(_CONTROL.findall(text)) > _MAX_CONTROL:
        return _signature(text.encode("latin-1", errors="ignore")) or "binary"
    kind = _scan_dump(text)
    if kind:
        return kind
    for encoding in _ENCODINGS:
        kind = _scan_encoding(text, encoding)
        if kind:
            return kind
    return None


# ---------------------------------------------------------------------------- the verdict

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
    for layer in _layers(text):
        kind = _scan(layer)
        if kind:
            return kind
    return None
