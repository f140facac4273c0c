"""Danish labels and help for the fields of the task decisions (schemas.decisions), in the
card's own words where it has them, and for the values staff choose between.

Keyed by field name; a name used by several decisions (`note`, `tk_contacted`) means the same
in each. tests/test_web_forms.py fails if a decision field or a choice has no label here.
"""

from __future__ import annotations

FIELD_DA: dict[str, tuple[str, str]] = {
    # name: (label, help)
    "what": ("Hvad er der sket?", "Skriv P1, P2 … – aldrig navne."),
    "where": ("Hvor er det sket?", "Platform eller app og/eller fysisk sted."),
    "when_occurred": ("Hvornår skete det?", "Dato og klokkeslæt, hvis det kendes."),
    "involved": ("Involverede", "Pseudonymer adskilt af komma, fx P1, P2."),
    "sexual_material_of_minor": (
        "Er der seksuelle billeder eller video af en person under 18 år?",
        "Straffeloven § 235.",
    ),
    "material_online": ("Ligger krænkende materiale (stadig) online?", ""),
    "material_shared": (
        "Er materialet delt blandt elever (i en klasse, en årgang)?",
        "Delt materiale slettes, og klassen inddrages.",
    ),
    "severity": ("Alvorlighed", "Ud fra afdækningen."),
    "route": (
        "Håndteres sagen internt eller anmeldes den til politiet?",
        "Internt: skolen håndterer sagen. Politi: sagen anmeldes.",
    ),
    "underretning": ("Skal der laves en underretning?", "Barnets lov § 133."),
    "ssp": ("Inddrages SSP?", "Samarbejdet mellem skole, socialforvaltning og politi."),
    "course_agreed": ("Er det videre forløb aftalt med ledelsen?", ""),
    "note": ("Bemærkning", "Brug pseudonymer, ikke navne."),
    "tk_contacted": ("Er Tryghed og Kriminalitetsforebyggelse kontaktet?", ""),
    "advice": ("TK's råd", ""),
    "custody_holders_informed": ("Er forældremyndighedsindehaverne orienteret?", ""),
    "for_participants": (
        "Hvis forældre er orienteret?",
        "Pseudonymer adskilt af komma, fx P1, P2.",
    ),
    "evidence": (
        "Bevisregister (kun oplysninger om beviserne)",
        "Gem aldrig selve materialet – ikke her, og ikke på egen telefon eller lignende.",
    ),
    "kind": ("Slags bevis", ""),
    "held_by": ("Hvem opbevarer materialet?", "Aldrig skolen eller en medarbejder."),
    "secured_at": ("Sikret", "Dato og klokkeslæt."),
    "usernames_noted": ("Er brugernavne noteret?", ""),
    "times_noted": ("Er tidspunkter noteret?", ""),
    "staff_devices_clear": (
        "Er materiale fra sagen slettet fra medarbejderes egne enheder?",
        "Gem aldrig materiale fra sagen på egen telefon eller lignende.",
    ),
    "text": (
        "Notat om forløbet",
        "Kort notat: hvem, hvad og hvor, samt tidsangivelser. Brug pseudonymer.",
    ),
    "actors": ("Hvem samarbejder skolen med?", "Vælg mindst én."),
    "material_deleted": ("Er delt materiale slettet?", ""),
    "further_measures": ("Yderligere tiltag", ""),
    "police_took_over": ("Har politiet overtaget indsatsen?", ""),
    "school_contact_kept": ("Holder skolen kontakten til politiet?", ""),
    "removal_guidance_given": ("Er der vejledt om fjernelse af materialet?", ""),
    "sletdet_referred": ("Er der henvist til Red Barnets SletDet?", ""),
    "plan_written": ("Er handlingsplanen skrevet?", "Undervisningsmiljøloven § 1 c."),
    "summary": ("Handlingsplanen kort", ""),
    "recommended_to_family": ("Er politianmeldelse anbefalet familien?", ""),
    "filed": ("Er der anmeldt til politiet?", ""),
    "guidance_given": ("Er der vejledt om forsikring?", ""),
    "submitted_at": ("Underretningen er sendt", "Dato og klokkeslæt."),
    "received_at": ("Kvitteringen er modtaget", "Dato og klokkeslæt."),
    "municipality_contacted": ("Er kommunen kontaktet om den manglende kvittering?", ""),
    "victim_help": ("Hjælp til den krænkede", ""),
    "offender_help": ("Hjælp til krænkeren", ""),
    "inform_classmates": ("Orienteres klassekammerater?", ""),
    "inform_parents": ("Orienteres forældregruppen?", ""),
    "inform_school": ("Orienteres skolen i øvrigt?", ""),
    "measures": ("Særlige tiltag", "Når begge går på skolen, fx forskudte pauser."),
    "statement": ("Udtalelse til pressen", ""),
    "worked": ("Hvad virkede?", ""),
    "did_not_work": ("Hvad virkede ikke?", ""),
    "learning_points": ("Læringspunkter", ""),
    "family_asked": ("Er familien spurgt om forløbet?", ""),
    "rumours": ("Er der rygter?", ""),
    "class_problems": ("Er der problemer i klassefællesskabet?", ""),
    "help_received": ("Har de involverede fået hjælp?", ""),
    "outcome": ("Hvad nu?", ""),
}

CHOICE_DA: dict[str, dict[str, str]] = {
    "severity": {"low": "Lav", "medium": "Middel", "high": "Høj", "critical": "Kritisk"},
    "route": {"internal": "Internt", "police": "Politianmeldelse"},
    "kind": {
        "screenshot": "Skærmbillede",
        "video": "Video",
        "message": "Besked",
        "profile": "Profil",
        "other": "Andet",
    },
    "held_by": {"victim": "Den krænkede", "family": "Familien", "police": "Politiet"},
    "actors": {
        "parents": "Forældre",
        "students": "Involverede elever",
        "ssp_teacher": "SSP-lærer",
        "ssp_consultant": "SSP-konsulent",
        "local_police": "Lokalbetjente",
    },
    "further_measures": {
        "class_announcement": "Udmelding til klassen",
        "year_group_talk": "Oplæg for årgangen",
        "other": "Andet",
    },
    "filed": {"yes": "Ja", "no": "Nej", "unknown": "Ved ikke"},
    "victim_help": {
        "tk": "TK",
        "psychologist": "Psykolog",
        "ppr": "PPR",
        "health_nurse": "Sundhedsplejerske",
        "other": "Andet",
    },
    "statement": {"none": "Ingen udtalelse", "given": "Udtalelse givet", "declined": "Afvist"},
    "outcome": {
        "close": "Afslut sagen",
        "continue": "Fortsæt til næste opfølgning",
        "reopen": "Genåbn vurderingen (ny hændelse)",
    },
}
CHOICE_DA["offender_help"] = CHOICE_DA["victim_help"]
