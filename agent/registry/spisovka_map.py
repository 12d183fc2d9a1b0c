"""Spisovka 3's rows to registry contract rows: pure mapping, no I/O.

What each Spisovka value means is taken from Spisovka's own code (public
repository `l-ra/spisovka3`):

- spis `stav` (`app/models/entities/Spis.php`): `OTEVREN = 1`, `UZAVREN = 0`,
  `PREDAN_DO_SPISOVNY = 2`, `VE_SPISOVNE = 3`. A spis is closed (`uzavreny`)
  in 0, 2 and 3: `Spis::close()` sets 0, and only a closed spis can be handed
  to the spisovna (`transferToSpisovna` requires `UZAVREN`). Only `typ = 'S'`
  rows are spisy (`'SP'` is the root "SPISY", `'F'` a folder).
- dokument `stav` (`app/models/entities/DocumentStates.php`): 0 is a draft not
  yet created (never sent), 1 new, 3 being settled, 4 and 5 settled (vyřízen),
  6-11 spisovna, skartace, loans. `dokument_typ.smer` 0 is received
  (doručený), 1 own (vlastní) (`InstallModule/mysql.sql`).
- `dokument_to_subjekt.typ`: `O` odesílatel, `A` adresát, `AO` both.
- `file.typ`: 1 main, 2 enclosure, 3 signature, 4 meta, 5 source.
- log types (`app/models/LogModel.php`): 41 spis created, 46 opened, 47
  closed, 11 dokument created, 17 settled, 44 added to a spis, ...
- `zpusob_doruceni` 5 is "v listinné podobě": a received paper dokument, whose
  files are therefore scans (digitalizát).
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from agent.registry.contract import RawRow

__all__ = [
    "dokument_row",
    "event_row",
    "komponenta_rows",
    "person_name",
    "spis_row",
    "stored_path",
    "subjekt_rows",
]

SPIS_OPEN: Final = 1
"""Spis.php `OTEVREN`; every other state (0, 2, 3) is a closed spis."""
PAPER_DELIVERY: Final = 5
"""`zpusob_doruceni` 5, "v listinné podobě"."""

_FILE_KIND = {1: "hlavní dokument", 2: "příloha", 3: "podpis", 4: "metadata", 5: "zdrojový soubor"}
# Spisovka's ways of vyřízení (table zpusob_vyrizeni) to NSESSS tZpusobVyrizeni.
_VYRIZENI = {
    "vyřízení prvopisem": "vyřízení dokumentem",
    "vyřízení dokumentem": "vyřízení dokumentem",
    "postoupení": "postoupení",
    "vzetí na vědomí": "vzetí na vědomí",
    "úřední záznam": "vyřízení záznamem na dokumentu",
    "jiný způsob": "jiný způsob",
}
# LogModel.php codes to NSESSS event names where one fits; the rest keep a
# short name of Spisovka's own.
_EVENTS = {
    11: "DokumentZalozeni",
    12: "DokumentUprava",
    14: "DokumentPredani",
    15: "DokumentPrevzeti",
    17: "DokumentVyrizeni",
    18: "DokumentPrijetiEpodatelnou",
    19: "DokumentOdeslani",
    31: "SouborZalozeni",
    32: "SouborUprava",
    33: "SouborZruseni",
    34: "SouborVlozeni",
    35: "SouborVyjmuti",
    41: "SpisZalozeni",
    42: "SpisUprava",
    44: "DokumentVlozeniDoSpisu",
    45: "DokumentVyjmutiZeSpisu",
    46: "SpisOtevreni",
    47: "SpisUzavreni",
    49: "SpisPredani",
    50: "SpisPrevzeti",
    105: "DokumentPredaniDoSpisovny",
    106: "DokumentUlozeniVeSpisovne",
}
_EVENT_TEXT = {
    11: "Vytvořen nový dokument",
    12: "Dokument změněn",
    17: "Dokument vyřízen",
    19: "Dokument odeslán",
    41: "Vytvořen nový spis",
    42: "Spis změněn",
    44: "Dokument připojen ke spisu",
    45: "Dokument odebrán ze spisu",
    46: "Spis otevřen",
    47: "Spis uzavřen",
}
LOGGED_TYPES: Final = tuple(sorted(_EVENTS))
"""Log types read as events (access logs, loans and errors are left out)."""


def _join(*parts: Any) -> str:
    return " ".join(str(p).strip() for p in parts if p not in (None, "") and str(p).strip())


def person_name(row: RawRow, prefix: str = "") -> str | None:
    """`titul_pred jmeno prijmeni, titul_za` of an osoba or subjekt, or None."""
    name = _join(
        row.get(f"{prefix}titul_pred"), row.get(f"{prefix}jmeno"), row.get(f"{prefix}prijmeni")
    )
    if not name:
        return None
    after = row.get(f"{prefix}titul_za")
    return f"{name}, {after}" if after else name


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def spis_row(raw: RawRow, closed: datetime | None) -> RawRow:
    """A spis row of the contract from Spisovka's spis joined with its znak, unit and creator.

    Args:
        raw: The query's row.
        closed: When its last closing was logged (stands in for a missing datum_uzavreni).
    """
    stav = int(raw["stav"])
    is_open = stav == SPIS_OPEN
    znak = raw.get("skartacni_znak") or "A"
    lhuta = raw.get("skartacni_lhuta")
    return {
        "id": str(raw["id"]),
        # Spisovka's "název spisu" is what the office uses as the spisová značka;
        # its "popis" is the věc.
        "spisova_znacka": raw["nazev"],
        "nazev": raw.get("popis") or raw["nazev"],
        "spisovy_znak": raw.get("sz_znak") or "",
        "skartacni_znak": znak,
        "skartacni_lhuta": lhuta,
        "datum_otevreni": _day(raw.get("datum_otevreni")) or _day(raw.get("date_created")),
        "datum_uzavreni": None if is_open else (_day(raw.get("datum_uzavreni")) or _day(closed)),
        "stav": "otevreny" if is_open else "uzavreny",
        "zpracovatel": person_name(raw) or "",
        "zpracovatel_utvar": raw.get("oj_nazev"),
        "zpracovatel_pozice": raw.get("pozice"),
        "vecna_skupina_nazev": raw.get("sz_popis"),
        "skartacni_rezim_identifikator": None if lhuta is None else f"{znak}/{lhuta}",
        "spousteci_udalost": raw.get("su_nazev"),
    }


def _vyrizeni(name: Any) -> tuple[str | None, str | None]:
    """NSESSS způsob and, for one NSESSS does not know, Spisovka's name as the reason."""
    if not name:
        return None, None
    known = _VYRIZENI.get(str(name).strip().lower())
    return (known, None) if known else ("jiný způsob", str(name))


