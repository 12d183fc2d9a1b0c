"""Transaction logs (``tp:TransakcniLogObjektu``, nsesss-TrP.xsd), one per entity.

A log holds only events that really happened, stamped when they happened:
the registry's own event log (its times and who), the closing the hub
received (`SpisClosed`, with the registry's time), and the export into this
package. Nothing is stamped at midnight of a date or attributed by guess.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from hub.sip.model import Udalost

__all__ = ["TRP_NS", "TYPY_UDALOSTI", "build_log", "typ_udalosti"]

TRP_NS = "http://www.mvcr.cz/nsesss/2023/log"
_SOFTWARE = "spisync"
_TEXT_MAX = 50
_WHO_MAX = 100
_UNKNOWN_ACTOR = "neuvedeno"
_PREFIXES = ("Spis", "Dokument", "Soubor", "Komponenta")

TYPY_UDALOSTI = frozenset(
    {
        "Zalozeni", "Uprava", "Zruseni", "Zobrazeni", "Export", "Prenos", "Storno", "Zniceni",
        "VlozeniDoSpisu", "VyjmutiZeSpisu", "PripojeniCJ", "NovaVerze", "VlozeniKDokumentu",
        "VyjmutiZDokumentu", "VlozeniKVypraveni", "VyjmutiZVypraveni", "PripojeniPodpisu",
        "PripojeniRazitka", "FinalniVerze", "PredaniVypravne", "Vypraveno", "Doruceno",
        "Vyrizeni", "Schvaleni", "Uzavreni", "Otevreni", "PostoupeniAgende", "VraceniZAgendy",
        "ZmenaZpracovatele", "PripojeniKlicovehoSlova", "OdebraniKlicovehoSlova",
        "PredaniNaSpisovnu", "PrevzetiNaSpisovnu", "VraceniZeSpisovny",
        "PozastaveniSkartacniOperace", "ZruseniPozastaveniSkartacniOperace",
        "VlozeniDoUkladaciJednotky", "VyjmutiZUkladaciJednotky", "VlozeniDoSkartacnihoNavrhu",
        "VyjmutiZeSkartacnihoNavrhu", "VlozeniDoSpisoveRozluky", "VyjmutiZeSpisoveRozluky",
        "KonverzeZMociUredni", "KonverzeFormatu",
    }
)  # fmt: skip
"""``TypUdalostiId`` values of nsesss-TrP.xsd."""


def typ_udalosti(typ: str) -> str | None:
    """Return the ``TypUdalostiId`` of an event name, or None if it has none.

    NSESSS message names carry the entity: ``SpisUzavreni`` and
    ``DokumentVlozeniDoSpisu`` map to ``Uzavreni`` and ``VlozeniDoSpisu``.
    """
    if typ in TYPY_UDALOSTI:
        return typ
    for prefix in _PREFIXES:
        rest = typ.removeprefix(prefix)
        if rest != typ and rest in TYPY_UDALOSTI:
            return rest
    return None


def _order_key(moment: datetime) -> datetime:
    # Naive and aware datetimes cannot be compared; a naive one is read as UTC
    # rather than as local time so the order does not depend on the machine.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{TRP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _identifikator(parent: etree._Element, value: str, zdroj: str) -> None:
    identifikator = _el(parent, "Identifikator")
    _el(identifikator, "HodnotaID", value[:_TEXT_MAX])
    _el(identifikator, "ZdrojID", zdroj[:_TEXT_MAX])


def _udalost(holder: etree._Element, poradi: int, udalost: Udalost) -> None:
    element = _el(holder, "Udalost")
    _el(element, "Poradi", str(poradi))
    _el(element, "DatumVzniku", _order_key(udalost.kdy).isoformat())
    _el(element, "provedlKdo", (udalost.kdo or "").strip()[:_WHO_MAX] or _UNKNOWN_ACTOR)
    typ = typ_udalosti(udalost.typ)
    if typ is not None:
        _el(_el(element, "TypUdalosti"), "TypUdalostiId", typ)
    else:
        _el(_el(element, "TypUdalosti"), "TypUdalostiText", udalost.typ)
    if udalost.popis:
        _el(element, "PopisUdalosti", udalost.popis)


def build_log(
    *,
    log_key: str,
    typ_objektu: str,
    objekt_id: str,
    zdroj: str,
    created: datetime,
    udalosti: list[Udalost],
) -> etree._Element:
    """Build the transaction log of one entity.

    Args:
        log_key: Text unique to this package and entity; the log's identifier
            is derived from it so it is stable across rebuilds.
        typ_objektu: A ``TypObjektuId`` value such as ``"Spis"``.
        objekt_id: Registry id of the entity (its ``nsesss:Identifikator``).
        zdroj: The ``zdroj`` of that identifier (rule obs54 matches both).
        created: When the package is built; the end of the logged period.
        udalosti: Events of the entity, in any order.

    Returns:
        A detached ``tp:TransakcniLogObjektu`` element.
    """
    events = sorted(udalosti, key=lambda u: (_order_key(u.kdy), u.typ))
    start = min([created, *(u.kdy for u in events)], key=_order_key)
    end = max([created, *(u.kdy for u in events)], key=_order_key)
    log = etree.Element(f"{{{TRP_NS}}}TransakcniLogObjektu", nsmap={"tp": TRP_NS})
    info = _el(log, "TransLogInfo")
    digest = hashlib.sha256(log_key.encode("utf-8", "surrogatepass")).hexdigest()
    _identifikator(info, f"TL-{digest[:40]}", _SOFTWARE)
    _el(info, "DatumVzniku", _order_key(created).isoformat())
    _el(info, "DatumCasOd", _order_key(start).isoformat())
    _el(info, "DatumCasDo", _order_key(end).isoformat())
    _el(info, "Software", _SOFTWARE)
    objekt = _el(info, "Objekt")
    _el(_el(objekt, "TypObjektu"), "TypObjektuId", typ_objektu)
    _identifikator(objekt, objekt_id, zdroj)
    holder = _el(log, "Udalosti")
    for poradi, udalost in enumerate(events, start=1):
        _udalost(holder, poradi, udalost)
    return log
