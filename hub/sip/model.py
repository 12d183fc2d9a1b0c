"""The closed spis as the SIP builder sees it: frozen, already-loaded metadata.

The hub's registry fills these from its database; ids are the registry's ids
turned into strings. Nothing here touches files or the network.
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
        mime_type: MIME type, e.g. "application/pdf".
        size: Size in bytes.
        sha256: Lower-case hex SHA-256 of the bytes.
        created: When the file was stored.
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
    """

    id: str
    cislo_jednaci: str
    nazev: str
    puvod: Puvod
    datum: date
    odesilatel_autor: str
    poradi: int
    komponenty: tuple[Komponenta, ...]


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


@dataclass(frozen=True, slots=True)
class SpisovyPlan:
    """The root of the file plan the spis is classified in.

    Attributes:
        identifikator: Identifier of the plan (at most 50 characters).
        nazev: Its name.
        platnost_od: Day the plan came into force.
    """

    identifikator: str
    nazev: str
    platnost_od: date