def dokument_row(raw: RawRow, subjekty: list[RawRow]) -> RawRow:
    """A dokument row of the contract (with `subjekty`) from Spisovka's dokument and its links."""
    doruceny = int(raw.get("smer") or 0) == 0
    owner = person_name(raw)
    sender = next((s["nazev"] for s in subjekty if s["role"] == "odesilatel"), None)
    zpusob, oduvodneni = _vyrizeni(raw.get("zv_nazev"))
    listy, prilohy = raw.get("pocet_listu"), raw.get("pocet_priloh")
    mnozstvi = None
    if listy or prilohy:
        mnozstvi = f"listy: {listy or 0}, přílohy: {prilohy or 0}"
    ulozeni = raw.get("ulozeni_dokumentu")
    return {
        "id": str(raw["id"]),
        "spis_id": None if raw.get("spis_id") is None else str(raw["spis_id"]),
        "cislo_jednaci": raw.get("cislo_jednaci") or raw.get("jid") or "",
        "nazev": raw.get("nazev") or "",
        "puvod": "doruceny" if doruceny else "vlastni",
        "datum": _day(raw.get("datum_vzniku")) or _day(raw.get("date_created")),
        "odesilatel_autor": (sender if doruceny else owner) or owner or sender or "",
        "poradi": int(raw.get("poradi") or 0),
        "zpracovatel": owner,
        "zpracovatel_utvar": raw.get("oj_nazev"),
        "zpracovatel_pozice": raw.get("pozice"),
        "odesilatel_cislo_jednaci": raw.get("cislo_jednaci_odesilatele"),
        "datum_odeslani": None if doruceny else _day(raw.get("datum_odeslani")),
        "vyrizeni_zpusob": zpusob,
        "vyrizeni_datum": _day(raw.get("datum_vyrizeni")),
        "vyrizeni_obsah": raw.get("poznamka_vyrizeni"),
        "vyrizeni_oduvodneni": oduvodneni,
        "analogovy": (int(raw.get("zpusob_doruceni_id") or 0) == PAPER_DELIVERY)
        if doruceny and raw.get("zpusob_doruceni_id") is not None
        else None,
        "mnozstvi": mnozstvi,
        # NSESSS allows 100 characters for the storage unit; Spisovka's is free text.
        "ukladaci_jednotka": None if not ulozeni else str(ulozeni)[:100],
        "subjekty": subjekty,
    }


