"""Danish words for the contract's vocabulary, for staff-facing text everywhere.

Keyed by the values of the StrEnums in schemas.common and schemas.snapshot (a StrEnum member
looks up the same as its value).
"""

from __future__ import annotations

# The card's phase headings, used in the workflow's timeline and the UI's details.
PHASE_HEADING_DA = {
    "assess": "Vurder krænkelsen",
    "document": "Dokumenter krænkelsen",
    "stop_report": "Stop og anmeld krænkelsen",
    "treat": "Behandl krænkelsen",
    "close": "Afslut processen",
}
PHASE_DA = {
    "assess": "Vurder",
    "document": "Dokumenter",
    "stop_report": "Stop og anmeld",
    "treat": "Behandl",
    "close": "Afslut",
}
STATUS_DA = {"active": "aktiv", "closed": "afsluttet", "withdrawn": "trukket tilbage"}
ROUTE_DA = {"undecided": "ikke afgjort", "internal": "internt", "police": "politi"}
SEVERITY_DA = {
    "unassessed": "ikke vurderet",
    "low": "lav",
    "medium": "middel",
    "high": "høj",
    "critical": "kritisk",
}
STAFF_ROLE_DA = {
    "case_owner": "sagsejer",
    "leadership": "ledelse",
    "tk": "TK",
    "communications": "kommunikation",
    "operator": "drift",
}
TASK_STATUS_DA = {
    "open": "åben",
    "done": "udført",
    "superseded": "erstattet",
    "withdrawn": "trukket tilbage",
}
PARTICIPANT_ROLE_DA = {"victim": "krænket", "offender": "krænker", "witness": "vidne"}
VIOLATION_DA = {
    "intimate_images": "Deling af intime billeder eller video",
    "sextortion": "Sextortion (afpresning)",
    "threats": "Trusler",
    "harassment": "Chikane",
    "fake_profile": "Falsk profil",
    "deepfake": "Deepfake",
    "other": "Andet",
}
# Evidence metadata in the drafted note (schemas.decisions.EvidenceItem's values).
EVIDENCE_KIND_DA = {
    "screenshot": "skærmbillede",
    "video": "video",
    "message": "besked",
    "profile": "profil",
    "other": "andet",
}
EVIDENCE_HOLDER_DA = {"victim": "den krænkede", "family": "familien", "police": "politiet"}
