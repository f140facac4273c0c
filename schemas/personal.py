"""No names where pseudonyms belong, no CPR numbers anywhere.

Staff write P1, P2 … in everything the case keeps; the names behind the pseudonyms live only in
the store's participant table (DESIGN.md). `names_in` finds a participant's name in free text
(first, last or full name, any case, Danish letters, whole words only), so the service can
refuse the text before it reaches the case. `cpr_number` is the general rule for every text of
the contract: a Danish personal identification number (ddmmåå-xxxx) is never written down.

Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

# A name part this short is as often a word ("Bo", "Li") as a name: only with the whole name.
_MIN_PART = 3
# A word: letters (Danish ones included), digits and underscores, as Python's \w.
_NOT_WORD = r"(?<!\w){}(?!\w)"

# ddmmyy, an optional hyphen or space, four digits; not inside a longer run of digits.
_CPR = re.compile(r"(?<![\d-])(\d{2})(\d{2})(\d{2})[- ]?\d{4}(?![\d-])")

NAME_RULE = (
    "Teksten indeholder navnet på en deltager: skriv {pseudonyms} i stedet for navnet / "
    "The text contains a participant's name: write {pseudonyms} instead"
)
# The same, to a caller who may not see names: whose name it is is not said.
NAME_RULE_UNSAID = (
    "Teksten indeholder navnet på en deltager: skriv pseudonymet (P1, P2 …) i stedet for "
    "navnet / The text contains a participant's name: write the pseudonym (P1, P2 …) instead"
)
CPR_RULE = (
    "CPR-numre må ikke skrives i sagen – brug pseudonymer (P1, P2 …) / "
    "CPR numbers must not be written in a case – use pseudonyms (P1, P2 …)"
)


def name_parts(name: str) -> list[str]:
    """The ways a name can be written: in full, and each of its parts (hyphenated ones also
    whole and split), ignoring parts too short to tell from ordinary words."""
    words = name.split()
    parts = [" ".join(words)] if words else []
    for word in words:
        parts.append(word)
        if "-" in word:
            parts += word.split("-")
    return [p for p in dict.fromkeys(parts) if len(p) >= _MIN_PART or p == parts[0]]


def names_in(texts: Iterable[str], names: Mapping[str, str]) -> list[str]:
    """The pseudonyms whose participant's name stands in any of `texts` (sorted)."""
    found = set()
    joined = _INVISIBLE.sub("", unicodedata.normalize("NFKC", "\n".join(texts)))
    if not joined:
        return []
    for pseudonym, name in names.items():
        for part in name_parts(name):
            if re.search(_NOT_WORD.format(re.escape(part)), joined, re.IGNORECASE):
                found.add(pseudonym)
                break
    return sorted(found, key=lambda p: (len(p), p))


# Who sent a message: a member of staff's id and role, not free text about the case (the
# fields of schemas.messages that hold an Actor).
ACTOR_FIELDS = ("actor", "author", "by", "received_by", "reported_by")
# Characters that hide a name from a plain search (zero-width, soft hyphen, joiners).
_INVISIBLE = re.compile("[\u00ad\u034f\u200b-\u200f\u2060-\u2064\ufeff]")


def free_texts(message: Any) -> list[str]:
    """The texts of a message as JSON (a decision, a note, an inquiry …), without who sent it."""
    if isinstance(message, str):
        return [message]
    if isinstance(message, Mapping):
        return [
            text
            for key, value in message.items()
            if key not in ACTOR_FIELDS
            for text in free_texts(value)
        ]
    if isinstance(message, list | tuple):
        return [text for item in message for text in free_texts(item)]
    return []


def cpr_number(text: str) -> bool:
    """Whether `text` holds what can only be a CPR number: a valid date of birth, then four
    digits."""
    for match in _CPR.finditer(text):
        day, month, year = (int(g) for g in match.groups())
        try:
            date(2000 + year, month, day)
        except ValueError:
            continue
        return True
    return False
