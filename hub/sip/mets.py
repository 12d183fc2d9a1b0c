"""``mets.xml`` of an NSESSS SIP (annex 2 of NSESSS, METS 1.12).

Layout of the document built here::

    mets:mets OBJID LABEL xsi:schemaLocation
      metsHdr        the obec (ORGANIZATION) and the zpracovatel (INDIVIDUAL)
      dmdSec         one mdWrap holding nsesss:Spis with its whole tree
      amdSec (many)  one per entity, a digiprovMD with its transaction log
      fileSec        one mets:file per komponenta, FLocat -> komponenty/<name>
      structMap      spisový plán > věcné skupiny > spis > dokument > komponenta
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from hub.sip.errors import InvalidSpisError
from hub.sip.metadata import resolve
from hub.sip.model import Udalost
from hub.sip.naming import component_file_name
from hub.sip.nsesss import NSESSS_NS, EntityIds, build_spis_element, ordered_dokumenty, zdroj
from hub.sip.text import clean_obec, xml_safe
from hub.sip.trp import TRP_NS, build_log, typ_udalosti
from protocol.archive import PLACEHOLDER_NOTE

if TYPE_CHECKING:
    from datetime import datetime

    from hub.sip.metadata import MissingMetadata, Resolved
    from hub.sip.model import Obec, Spis, SpisovyPlan

__all__ = [
    "COMPONENTS_DIR",
    "LABEL_PREDANI",
    "LABEL_SKARTACNI_RIZENI",
    "METS_FILE",
    "METS_NS",
    "PLACEHOLDER_NOTE",
    "SCHEMA_LOCATION",
    "XLINK_NS",
    "build_mets",
    "mets_for",
]

METS_NS = "http://www.loc.gov/METS/"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = (
    "http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd "
    "http://www.mvcr.cz/nsesss/v4 https://www.mvcr.cz/nsesss/v4/nsesss.xsd "
    "http://www.mvcr.cz/nsesss/2023/log https://www.mvcr.cz/nsesss/v4/nsesss-TrP.xsd"
)
LABEL_PREDANI = "Datový balíček pro předávání dokumentů a jejich metadat do archivu"
LABEL_SKARTACNI_RIZENI = "Datový balíček pro provedení skartačního řízení"
METS_FILE = "mets.xml"
COMPONENTS_DIR = "komponenty"
_NSMAP = {"mets": METS_NS, "xlink": XLINK_NS, "xsi": XSI_NS, "nsesss": NSESSS_NS, "tp": TRP_NS}


@dataclass(frozen=True, slots=True)
class _Entity:
    """One node of the structMap and owner of one transaction log."""

    xml_id: str
    typ_objektu: str
    div_type: str
    registry_id: str
    zdroj: str
    label: str
    udalosti: list[Udalost]
    order: int | None = None
    file_id: str | None = None
    children: tuple[_Entity, ...] = ()


def _m(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{METS_NS}}}{tag}", attrs)


def _spis_udalosti(spis: Spis, created: datetime, exporter: str) -> list[Udalost]:
    """The spis's registry events, its closing as the hub received it, and this export."""
    udalosti = list(spis.udalosti)
    if spis.closed_at is not None and not any(typ_udalosti(u.typ) == "Uzavreni" for u in udalosti):
        udalosti.append(Udalost(spis.closed_at, "Uzavreni", spis.closed_by))
    udalosti.append(Udalost(created, "Export", exporter))
    return udalosti


