"""Test data for the evidence and name guard (issue 14): what staff write, and what material
looks like when someone tries to get it past the guard.

- `DANISH_TEXTS`: realistic texts a teacher, a school leader, a TK worker or a communications
  officer writes in these cases (dates, times, usernames, platforms, classes, paths, hashes,
  phone numbers, links). None of them may be refused.
- `media_files()`: real files made here — JPEG, PNG and GIF by Pillow, ZIP by zipfile, MP4 and
  HEIC as ISO-BMFF boxes — and `encodings(data)`: each written down in every way that was
  found to get past the old guard, and more. None of them may be accepted.

Everything is generated from fixed seeds: the same texts and files on every run.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import urllib.parse
import zipfile
from collections.abc import Callable

from hypothesis import strategies as st
from PIL import Image

# ----------------------------------------------------------------------- what staff write

WRITTEN: list[str] = [
    # What happened (assess.uncover, notes)
    "P2 har delt krænkende beskeder om P1 i klassegruppen på Snapchat kl. 21.30.",
    "P1 fortalte kontaktlæreren i frikvarteret, at billedet har været delt siden fredag.",
    "P3 så opslaget i 8.a's Instagram-gruppe og skærmfotograferede det ikke (godt).",
    "Ifølge P1 startede det på Discord-serveren 'Ishøj gamers' den 14/11 ved 19-tiden.",
    "P2 har oprettet en falsk TikTok-profil i P1's navn med et billede fra skolefotoet.",
    "Der er sendt trusler via Messenger: 'du skal passe på i morgen'. Ordret citat noteret.",
    "P1 er blevet presset til at sende flere billeder – truet med at de ellers bliver delt.",
    "Billedet er manipuleret (deepfake) og viser P1's ansigt på en anden krop.",
    "Hændelsen fandt sted mellem 22.10 og 23.45; P1 var hjemme, P2 ligeledes.",
    "Afsender er ukendt; kontoen hedder 'anon_7b_2026' og er oprettet i sidste uge.",
    "P4 har videresendt billedet til mindst 12 elever på årgangen (ifølge P3).",
    "Metadata: dato/tid og brugernavn er noteret",
    "Data: klasse/årgang 7.b",
    "Vores data: billeder/video er slettet",
    "Persondata: navn/adresse findes kun i journalen",
    "Filen var en GIF89a-animation ifølge familien; vi har ikke set den.",
    "Indsamlet data: 12, 13 og 14 skærmbilleder opbevares af familien (ikke skolen).",
    "Tidspunkter: 10:15, 10:30, 11:45, 12:00, 12:15, 13:30, 14:45, 15:00, 15:15, 16:30.",
    "Brugernavne noteret: @anon_konto_2026, @falsk.profil.7b og ukendt_afsender_99.",
    "Krænkelsen er vurderet alvorlig; underretning sendt straks (Barnets lov § 133).",
    # Evidence (document.preserve) — facts about it, never the material
    "Familien har taget skærmbilleder af samtalen med brugernavne og tidsstempler synlige.",
    "Mor har gemt videoen på en USB-nøgle, som ligger hjemme; skolen har intet materiale.",
    "Beviser sikret: 4 skærmbilleder (Snapchat), 1 skærmoptagelse (TikTok), 3 beskeder.",
    "Skærmbillederne viser brugernavn, dato 22.11.2026 og klokkeslæt 21:47.",
    "Politiet har fået materialet direkte fra familien på Ishøj politistation.",
    "Ingen af skolens ansatte har materialet på egne enheder – kontrolleret med ledelsen.",
    "P3 havde billedet på sin telefon; han har slettet det i overværelse af en lærer.",
    "Filnavne ifølge familien: IMG_4471.HEIC, IMG_4472.HEIC og skærmoptagelse_0231.mp4.",
    "SHA-256 af videoen (oplyst af politiet): 3a7bd3e2360a3d29eea436fcfb7e44c735d117c4",
    "Sag hos politiet: journalnr. 0400-73221-00417-26; kontakt via 114.",
    "Sletteanmodning sendt til Snapchat via support.snapchat.com; sagsnr. SC-8841273.",
    "Instagram har fjernet profilen efter indberetning (kvittering 17/11 kl. 08.12).",
    "Vi har henvist til sletdet.dk og til Red Barnets rådgivning på tlf. 35 24 85 85.",
    # Notes and course (document.note)
    "Kort notat: Mandag 17/11 fik kontaktlærer kendskab til sagen. Samme dag samtale med P1 "
    "og mor. Tirsdag samtale med P2 og far. Onsdag møde med ledelsen og TK.",
    "Forløb: 1) Afdækning 2) Vurdering 3) Inddragelse af forældre 4) Underretning 5) TK.",
    "Notat skrevet af kontaktlærer Lone (LHJ) og godkendt af skoleleder 18.11.2026.",
    "Samtalen med P1 varede 40 min. P1 var ked af det men ønskede, at vi gik videre.",
    "P2 erkendte at have delt billedet, men ikke at have lavet profilen.",
    "Aftalt med forældrene, at skolen ikke orienterer klassen før fredag.",
    "Familien ønsker ikke politianmeldelse lige nu; de vil tænke over det til mandag.",
    "Ledelsen er orienteret pr. telefon kl. 15.20; mødet holdes i morgen kl. 8.00.",
    "TK (Brian) foreslår en fælles samtale med begge familier i næste uge.",
    "Sti til notatet i journalen: \\\\ishoj-fil01\\elevsager\\2026\\7b\\sag-0042\\notat.docx",
    "Sti: C:/Users/laerer/Dokumenter/Sager/2026/digitale-kraenkelser/7b-snapchat-gruppe-"
    "deling-af-billeder-efteraar/noter-og-aftaler-med-foraeldre-og-ledelse-og-tk.docx",
    "Dokument i Aula: Skole > Sager > 2026 > 7.b > Digital krænkelse > Notat v3 (endelig).",
    "Referencenummer 0fa3c9e2b7d14c1a9e6f, sagsnr. 2026-0042-A",
    "Journalnummer i ESDH: 28.09.00-A00-123-26. Kopi til skolens sagsmappe.",
    # Cooperation, stop, action plan
    "Samarbejde med SSP-konsulenten og lokalbetjenten; første møde tirsdag kl. 9.",
    "Klassen orienteres fredag af klasselærer og AKT; forældrebrev sendes via Aula.",
    "Oplæg om digital dømmekraft for hele 8. årgang i uge 49 (Red Barnet).",
    "Handlingsplan: fast voksen i frikvarterer, ugentlig samtale med P1, opfølgning 2 uger.",
    "Delt materiale er slettet på de tre elevtelefoner, vi kender til (bekræftet af eleverne).",
    "Politiet har overtaget; skolen holder kontakten til familien og politiet.",
    "Lokalbetjent Jensen holder bekymringssamtale med P2 og forældrene på torsdag.",
    "SSP-lærer inddrages; P2 tilbydes forløb i ungdomsklubben.",
    "Udmelding til forældre i 7.b og 7.c: generel orientering uden navne eller detaljer.",
    "Foranstaltninger: P2 skifter valgfagshold; forskudte pauser i to uger.",
    # Reports, insurance, underretning
    "Familien har anmeldt på politi.dk/anmeld under fanen seksualforbrydelser den 18/11.",
    "Politianmeldelse støttet; far ringede 114 og fik et journalnummer.",
    "Vejledt om egen forsikring (psykologhjælp); familien undersøger det med Tryg.",
    "Underretning sendt 18.11.2026 kl. 10:42 via kommunens digitale formular.",
    "Kvittering for underretning modtaget 20.11.2026 (ref. UND-2026-11-0199).",
    "Kommunen har ikke kvitteret endnu; rykket pr. mail til underretning@ishoj.dk.",
    "Underretningen gælder både P1 og P2, da begge kan have brug for støtte.",
    # Help, surroundings, same school
    "TK kontaktet om hjælp: samtaleforløb for P1 hos kommunens psykolog, opstart uge 48.",
    "P2 tilbydes samtaler hos PPR og en mentor i klubben.",
    "Sundhedsplejersken er orienteret og følger P1 en gang om ugen.",
    "Klassekammeraterne er orienteret i generelle vendinger; ingen navne nævnt.",
    "P1 og P2 går på samme skole: forskudt skemastart og fast voksen i pauserne.",
    "Forældrerådet er ikke orienteret – vurderet unødvendigt efter aftale med familien.",
    # Press (communications)
    "Lokalavisen ringede kl. 13.05 og spurgte til skolens håndtering af delte billeder.",
    "TV2 Lorry spørger, om skolen har en handleplan for digitale krænkelser.",
    "Svar til journalisten: Vi kommenterer ikke enkeltsager, men henviser til handlekortet.",
    "Pressehenvendelse fra Ishøj Avis via mail til kommunikation@ishoj.dk kl. 09:58.",
    "Kommunikation: ingen udtalelse om eleverne; generel udtalelse om kommunens indsats.",
    "DR P4 ønsker et interview med skolelederen om forebyggelse – tilbudt i uge 50.",
    # Evaluation and follow-up
    "Evaluering: det fungerede at TK kom hurtigt ind; det fungerede ikke, at billedet lå "
    "online i et døgn. Læringspunkt: vejled om SletDet allerede ved første samtale.",
    "Opfølgning efter 2 uger: ingen rygter, P1 trives bedre, klassen er rolig.",
    "Opfølgning efter 2 måneder: sagen afsluttes; familien er tilfreds med forløbet.",
    "Der florerer stadig rygter på årgangen – ny samtale med klassen i næste uge.",
    "P1 har fået hjælp hos psykologen (6 samtaler); P2 er i gang med mentorforløb.",
    # Contacts and links
    "Kontakt: TK på 43 57 75 55 eller TK@ishoj.dk; konsulent Brian Bergmann 24 98 36 54.",
    "Link: https://www.redbarnet.dk/sletdet/ og https://politi.dk/anmeld?kategori=seksual",
    "Se https://www.borger.dk/familie-og-boern/udsatte-boern/underretning for vejledning.",
    "Vejledning: https://emu.dk/grundskole/digital-dannelse/digitale-kraenkelser?utm=aula",
    "Mødelink: https://teams.microsoft.com/l/meetup-join/19%3ameeting_NzA1ZDk3YmUtYjc2"
    "Zi00ZTQ3LWE4NTgtODM2YjIzOTE5MTEz%40thread.v2/0?context=%7b%22Tid%22%3a%22f0e1%22%7d",
    "Forældre kan ringe til Børns Vilkår (forældretelefonen) på 35 55 55 57.",
    "Ring 114 (politiet) eller 1-1-2 ved akut fare.",
    # Headings, lists, short things
    "OK",
    "Nej",
    "Se notat.",
    "Ingen bemærkninger.",
    "Aftalt.",
    "P1, P2 og P3 er hørt.",
    "Æ, ø og å virker: Ærøskøbing, Søborg, Åbenrå. " * 6,
    "- Samtale med P1\n- Samtale med P2\n- Møde med ledelsen\n- Kontakt til TK\n- Notat",
    "Dato\tHændelse\n17/11\tSamtale\n18/11\tUnderretning\n19/11\tTK-møde\n20/11\tKvittering",
    "> Citat fra mail fra mor: 'Vi vil gerne have et møde hurtigst muligt.'\n> Mvh.",
    "Tjekliste:\n[x] afdækket\n[x] vurderet\n[ ] forældre inddraget\n[ ] TK kontaktet",
    "Klasser: 7.a, 7.b, 7.c, 8.a, 8.b, 9.a, 9.b, 10.x; årgange 7-10.",
    "Lokaler: A1.12, A1.14, B2.03, Gymnastiksal 2, Musiklokale, SFO-bygningen.",
    "Fremmødetider: 8.00-14.00 (man-tors), 8.00-12.30 (fre).",
    "Version: ishoj-2026.1; kort: handlekort digitale krænkelser (rev. 3).",
    "Ugeskema: man 1.-2. lektion dansk, 3. matematik; tirs 1. engelsk, 2.-3. idræt.",
    "Telefonnumre: 43 57 75 55, 24 98 36 54, 35 24 85 85, +45 70 20 20 20.",
    "Sagen er lukket ned igen – se evalueringsnotatet fra 12/1 (v. skoleleder).",
    "Mail fra far kl. 06.14: 'P1 vil ikke i skole i dag.' Besvaret kl. 07.30.",
    "Aula-besked til forældregruppen 7.b sendt 19/11 kl. 16.00 (skabelon 'Orientering').",
    "Bevisliste (metadata): skærmbillede x4, video x1, besked x3 — alt opbevares af familien.",
    "Uge 47-49: ekstra voksenopsyn i frikvarteret ved cykelskuret og i kantinen.",
    "Samtaler: P1 (17/11, 40 min), P2 (18/11, 25 min), P3 (18/11, 10 min).",
    "Bemærk: P2's forældre taler bedst engelsk; tolk bestilt til mødet 24/11.",
    "Oversigt:\n  Platform: Snapchat\n  Gruppe: '7.b hygge'\n  Medlemmer: ca. 24\n  Dato: 14/11",
    "Ordlyd af truslen (anonymiseret): 'Hvis du siger noget, deler jeg det hele'.",
    "AI-genereret billede (deepfake) lavet med en app; appens navn er ikke oplyst.",
    "Falsk profil: @p1_officiel (TikTok), 143 følgere, oprettet 2026-11-10.",
    "Sextortion: krav om 500 kr. via MobilePay til 12 34 56 78 – nummeret er givet til politiet.",
]

# Fields a text is made of in a real case, to write many more texts the way staff do.
_PLATFORMS = ["Snapchat", "Instagram", "TikTok", "Discord", "Messenger", "WhatsApp", "BeReal"]
_CLASSES = ["6.a", "6.b", "7.a", "7.b", "7.c", "8.a", "8.b", "9.a", "9.c", "10.x"]
_TIMES = ["07.55", "08:10", "10.15", "12:30", "14.45", "16:20", "19.05", "21:47", "23.59"]
_DATES = ["3/11", "14.11.2026", "2026-11-17", "18/11-26", "d. 20. november", "mandag 24/11"]
_USERS = [
    "@anon_konto_2026",
    "xX_mørke_engel_Xx",
    "p1.fake.profil",
    "user_83471",
    "sn4p_g1rl_07",
    "@8b.konfessioner",
    "ukendt_afsender_99",
]
_PATHS = [
    "Aula > Sager > 2026 > 7.b",
    "\\\\fil01\\elevsager\\2026\\sag-0042\\notat.docx",
    "/home/laerer/Dokumenter/digitale-kraenkelser/2026-11-17-samtale-referat-v2.pdf",
    "Teams > 7.b Team > Filer > Trivsel > Handleplan_digital_kraenkelse_2026-11-18.docx",
]
_HASHES = [
    "3a7bd3e2360a3d29eea436fcfb7e44c735d117c4",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "d41d8cd98f00b204e9800998ecf8427e",
]
_PHONES = ["43 57 75 55", "24 98 36 54", "+45 22 33 44 55", "114", "35 24 85 85", "70 20 20 20"]
_LINKS = [
    "https://sletdet.redbarnet.dk/",
    "https://politi.dk/anmeld",
    "https://www.tiktok.com/@p1_officiel/video/7301234567890123456",
    "https://www.instagram.com/p/C0aBcD1eFgH/?igsh=MTc4MmM5NTY4Yw==",
    "https://vm.tiktok.com/ZMhKq3Lp9/",
    "https://www.snapchat.com/add/anon_konto_2026?share_id=Q0NBMkI0RjQ&locale=da_DK",
]
_TEMPLATES = [
    "{date} kl. {time}: P1 fik en besked fra {user} på {platform} ({cls}).",
    "Skærmbillede fra {platform} af {user}, taget {date} {time}, opbevares af familien.",
    "Klasse {cls}: samtale med klassen {date}; ingen deling af {platform}-opslag siden.",
    "Kontakt forældrene på {phone} efter {time}; se også {link}.",
    "Notat gemt i {path} ({date}).",
    "Politiet har oplyst hash {hash} for den video, de har fået af familien.",
    "Profilen {user} på {platform} er indberettet {date}; link: {link}",
    "Opfølgning {date} kl. {time} med P1 og mor; næste møde i {path}.",
    "Filer hos politiet (hashes oplyst): {hash}, {hash2}.",
    "Mødet flyttet til {date} kl. {time}; ring {phone} ved afbud.",
]


def _templated(count: int) -> list[str]:
    rng = random.Random(14)
    texts: list[str] = []
    while len(texts) < count:
        hashes = rng.sample(_HASHES, 2)
        texts.append(
            rng.choice(_TEMPLATES).format(
                date=rng.choice(_DATES),
                time=rng.choice(_TIMES),
                user=rng.choice(_USERS),
                platform=rng.choice(_PLATFORMS),
                cls=rng.choice(_CLASSES),
                phone=rng.choice(_PHONES),
                link=rng.choice(_LINKS),
                path=rng.choice(_PATHS),
                hash=hashes[0],
                hash2=hashes[1],
            )
        )
    return texts


def _long_notes() -> list[str]:
    """Whole notes of about 2,000 characters, as a case owner writes the course of a case."""
    rng = random.Random(2000)
    notes = []
    for n in range(8):
        note = f"Notat {n + 1} om forløbet.\n"
        while len(note) < 2000:
            note += "\n" + rng.choice(WRITTEN[:60])
        notes.append(note[:2000])
    return notes


DANISH_TEXTS: list[str] = WRITTEN + _templated(100) + _long_notes()

# ----------------------------------------------------------------------- real media files


def _noise_image(mode: str, size: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    channels = {"RGB": 3, "L": 1, "P": 1}[mode]
    return Image.frombytes(mode, (size, size), rng.randbytes(size * size * channels))


def _pillow(fmt: str, mode: str, size: int, seed: int, **options: object) -> bytes:
    out = io.BytesIO()
    image = _noise_image(mode, size, seed)
    if mode == "P":
        image.putpalette(random.Random(seed + 1).randbytes(768))
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _iso_bmff(brand: bytes, compatible: list[bytes], seed: int, size: int) -> bytes:
    """An ISO base media file (MP4, HEIC): ftyp, a minimal moov/meta, and media data."""
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 0) + b"".join(compatible))
    if brand == b"heic":
        hdlr = _box(b"hdlr", bytes(8) + b"pict" + bytes(12) + b"\x00")
        header = _box(b"meta", bytes(4) + hdlr)
    else:
        mvhd = _box(b"mvhd", bytes(4) + bytes(8) + struct.pack(">II", 1000, 2000) + bytes(80))
        header = _box(b"moov", mvhd)
    return ftyp + header + _box(b"mdat", random.Random(seed).randbytes(size))


def _zip(seed: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("IMG_4471.png", _pillow("PNG", "RGB", 12, seed))
        archive.writestr("noter.txt", "Ingen noter.")
    return out.getvalue()


def media_files() -> dict[str, bytes]:
    """Real files of the kinds found in these cases, each at least 300 bytes."""
    files = {
        "jpeg": _pillow("JPEG", "RGB", 24, 1, quality=70),
        "jpeg-grey": _pillow("JPEG", "L", 32, 2, quality=60),
        "png": _pillow("PNG", "RGB", 14, 3),
        "gif": _pillow("GIF", "P", 20, 4),
        "zip": _zip(5),
        "mp4": _iso_bmff(b"isom", [b"isom", b"iso2", b"avc1", b"mp41"], 6, 600),
        "heic": _iso_bmff(b"heic", [b"mif1", b"heic"], 7, 500),
    }
    assert all(len(data) >= 300 for data in files.values()), {k: len(v) for k, v in files.items()}
    return files


# ------------------------------------------------------------------------ written down


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _every(text: str, n: int, glue: str) -> str:
    return glue.join(text[i : i + n] for i in range(0, len(text), n))


def xxd(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}: {groups:<39}  {text}")
    return "\n".join(lines)


def hexdump_c(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {left:<23}  {right:<23}  |{text}|")
    lines.append(f"{len(data):08x}")
    return "\n".join(lines)


def od_x1(data: bytes) -> str:
    lines = [
        f"{offset:07o} " + " ".join(f"{b:02x}" for b in data[offset : offset + 16])
        for offset in range(0, len(data), 16)
    ]
    lines.append(f"{len(data):07o}")
    return "\n".join(lines)


ENCODERS: dict[str, Callable[[bytes], str]] = {
    "base64": b64,
    "base64 split by spaces every 76": lambda d: _every(b64(d), 76, " "),
    "base64 split by spaces every 4": lambda d: _every(b64(d), 4, " "),
    "base64 split by tabs": lambda d: _every(b64(d), 16, "\t"),
    "base64 in indented lines": lambda d: "    " + _every(b64(d), 64, "\n    "),
    "base64 with blank lines": lambda d: _every(b64(d), 64, "\n\n"),
    "base64 split by ', '": lambda d: _every(b64(d), 20, ", "),
    "base64 split by '. '": lambda d: _every(b64(d), 20, ". "),
    "base64 with non-breaking spaces": lambda d: _every(b64(d), 8, "\u00a0"),
    "base64 with zero-width spaces": lambda d: _every(b64(d), 3, "\u200b"),
    "base64 with soft hyphens": lambda d: _every(b64(d), 5, "\u00ad"),
    "base64 quoted as mail": lambda d: "> " + _every(b64(d), 60, "\n> "),
    "base64 twice mail-quoted": lambda d: "> > " + _every(b64(d), 60, "\n> > "),
    "base64 with literal \\n": lambda d: _every(b64(d), 64, "\\n"),
    "base64 reversed": lambda d: b64(d)[::-1],
    "base64 in a sentence": lambda d: f"Her er billedet som tekst {b64(d)} venlig hilsen",
    "base64url": lambda d: base64.urlsafe_b64encode(d).decode().rstrip("="),
    "base32": lambda d: base64.b32encode(d).decode(),
    "base32 lower case, spaced": lambda d: _every(base64.b32encode(d).decode().lower(), 8, " "),
    "ascii85": lambda d: base64.a85encode(d).decode(),
    "ascii85 (Adobe, wrapped)": lambda d: base64.a85encode(d, adobe=True, wrapcol=72).decode(),
    "hex": lambda d: d.hex(),
    "hex split by spaces": lambda d: d.hex(" "),
    "hex in 4-digit groups": lambda d: d.hex(" ", 2),
    "\\x escapes": lambda d: "".join(f"\\x{b:02x}" for b in d),
    "0x bytes, comma separated": lambda d: ", ".join(f"0x{b:02x}" for b in d),
    "xxd": xxd,
    "hexdump -C": hexdump_c,
    "od -t x1": od_x1,
    "percent-encoded": lambda d: urllib.parse.quote_from_bytes(d),
    "double URL-encoded": lambda d: urllib.parse.quote(urllib.parse.quote_from_bytes(d)),
    "URL-encoded base64": lambda d: urllib.parse.quote(b64(d), safe=""),
    "double URL-encoded base64": lambda d: urllib.parse.quote(
        urllib.parse.quote(b64(d), safe=""), safe=""
    ),
    "data URI": lambda d: f"data:image/jpeg;base64,{b64(d)}",
    "data URI with spaces": lambda d: f"data : image/png ; base64 , {b64(d)}",
    "bytes as latin-1 text": lambda d: d.decode("latin-1"),
    "HTML entities": lambda d: "".join(f"&#{ord(c)};" for c in b64(d)),
}


def encodings() -> list[tuple[str, str]]:
    """(label, text) for every file in every form."""
    return [
        (f"{name}: {form}", encode(data))
        for name, data in media_files().items()
        for form, encode in ENCODERS.items()
    ]


# ------------------------------------------------------- for hypothesis: any media, any way

# Real file starts (of the files above): the bytes a file begins with.
STARTS = [data[:24] for data in media_files().values()]
PROPERTY_ENCODERS: dict[str, Callable[[bytes], str]] = {
    "base64": lambda d: base64.b64encode(d).decode(),
    "base64url": lambda d: base64.urlsafe_b64encode(d).decode().rstrip("="),
    "base64 reversed": lambda d: base64.b64encode(d).decode()[::-1],
    "base32": lambda d: base64.b32encode(d).decode(),
    "base32 lower case": lambda d: base64.b32encode(d).decode().lower(),
    "ascii85": lambda d: base64.a85encode(d).decode(),
    "hex": lambda d: d.hex(),
    "HEX": lambda d: d.hex().upper(),
    "percent-encoded": lambda d: urllib.parse.quote_from_bytes(d),
    "double percent-encoded": lambda d: urllib.parse.quote(urllib.parse.quote_from_bytes(d)),
}
# Whitespace of every kind, invisible characters, and mail quoting at the start of a line.
INSERTS = [
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\n\n",
    "\u00a0",
    "\u2009",
    "\u3000",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\n> ",
    "\n> > ",
    "\n>",
]


@st.composite
def material(draw: st.DrawFn, most: int = 1200) -> str:
    """Media bytes of at least 300 (at most `most`), encoded by any supported encoder, with any
    whitespace, invisible characters or quoting inserted anywhere."""
    start = draw(st.sampled_from(STARTS))
    body = draw(st.binary(min_size=300 - len(start), max_size=most - len(start)))
    data = start + body
    text = PROPERTY_ENCODERS[draw(st.sampled_from(sorted(PROPERTY_ENCODERS)))](data)
    for _ in range(draw(st.integers(min_value=0, max_value=40))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:at] + draw(st.sampled_from(INSERTS)) + text[at:]
    return text


# A message's text holds at most 2,000 characters (a longer one is refused for its length):
# 330 bytes fit in every encoding, double percent-encoding and insertions included.
FITS = 330
