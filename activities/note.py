"""The short note on the course of events (offentlighedsloven § 13), drafted from facts.

Pure and deterministic: the same facts give the same text, and only the facts given appear.
Staff read, correct and approve the draft; the system never adds names or material.
"""

from __future__ import annotations

from collections.abc import Iterable

from procedure.calendar import local_time
from schemas.activities import NoteFacts
from schemas.common import Route, ViolationType
from schemas.labels import SEVERITY_DA, VIOLATION_DA

ROUTE_LABELS = {
    Route.UNDECIDED: "Ikke besluttet endnu",
    Route.INTERNAL: "Håndteres internt af skolen",
    Route.POLICE: "Politianmeldelse – politiet overtager, skolen holder kontakten",
}
NOT_GIVEN = "Ikke oplyst"


def render_note(facts: NoteFacts) -> str:
    lines = [
        "# Notat om forløbet",
        "",
        f"Sag {facts.case_number} · skole {facts.school_id} · "
        f"skolen fik kendskab {local_time(facts.reported_at)}",
        "",
        f"- **Hvem:** {_joined(facts.participants, '; ')}",
        f"- **Hvad:** {_one_line(facts.what) or NOT_GIVEN}",
        f"- **Krænkelsens art:** {_joined(map(_violation_label, facts.violation_types), ', ')}",
        f"- **Hvor:** {_one_line(facts.where) or NOT_GIVEN}",
        f"- **Hvornår:** {local_time(facts.when_occurred) if facts.when_occurred else NOT_GIVEN}",
        "- **Bevismateriale** (kun oplysninger; materialet opbevares aldrig af skolen):",
        *_evidence_lines(facts.evidence),
        f"- **Spor:** {ROUTE_LABELS[facts.route]}",
        f"- **Alvorlighed:** {SEVERITY_DA[facts.severity].capitalize()}",
        "",
        "_Udkast dannet ud fra de registrerede oplysninger. "
        "Læses igennem, rettes og godkendes af medarbejderen._",
    ]
    return "\n".join(lines) + "\n"


def _evidence_lines(evidence: list[str]) -> list[str]:
    if not evidence:
        return ["  - Intet registreret"]
    return [f"  - {_one_line(item)}" for item in evidence if _one_line(item)]


def _violation_label(value: str) -> str:
    try:
        return VIOLATION_DA[ViolationType(value)]
    except ValueError:
        return _one_line(value)


def _joined(items: Iterable[str], separator: str) -> str:
    cleaned = [_one_line(item) for item in items]
    return separator.join(item for item in cleaned if item) or NOT_GIVEN


def _one_line(text: str) -> str:
    # Free text stays on its own line: no Markdown headings or list items smuggled in.
    return " ".join(text.split())
