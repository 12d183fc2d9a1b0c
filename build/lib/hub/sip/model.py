"""The closed spis as the SIP builder sees it: frozen, already-loaded metadata.

The hub fills these from the registry snapshots it holds; ids are the
registry's ids turned into strings. A field that is None is one the registry
did not supply: `hub.sip.metadata` decides whether the spis waits for it or
goes with a documented placeholder. Nothing here touches files or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from datetime import date, datetime

__all__ = [
    "Dokument",
    "Komponenta",
    "Obec",
    "Puvod",
    "SkartacniZnak",
    "Spis",
    "SpisovyPlan",
    "Subjekt",
    "Udalost",
]

Puvod = Literal["doruceny", "vlastni"]
"""How a dokument came to be: received from outside, or made by the obec."""

SkartacniZnak = Literal["A", "S", "V"]
"""A = archival value, S = destroy, V = assess at the skartační řízení."""


@dataclass(frozen=True, slots=True)
class Obec:
    """The municipality that created the spis (the originator of the records).

    Attributes:
        ico: Its 8-digit IČO.
        name: Its official name, e.g. "Městys Čachrov".
        sidlo: Its seat address; the obec's name stands in when not known.
    """

    ico: str
    name: str
    sidlo: str | None = None


@dataclass(frozen=True, slots=True)
class Udalost:
    """One real event of an entity, from the registry's own log or the hub's.

    Attributes:
        kdy: When it happened.
        typ: What happened: a ``TypUdalostiId`` such as ``"Zalozeni"``, or an
            NSESSS event name (``"SpisUzavreni"``) that maps to one.
        kdo: Who did it, if recorded.
        popis: The registry's description of the event.
    """

    kdy: datetime
    typ: str
    kdo: str | None = None
    popis: str | None = None


@dataclass(frozen=True, slots=True)
class Subjekt:
    """An external subject: the odesílatel of a received dokument or an adresát of an own one.

    Attributes:
        role: ``odesilatel`` or ``adresat``.
        typ: ``fyzicka_osoba``, ``pravnicka_osoba`` or ``ovm``.
        nazev: Name of the person or organisation.
        osoba: A natural person acting for the organisation.
        ico: IČO, if it has one.
        postovni_adresa: Postal address (seat of an organisation).
        datova_schranka: Data box id.
        email: E-mail address.
        cislo_jednaci: The sender's own reference number.
        datum_odeslani: When the dokument was dispatched to this adresát.
    """

    role: Literal["odesilatel", "adresat"]
    typ: Literal["fyzicka_osoba", "pravnicka_osoba", "ovm"]
    nazev: str
    osoba: str | None = None
    ico: str | None = None
    postovni_adresa: str | None = None
    datova_schranka: str | None = None
    email: str | None = None
    cislo_jednaci: str | None = None
    datum_odeslani: date | None = None


@dataclass(frozen=True, slots=True)
class Komponenta:
    """One computer file of a dokument.

    Attributes:
        id: Registry id.
        poradi: 1 for the main file, then attachments 2..n.
        verze: Version of the file at this poradi, from 1.
        druh: Kind of component (e.g. "hlavní dokument", "příloha").
        forma_uchovani: One of the NSESSS forms ("originál", "originál ve
            výstupním datovém formátu", "digitalizát", "koncept", "kontejner").
        file_name: The original file name as the clerk saw it.
        mime_type: MIME type detected from the file's content.
        size: Size in bytes.
        sha256: Lower-case hex SHA-256 of the bytes.
        created: When the file was stored (the registry's time, else the hub's).
        udalosti: Real events of the file.
        pdfa: For a PDF, whether it declares PDF/A conformance (None: not a PDF
            or not looked at).
    """

    id: str
    poradi: int
    verze: int
    druh: str
    forma_uchovani: str
    file_name: str
    mime_type: str
    size: int
    sha256: str
    created: datetime
    udalosti: tuple[Udalost, ...] = ()
    pdfa: bool | None = None


@dataclass(frozen=True, slots=True)
class Dokument:
    """A registered document inside the spis.

    Attributes:
        id: Registry id.
        cislo_jednaci: Číslo jednací (opaque, at most 50 characters).
        nazev: Subject of the document (věc).
        puvod: "doruceny" (received) or "vlastni" (own).
        datum: Datum doručení for a received dokument, datum vytvoření for own.
        odesilatel_autor: Sender of a received dokument or author of an own one.
        poradi: Position in the spis, from 1.
        komponenty: Its files.
        zpracovatel: The clerk who handled it (Autor of an own dokument).
        zpracovatel_utvar: The clerk's organisational unit (útvar).
        zpracovatel_pozice: The clerk's position (pracovní pozice).
        subjekty: Odesílatel of a received dokument, adresáti of an own one.
        odesilatel_cislo_jednaci: The sender's own reference number.
        datum_odeslani: When an own dokument was dispatched.
        vyrizeni_zpusob: How it was settled (NSESSS ``tZpusobVyrizeni``).
        vyrizeni_datum: When it was settled.
        vyrizeni_obsah: What settling it consisted of (jiný způsob).
        vyrizeni_oduvodneni: Why it was settled that way (jiný způsob).
        analogovy: Whether it is on paper (None: the registry does not say).
        mnozstvi: Delivered or created quantity of a paper dokument.
        odeslane_mnozstvi: Dispatched quantity of a paper dokument.
        ukladaci_jednotka: Storage unit of a paper dokument.
        udalosti: Real events of the dokument.
    """

    id: str
    cislo_jednaci: str
    nazev: str
    puvod: Puvod
    datum: date
    odesilatel_autor: str
    poradi: int
    komponenty: tuple[Komponenta, ...]
    zpracovatel: str | None = None
    zpracovatel_utvar: str | None = None
    zpracovatel_pozice: str | None = None
    subjekty: tuple[Subjekt, ...] = ()
    odesilatel_cislo_jednaci: str | None = None
    datum_odeslani: date | None = None
    vyrizeni_zpusob: str | None = None
    vyrizeni_datum: date | None = None
    vyrizeni_obsah: str | None = None
    vyrizeni_oduvodneni: str | None = None
    analogovy: bool | None = None
    mnozstvi: str | None = None
    odeslane_mnozstvi: str | None = None
    ukladaci_jednotka: str | None = None
    udalosti: tuple[Udalost, ...] = ()


@dataclass(frozen=True, slots=True)
class SpisovyPlan:
    """The root of the file plan the spis is classified in.

    Attributes:
        identifikator: Identifier of the plan (at most 50 characters).
        nazev: Its name.
        platnost_od: Day the plan came into force.
        platnost_do: Day it ceased to apply, if it has.
    """

    identifikator: str
    nazev: str
    platnost_od: date
    platnost_do: date | None = None


@dataclass(frozen=True, slots=True)
class Spis:
    """A closed case file, the basic entity of the SIP.

    Attributes:
        id: Registry id.
        spisova_znacka: Spisová značka (opaque, at most 50 characters).
        nazev: Subject of the spis (věc).
        spisovy_znak: Fully qualified spisový znak, e.g. "2.4.3.3".
        skartacni_znak: "A", "S" or "V".
        skartacni_lhuta: Retention in years (0-999).
        datum_otevreni: Day the spis was opened.
        datum_uzavreni: Day the spis was closed.
        zpracovatel: Name of the clerk who handled the spis.
        dokumenty: Its documents.
        zpracovatel_utvar: The clerk's organisational unit (útvar).
        zpracovatel_pozice: The clerk's position (pracovní pozice).
        vyrizeni_zpusob: How it was settled (NSESSS ``tZpusobVyrizeni``).
        vyrizeni_datum: When it was settled.
        vyrizeni_obsah: What settling it consisted of (jiný způsob).
        vyrizeni_oduvodneni: Why it was settled that way (jiný způsob).
        spisovy_plan_identifikator: Identifier of the spisový plán.
        spisovy_plan_nazev: Name of the spisový plán.
        spisovy_plan_platnost_od: Day the plan came into force.
        spisovy_plan_platnost_do: Day it ceased to apply, if it has.
        vecna_skupina_nazev: Name of the spis's own věcná skupina.
        vecne_skupiny: Names of věcné skupiny by plně určený znak, where known.
        skartacni_rezim_identifikator: Identifier of the skartační režim in the plan.
        skartacni_rezim_nazev: Name of the skartační režim.
        spousteci_udalost: The event the retention period runs from.
        spousteci_udalost_datum: When that event happened.
        umisteni: Where its paper part is kept.
        udalosti: Real events of the spis.
        closed_at: When the registry closed it (the hub's SpisClosed time).
        closed_by: Who closed it.
    """

    id: str
    spisova_znacka: str
    nazev: str
    spisovy_znak: str
    skartacni_znak: SkartacniZnak
    skartacni_lhuta: int
    datum_otevreni: date
    datum_uzavreni: date
    zpracovatel: str
    dokumenty: tuple[Dokument, ...]
    zpracovatel_utvar: str | None = None
    zpracovatel_pozice: str | None = None
    vyrizeni_zpusob: str | None = None
    vyrizeni_datum: date | None = None
    vyrizeni_obsah: str | None = None
    vyrizeni_oduvodneni: str | None = None
    spisovy_plan_identifikator: str | None = None
    spisovy_plan_nazev: str | None = None
    spisovy_plan_platnost_od: date | None = None
    spisovy_plan_platnost_do: date | None = None
    vecna_skupina_nazev: str | None = None
    vecne_skupiny: tuple[tuple[str, str], ...] = ()
    skartacni_rezim_identifikator: str | None = None
    skartacni_rezim_nazev: str | None = None
    spousteci_udalost: str | None = None
    spousteci_udalost_datum: date | None = None
    umisteni: str | None = None
    udalosti: tuple[Udalost, ...] = ()
    closed_at: datetime | None = None
    closed_by: str | None = None