def _entities(
    resolved: Resolved, obec: Obec, *, ids: EntityIds, created: datetime, exporter: str
) -> _Entity:
    """Describe the entity tree, root (the spisový plán) first."""
    spis, plan = resolved.spis, resolved.plan
    dokument_children: list[_Entity] = []
    for (dokument, komponenty), dokument_id, komponenta_ids in zip(
        ordered_dokumenty(spis), ids.dokumenty, ids.komponenty, strict=True
    ):
        komponenty_children = [
            _Entity(
                xml_id=komponenta_id,
                typ_objektu="Komponenta",
                div_type="komponenta",
                registry_id=komponenta.id,
                zdroj=zdroj(obec, "komponenta"),
                label=komponenta.file_name,
                udalosti=list(komponenta.udalosti),
                order=komponenta.poradi,
                file_id=f"file-{komponenta_id}",
            )
            for komponenta, komponenta_id in zip(komponenty, komponenta_ids, strict=True)
        ]
        dokument_children.append(
            _Entity(
                xml_id=dokument_id,
                typ_objektu="Dokument",
                div_type="dokument",
                registry_id=dokument.id,
                zdroj=zdroj(obec, "dokument"),
                label=dokument.nazev,
                udalosti=list(dokument.udalosti),
                order=dokument.poradi,
                children=tuple(komponenty_children),
            )
        )
    node = _Entity(
        xml_id=ids.spis,
        typ_objektu="Spis",
        div_type="spis",
        registry_id=spis.id,
        zdroj=zdroj(obec, "spis"),
        label=spis.nazev,
        udalosti=_spis_udalosti(spis, created, exporter),
        children=tuple(dokument_children),
    )
    for level in range(len(resolved.vecne_skupiny) - 1, -1, -1):
        znak, nazev = resolved.vecne_skupiny[level]
        node = _Entity(
            xml_id=ids.vecne_skupiny[level],
            typ_objektu="VecnaSkupina",
            div_type="věcná skupina",
            registry_id=znak,
            zdroj=zdroj(obec, "věcná skupina"),
            label=nazev,
            udalosti=[],
            children=(node,),
        )
    return _Entity(
        xml_id=ids.plan,
        typ_objektu="SpisovyPlan",
        div_type="spisový plán",
        registry_id=plan.identifikator,
        zdroj=zdroj(obec, "spisový plán"),
        label=plan.nazev,
        udalosti=[],
        children=(node,),
    )


def _amd_id(entity: _Entity) -> str:
    """The ``amdSec`` ID of an entity: what its structMap div names in ADMID (rule obs54)."""
    return f"amdsec-{entity.xml_id}"


def _walk(entity: _Entity) -> list[_Entity]:
    return [entity, *(e for child in entity.children for e in _walk(child))]


def _header(root: etree._Element, resolved: Resolved, obec: Obec, created: datetime) -> None:
    stamp = created.isoformat()
    header = _m(root, "metsHdr", CREATEDATE=stamp, LASTMODDATE=stamp)
    organizace = _m(header, "agent", ID="agent-obec", ROLE="CREATOR", TYPE="ORGANIZATION")
    _m(organizace, "name").text = obec.name
    # METS has no identifier element for agents; the IČO with zdroj "IČ" is in
    # the nsesss metadata, the note makes the header readable on its own.
    _m(organizace, "note").text = f"IČ {obec.ico}"
    # The package itself says which values stand in for what the registry
    # lacked, so a reader of mets.xml alone can tell them from real data.
    for placeholder in resolved.placeholders:
        _m(organizace, "note").text = f"{PLACEHOLDER_NOTE}{placeholder.field} = {placeholder.value}"
    osoba = _m(header, "agent", ID="agent-zpracovatel", ROLE="CREATOR", TYPE="INDIVIDUAL")
    _m(osoba, "name").text = resolved.spis.zpracovatel


def _wrap(parent: etree._Element, other_type: str, content: etree._Element) -> None:
    wrap = _m(
        parent,
        "mdWrap",
        MDTYPE="OTHER",
        OTHERMDTYPE=other_type,
        MDTYPEVERSION="4.0",
        MIMETYPE="text/xml",
    )
    _m(wrap, "xmlData").append(content)


def _amd_secs(
    root: etree._Element, entities: list[_Entity], sip_id: str, created: datetime
) -> None:
    for entity in entities:
        amd = _m(root, "amdSec", ID=_amd_id(entity))
        digiprov = _m(amd, "digiprovMD", ID=f"amd-{entity.xml_id}")
        log = build_log(
            log_key=f"{sip_id}/{entity.xml_id}",
            typ_objektu=entity.typ_objektu,
            objekt_id=entity.registry_id,
            zdroj=entity.zdroj,
            created=created,
            udalosti=entity.udalosti,
        )
        _wrap(digiprov, "TP", log)


