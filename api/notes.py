"""The case's notes as documents: the short note on the course of events and the evaluation
note, in Markdown and as a printable HTML page, with the municipality's contacts.

The texts are the ones staff approved: the `document.note` decision (course) and the
`close.evaluate` decision (evaluation), the latest of each. In HTML every piece of text from a
user is escaped before Markdown sees it, so no markup, link or script from a note survives.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import markdown

from api.models import NoteKind
from procedure.calendar import local_time
from procedure.models import Contact, ProcedureSpec
from schemas.common import TaskStatus
from schemas.labels import PHASE_DA, STATUS_DA
from schemas.snapshot import CaseSnapshot, TaskView

NOTE_TASKS = {NoteKind.COURSE: "document.note", NoteKind.EVALUATION: "close.evaluate"}
TITLES = {
    NoteKind.COURSE: "Notat om forløbet",
    NoteKind.EVALUATION: "Evaluering – kort notat",
}


class NoteNotReady(Exception):
    """The note's task is not done yet: there is no approved text."""


@dataclass(frozen=True)
class NoteDocument:
    title: str
    markdown: str
    html: str


def approved(snapshot: CaseSnapshot, kind: NoteKind) -> TaskView:
    key = NOTE_TASKS[kind]
    done = [
        task
        for task in snapshot.done_tasks
        if task.key == key and task.status == TaskStatus.DONE and task.decision
    ]
    if not done:
        raise NoteNotReady(
            f"Notatet er ikke godkendt endnu (opgaven '{key}' er ikke udført) / "
            f"The note has not been approved yet (task '{key}' is not done)"
        )
    return max(done, key=lambda task: (task.completed_at or task.opened_at, task.round))


def render(snapshot: CaseSnapshot, kind: NoteKind, spec: ProcedureSpec) -> NoteDocument:
    task = approved(snapshot, kind)
    title = f"{TITLES[kind]} – sag {snapshot.case_number}"
    text = _compose(snapshot, kind, task, spec, _verbatim)
    safe = _compose(snapshot, kind, task, spec, _escaped)
    body = markdown.markdown(safe, extensions=["sane_lists"], output_format="html")
    return NoteDocument(title=title, markdown=text, html=_page(title, body))


def _compose(
    snapshot: CaseSnapshot,
    kind: NoteKind,
    task: TaskView,
    spec: ProcedureSpec,
    user: Callable[[str], str],
) -> str:
    decision: dict[str, Any] = task.decision or {}
    by = task.completed_by.id if task.completed_by else "ukendt"
    at = local_time(task.completed_at) if task.completed_at else "ukendt"
    lines = [
        f"# {TITLES[kind]}",
        "",
        f"**Sag {user(snapshot.case_number)}** · skole {user(snapshot.school_id)} · "
        f"{user(spec.municipality)}",
        "",
        f"- Fase: {PHASE_DA.get(snapshot.phase.value, snapshot.phase.value)} · "
        f"status: {STATUS_DA.get(snapshot.status.value, snapshot.status.value)}",
        f"- Godkendt af: {user(by)}, {at}",
        f"- Handlekort: {user(snapshot.procedure_version)}",
        "",
    ]
    if kind == NoteKind.COURSE:
        lines += ["## Notat", "", user(str(decision.get("text", ""))), ""]
    else:
        lines += [
            "## Hvad virkede",
            "",
            user(str(decision.get("worked", ""))),
            "",
            "## Hvad virkede ikke",
            "",
            user(str(decision.get("did_not_work", ""))),
            "",
        ]
        if decision.get("learning_points"):
            lines += ["## Læringspunkter", "", user(str(decision["learning_points"])), ""]
        asked = "ja" if decision.get("family_asked") else "nej"
        lines += [
            f"Familien er spurgt: {asked}",
            "",
            "## Notat",
            "",
            user(str(decision.get("note", ""))),
            "",
        ]
    lines += ["## Kontakter", "", *_contacts(spec, user), ""]
    lines.append(
        "_Notatet indeholder pseudonymer (P1, P2 …), ikke navne. Navne findes kun i sagsflows "
        "database og vises kun for dem, der har adgang._"
    )
    return "\n".join(lines) + "\n"


def _contacts(spec: ProcedureSpec, user: Callable[[str], str]) -> list[str]:
    def line(label: str, contact: Contact) -> str:
        who = f"{contact.title}: {contact.name}" if contact.title else contact.name
        return f"- **{label}:** {user(who)}, tlf. {user(contact.phone)}, {user(contact.mail)}"

    return [
        line("Tryghed og Kriminalitetsforebyggelse", spec.contacts.tk),
        line("Konsulent", spec.contacts.consultant),
    ]


def _verbatim(text: str) -> str:
    return text


def _escaped(text: str) -> str:
    """User text for Markdown that becomes HTML: no tags, entities, links or images survive."""
    text = html.escape(text, quote=True)
    # Backslash first, then the brackets that open links and images: all render literally.
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
  body {{ font-family: Georgia, 'Times New Roman', serif; max-width: 44rem; margin: 2rem auto;
         padding: 0 1rem; line-height: 1.45; color: #111; }}
  h1 {{ font-size: 1.5rem; border-bottom: 1px solid #999; padding-bottom: .3rem; }}
  h2 {{ font-size: 1.15rem; margin-top: 1.5rem; }}
  p, li {{ white-space: pre-wrap; }}
  @page {{ size: A4; margin: 20mm; }}
  @media print {{ body {{ margin: 0; max-width: none; }} }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
