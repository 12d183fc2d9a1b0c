"""Transaction logs (``tp:TransakcniLogObjektu``, nsesss-TrP.xsd), one per entity.

The registry does not keep a full audit trail, so each log records the events
it can vouch for: creation, insertion into the spis, closing, and the export
into this package.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from lxml import etree

__all__ = ["TRP_NS", "Udalost", "at_midnight", "build_log"]

TRP_NS = "http://www.mvcr.cz/nsesss/2023/log"
_SOFTWARE = "spisync"
_TEXT_MAX = 50
_WHO_MAX = 100


@dataclass(frozen=True, slots=True)
class Udalost:
    """One event in an entity's life.

    Attributes:
        kdy: When it happened.
        kdo: Who did it (a clerk's name or the exporting system).
        typ: A ``TypUdalostiId`` value such as ``"Zalozeni"`` or ``"Uzavreni"``.
    """

    kdy: datetime
    kdo: str
    typ: str


def at_midnight(day: date, like: datetime) -> datetime:
    """Return the start of `day` in the time zone of `like` (naive if it is)."""
    return datetime.combine(day, time(), tzinfo=like.tzinfo)


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
        objekt_id: Registry id of the entity.
        zdroj: Who assigned `objekt_id` (the obec).
        created: When the package is built; the end of the logged period.
        udalosti: Events of the entity, in any order.

    Returns:
        A detached ``tp:TransakcniLogObjektu`` element.
    """
    events = sorted(udalosti, key=lambda u: _order_key(u.kdy))
    start = min([created, *(u.kdy for u in events)], key=_order_key)
    log = etree.Element(f"{{{TRP_NS}}}TransakcniLogObjektu", nsmap={"tp": TRP_NS})
    info = _el(log, "TransLogInfo")
    digest = hashlib.sha256(log_key.encode("utf-8", "surrogatepass")).hexdigest()
    _identifikator(info, f"TL-{digest[:40]}", _SOFTWARE)
    _el(info, "DatumVzniku", created.isoformat())
    _el(info, "DatumCasOd", start.isoformat())
    _el(info, "DatumCasDo", created.isoformat())
    _el(info, "Software", _SOFTWARE)
    objekt = _el(info, "Objekt")
    _el(_el(objekt, "TypObjektu"), "TypObjektuId", typ_objektu)
    _identifikator(objekt, objekt_id, zdroj)
    holder = _el(log, "Udalosti")
    for poradi, udalost in enumerate(events, start=1):
        element = _el(holder, "Udalost")
        _el(element, "Poradi", str(poradi))
        _el(element, "DatumVzniku", udalost.kdy.isoformat())
        _el(element, "provedlKdo", udalost.kdo[:_WHO_MAX] or "neuvedeno")
        _el(_el(element, "TypUdalosti"), "TypUdalostiId", udalost.typ)
    return log