def _file_sec(root: etree._Element, spis: Spis, ids: EntityIds) -> None:
    group = _m(_m(root, "fileSec"), "fileGrp", ID="filegrp-komponenty", USE="komponenty")
    for (dokument, komponenty), komponenta_ids in zip(
        ordered_dokumenty(spis), ids.komponenty, strict=True
    ):
        for komponenta, komponenta_id in zip(komponenty, komponenta_ids, strict=True):
            element = _m(
                group,
                "file",
                ID=f"file-{komponenta_id}",
                DMDID=komponenta_id,
                MIMETYPE=komponenta.mime_type,
                SIZE=str(komponenta.size),
                CREATED=komponenta.created.isoformat(),
                CHECKSUM=komponenta.sha256.lower(),
                CHECKSUMTYPE="SHA-256",
            )
            flocat = _m(element, "FLocat", LOCTYPE="URL")
            flocat.set(f"{{{XLINK_NS}}}type", "simple")
            href = f"{COMPONENTS_DIR}/{component_file_name(dokument, komponenta)}"
            flocat.set(f"{{{XLINK_NS}}}href", href)


def _div(parent: etree._Element, entity: _Entity) -> None:
    div = _m(
        parent,
        "div",
        ID=f"div-{entity.xml_id}",
        TYPE=entity.div_type,
        LABEL=entity.label,
        DMDID=entity.xml_id,
        ADMID=_amd_id(entity),
    )
    if entity.order is not None:
        div.set("ORDER", str(entity.order))
    if entity.file_id is not None:
        _m(div, "fptr", FILEID=entity.file_id)
    for child in entity.children:
        _div(div, child)


def mets_for(
    resolved: Resolved, obec: Obec, *, orp_name: str, sip_id: str, created: datetime
) -> bytes:
    """Build ``mets.xml`` of a resolved spis (see `hub.sip.metadata.resolve`).

    The result is a pure function of the arguments: the same spis built twice
    gives the same bytes.

    Args:
        resolved: The spis with every required value resolved.
        obec: The obec the spis belongs to.
        orp_name: The ORP whose technologické centrum builds the package; it
            is recorded as the exporter in the spis's transaction log.
        sip_id: The package name, written as ``OBJID``.
        created: When the package is built (``CREATEDATE``); pass an aware
            datetime so every timestamp carries its offset.

    Returns:
        The document as UTF-8 without BOM, with an XML declaration.

    Raises:
        InvalidSpisError: If a value still cannot go into XML (the registry's
            text is cleaned before; this keeps any other case from failing the
            same way at every retry).
    """
    obec = clean_obec(obec)
    orp_name = xml_safe(orp_name)
    try:
        return _document(resolved, obec, orp_name=orp_name, sip_id=sip_id, created=created)
    except ValueError as exc:
        raise InvalidSpisError(f"mets.xml: {exc}") from exc


def _document(
    resolved: Resolved, obec: Obec, *, orp_name: str, sip_id: str, created: datetime
) -> bytes:
    spis = resolved.spis
    ids = EntityIds.for_spis(spis)
    root = etree.Element(f"{{{METS_NS}}}mets", nsmap=_NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    root.set("OBJID", sip_id)
    root.set("LABEL", LABEL_PREDANI)
    _header(root, resolved, obec, created)
    dmd = _m(root, "dmdSec", ID="dmd-spis")
    _wrap(dmd, "NSESSS", build_spis_element(resolved, obec, ids=ids))
    tree = _entities(
        resolved, obec, ids=ids, created=created, exporter=f"spisync, TC ORP {orp_name}"
    )
    _amd_secs(root, _walk(tree), sip_id, created)
    _file_sec(root, spis, ids)
    _div(_m(root, "structMap", ID="structmap", TYPE="PHYSICAL", LABEL=spis.nazev), tree)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_mets(
    spis: Spis,
    obec: Obec,
    *,
    orp_name: str,
    sip_id: str,
    created: datetime,
    missing_metadata: MissingMetadata = "wait",
    spisovy_plan: SpisovyPlan | None = None,
) -> bytes:
    """Resolve the spis's metadata and build its ``mets.xml`` (see `mets_for`).

    Args:
        spis: The closed spis with its dokumenty and komponenty.
        obec: The obec the spis belongs to.
        orp_name: The ORP building the package.
        sip_id: The package name, written as ``OBJID``.
        created: When the package is built.
        missing_metadata: Wait for what the registry lacks, or use placeholders.
        spisovy_plan: A plan that replaces the registry's.

    Returns:
        The document as UTF-8 without BOM, with an XML declaration.

    Raises:
        InvalidSpisError: If the metadata cannot form a valid package, or
            (`MissingMetadataError`) lacks fields while waiting for them.
    """
    resolved = resolve(spis, obec, missing_metadata=missing_metadata, spisovy_plan=spisovy_plan)
    return mets_for(resolved, obec, orp_name=orp_name, sip_id=sip_id, created=created)