def _subject_type(kind: Any, has_name: bool) -> str:
    kind = str(kind or "").upper()
    if kind.startswith("OVM"):
        return "ovm"
    if kind.startswith("PO"):
        return "pravnicka_osoba"
    if kind.startswith(("FO", "PFO")):
        return "fyzicka_osoba"
    return "pravnicka_osoba" if has_name else "fyzicka_osoba"


def _address(raw: RawRow) -> str | None:
    number = "/".join(str(n) for n in (raw.get("adresa_cp"), raw.get("adresa_co")) if n)
    street = _join(raw.get("adresa_ulice"), number)
    town = _join(raw.get("adresa_psc"), raw.get("adresa_mesto"))
    return ", ".join(p for p in (street, town, raw.get("adresa_stat") or "") if p) or None


def subjekt_rows(raw: RawRow, *, doruceny: bool, cislo_odesilatele: Any) -> list[RawRow]:
    """Contract subjekt rows for one dokument_to_subjekt link (two for `AO`)."""
    link = str(raw.get("vazba") or "AO").upper()
    roles = {"O": ["odesilatel"], "A": ["adresat"]}.get(
        link, ["odesilatel" if doruceny else "adresat"]
    )
    organisation = raw.get("nazev_subjektu")
    person = person_name(raw)
    return [
        {
            "id": f"{raw['dokument_id']}-{raw['id']}-{role}",
            "dokument_id": str(raw["dokument_id"]),
            "role": role,
            "typ": _subject_type(raw.get("type"), bool(organisation)),
            "nazev": organisation or person or "",
            "osoba": person if organisation else None,
            "ico": raw.get("ic") or None,
            "postovni_adresa": _address(raw),
            "datova_schranka": raw.get("id_isds") or None,
            "email": raw.get("email") or None,
            "cislo_jednaci": cislo_odesilatele if role == "odesilatel" else None,
            "datum_odeslani": _day(raw.get("datum_odeslani")) if role == "adresat" else None,
        }
        for role in roles
    ]


def stored_path(path: Any, files_root: str | None) -> str:
    """A file's path relative to the files folder: Spisovka may store it absolute.

    Args:
        path: `file.storage_path` / `real_path` as Spisovka stored it.
        files_root: The `files_folder`'s path on the agent's disk, if known.
    """
    text = str(path or "").replace("\\", "/")
    if files_root:
        root = files_root.replace("\\", "/").rstrip("/") + "/"
        text = text.removeprefix(root)
    return text.lstrip("/")


def komponenta_rows(
    files: list[RawRow], *, scans: bool, folder_prefix: str, files_root: str | None = None
) -> list[RawRow]:
    """Contract komponenta rows for one dokument's files: the main file first (poradi 1).

    Spisovka keeps one version of each file (its history table is gone since
    revision 1630), so `verze` is 1.
    """
    ordered = sorted(files, key=lambda f: (int(f.get("typ") or 2) != 1, int(f["id"])))
    rows = []
    for poradi, raw in enumerate(ordered, start=1):
        path = stored_path(raw.get("cesta"), files_root)
        rows.append(
            {
                "id": str(raw["id"]),
                "dokument_id": str(raw["dokument_id"]),
                "poradi": poradi,
                "verze": 1,
                "druh": _FILE_KIND.get(int(raw.get("typ") or 2), "příloha"),
                "forma_uchovani": "digitalizát" if scans else "originál",
                "soubor": unicodedata.normalize("NFC", folder_prefix + path),
                "nazev_souboru": raw.get("real_name") or raw.get("nazev"),
                "mime_type": raw.get("mime_type"),
                "velikost": raw.get("size"),
                "vytvoreno": raw.get("date_created"),
            }
        )
    return rows


def event_row(raw: RawRow, table: str) -> RawRow:
    """A contract udalost row from a log_spis / log_dokument row."""
    code = int(raw["typ"])
    return {
        "tabulka": table,
        "zaznam_id": str(raw["zaznam_id"]),
        "kdy": raw["date"],
        "typ": _EVENTS.get(code, f"spisovka:{code}"),
        "kdo": person_name(raw),
        "popis": raw.get("poznamka") or _EVENT_TEXT.get(code),
    }
