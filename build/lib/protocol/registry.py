"""Registry family: whole snapshots of spis, dokument and komponenta records.

Each snapshot carries `source_version`, the registry change-log `seq` it was
read at; the hub never lets an older snapshot overwrite a newer one.

The archival fields (NSESSS names in brackets) were added in the same
schema version 1, all optional with defaults, so an older agent's snapshot
still decodes and a newer one sent to an older hub loses nothing it knew:

- spis: `zpracovatel_utvar` [OrganizacniUtvar], `zpracovatel_pozice`
  [PracovniPozice]; vyřízení `vyrizeni_zpusob` [Vyrizeni/Zpusob],
  `vyrizeni_datum` [Vyrizeni/Datum], `vyrizeni_obsah` [ObsahVyrizeni],
  `vyrizeni_oduvodneni` [Oduvodneni]; retention `spisovy_plan_identifikator`,
  `spisovy_plan_nazev`, `spisovy_plan_platnost_od`, `spisovy_plan_platnost_do`
  [SpisovyPlan], `vecna_skupina_nazev` [VecnaSkupina/Nazev],
  `skartacni_rezim_identifikator`, `skartacni_rezim_nazev` [SkartacniRezim],
  `spousteci_udalost` [SpousteciUdalost], `spousteci_udalost_datum` (its
  date; the year is RokSpousteciUdalosti); `ukladaci_jednotka`; `udalosti`.
- dokument: `zpracovatel`, `zpracovatel_utvar`, `zpracovatel_pozice` (the
  clerk; Autor of an own dokument), `odesilatel_cislo_jednaci`
  [OdesilatelovoEvidencniCislo], `datum_odeslani` [DatumOdeslani], vyřízení as for spis, `analogovy`
  [AnalogovyDokument], `mnozstvi` [DoruceneMnozstvi / VytvoreneMnozstvi],
  `odeslane_mnozstvi`, `ukladaci_jednotka` [UkladaciJednotka], `subjekty`
  (odesílatel of a doručený dokument, adresáti of a vlastní one), `udalosti`.
- komponenta: `nazev_souboru`, `mime_type`, `velikost`, `vytvoreno`,
  `udalosti`; a scan is `forma_uchovani = "digitalizát"`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from protocol.base import Message, NonNegative, Text

__all__ = [
    "MAX_SUBJEKTY",
    "MAX_UDALOSTI",
    "DokumentSnapshot",
    "KomponentaSnapshot",
    "RecordDeleted",
    "SpisClosed",
    "SpisReopened",
    "SpisSnapshot",
    "Subjekt",
    "Udalost",
]

RecordId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Znacka = Annotated[str, msgspec.Meta(max_length=50)]
SpisStav = Literal["otevreny", "vyrizeny", "uzavreny"]
Short = Annotated[str, msgspec.Meta(max_length=255)]
# NSESSS tUkladaciJednotka is at most 100 characters.
UkladaciJednotka = Annotated[str, msgspec.Meta(max_length=100)]

MAX_SUBJEKTY = 1000
"""Subjects of one dokument at most (a circular letter may have hundreds)."""
MAX_UDALOSTI = 500
"""Events of one record at most; an agent sends the newest ones."""


class Subjekt(msgspec.Struct, frozen=True, kw_only=True):
    """An external subject: the odesílatel of a doručený dokument or an adresát of a vlastní one.

    Attributes:
        role: `odesilatel` (sender) or `adresat` (recipient).
        typ: `fyzicka_osoba` (natural person), `pravnicka_osoba` (legal
            person) or `ovm` (orgán veřejné moci, public authority).
        nazev: Name of the person or organisation [NazevOrganizace /
            NazevFyzickeOsoby].
        osoba: A natural person acting for the organisation, if recorded.
        ico: IČO where the subject has one (zdroj "IČ" in a SIP).
        postovni_adresa: Postal address, one line [PostovniAdresa / SidloOrganizace].
        datova_schranka: Data box id [ElektronickyKontakt].
        email: E-mail address [ElektronickyKontakt].
        cislo_jednaci: The sender's own reference number [OdesilatelovoEvidencniCislo].
        datum_odeslani: When the dokument was dispatched to this adresát.
    """

    role: Literal["odesilatel", "adresat"]
    typ: Literal["fyzicka_osoba", "pravnicka_osoba", "ovm"]
    nazev: Text
    osoba: Text | None = None
    ico: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    postovni_adresa: Text | None = None
    datova_schranka: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    email: Short | None = None
    cislo_jednaci: Znacka | None = None
    datum_odeslani: date | None = None


class Udalost(msgspec.Struct, frozen=True, kw_only=True):
    """One real event of a record from the product's own log: when, who, what.

    Attributes:
        kdy: When it happened, as the product recorded it.
        kdo: Who did it (the user's name), if recorded.
        typ: What happened: an NSESSS event name where one fits
            (`SpisZalozeni`, `SpisUzavreni`, `DokumentVlozeniDoSpisu`, ...),
            otherwise the product's own short name.
        popis: The product's description of the event.
    """

    kdy: datetime
    typ: Short
    kdo: Text | None = None
    popis: Text | None = None


Udalosti = Annotated[tuple[Udalost, ...], msgspec.Meta(max_length=MAX_UDALOSTI)]


class SpisSnapshot(Message, frozen=True, kw_only=True, tag="spis"):
    """A spis (case file) as the registry holds it (fields: see the module docstring)."""

    spis_id: RecordId
    source_version: NonNegative
    spisova_znacka: Znacka
    nazev: Text
    spisovy_znak: Annotated[str, msgspec.Meta(max_length=50)]
    skartacni_znak: Literal["A", "S", "V"]
    skartacni_lhuta: Annotated[int, msgspec.Meta(ge=0, le=999)]
    datum_otevreni: date
    datum_uzavreni: date | None = None
    stav: SpisStav
    zpracovatel: Text
    zpracovatel_utvar: Text | None = None
    zpracovatel_pozice: Text | None = None
    vyrizeni_zpusob: Short | None = None
    vyrizeni_datum: date | None = None
    vyrizeni_obsah: Text | None = None
    vyrizeni_oduvodneni: Text | None = None
    spisovy_plan_identifikator: Short | None = None
    spisovy_plan_nazev: Text | None = None
    spisovy_plan_platnost_od: date | None = None
    spisovy_plan_platnost_do: date | None = None
    vecna_skupina_nazev: Text | None = None
    skartacni_rezim_identifikator: Short | None = None
    skartacni_rezim_nazev: Text | None = None
    spousteci_udalost: Text | None = None
    spousteci_udalost_datum: date | None = None
    ukladaci_jednotka: UkladaciJednotka | None = None
    udalosti: Udalosti = ()


class DokumentSnapshot(Message, frozen=True, kw_only=True, tag="dokument"):
    """A dokument of a spis (fields: see the module docstring)."""

    dokument_id: RecordId
    source_version: NonNegative
    spis_id: RecordId | None
    cislo_jednaci: Znacka
    nazev: Text
    puvod: Literal["doruceny", "vlastni"]
    datum: date
    odesilatel_autor: Text
    poradi: NonNegative
    zpracovatel: Text | None = None
    zpracovatel_utvar: Text | None = None
    zpracovatel_pozice: Text | None = None
    odesilatel_cislo_jednaci: Znacka | None = None
    datum_odeslani: date | None = None
    vyrizeni_zpusob: Short | None = None
    vyrizeni_datum: date | None = None
    vyrizeni_obsah: Text | None = None
    vyrizeni_oduvodneni: Text | None = None
    analogovy: bool | None = None
    mnozstvi: Short | None = None
    odeslane_mnozstvi: Short | None = None
    ukladaci_jednotka: UkladaciJednotka | None = None
    subjekty: Annotated[tuple[Subjekt, ...], msgspec.Meta(max_length=MAX_SUBJEKTY)] = ()
    udalosti: Udalosti = ()


class KomponentaSnapshot(Message, frozen=True, kw_only=True, tag="komponenta"):
    """A komponenta: one computer file of a dokument.

    Attributes:
        soubor: Safe relative path of the file under the agent's folders.
        nazev_souboru: The file's name as the clerk saw it, if the product keeps one.
        mime_type: The MIME type the product recorded.
        velikost: The size in bytes the product recorded.
        vytvoreno: When the product stored the file.
        udalosti: Real events of the file from the product's log.
    """

    komponenta_id: RecordId
    source_version: NonNegative
    dokument_id: RecordId
    poradi: Annotated[int, msgspec.Meta(ge=1)]
    verze: Annotated[int, msgspec.Meta(ge=1)]
    druh: Text
    forma_uchovani: Text
    soubor: Text
    nazev_souboru: Text | None = None
    mime_type: Short | None = None
    velikost: NonNegative | None = None
    vytvoreno: datetime | None = None
    udalosti: Udalosti = ()


class RecordDeleted(Message, frozen=True, kw_only=True, tag="record_deleted"):
    """A registry record that was deleted at the source."""

    table: Literal["spis", "dokument", "komponenta"]
    record_id: RecordId
    source_version: NonNegative


class SpisClosed(Message, frozen=True, kw_only=True, tag="spis_closed"):
    """A spis whose `stav` became `uzavreny` (NSESSS SpisUzavreni).

    Attributes:
        closed_at: When it was closed: the product's log time where it has
            one, else when the agent saw it.
        closed_by: Who closed it, from the product's log.
    """

    spis_id: RecordId
    source_version: NonNegative
    closed_at: datetime
    closed_by: Text | None = None


class SpisReopened(Message, frozen=True, kw_only=True, tag="spis_reopened"):
    """A closed spis that left `uzavreny` again (NSESSS SpisOtevreni).

    Attributes:
        reopened_at: When, as for `SpisClosed.closed_at`.
        reopened_by: Who reopened it, from the product's log.
    """

    spis_id: RecordId
    source_version: NonNegative
    reopened_at: datetime
    reopened_by: Text | None = None
