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

from hub.sip.checks import check_spis
from hub.sip.model import SpisovyPlan
from hub.sip.naming import component_file_name
from hub.sip.nsesss import (
    NSESSS_NS,
    EntityIds,
    build_spis_element,
    ordered_dokumenty,
    vecne_skupiny_chain,
)
from hub.sip.trp import TRP_NS, Udalost, at_midnight, build_log

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from hub.sip.model import Obec, Spis

__all__ = [
    "COMPONENTS_DIR",
    "LABEL_PREDANI",
    "LABEL_SKARTACNI_RIZENI",
    "METS_FILE",
    "METS_NS",
    "SCHEMA_LOCATION",
    "XLINK_NS",
    "build_mets",
    "default_spisovy_plan",
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
    label: str
    udalosti: list[Udalost]
    order: int | None = None
    file_id: str | None = None
    children: tuple[_Entity, ...] = ()


def default_spisovy_plan(spis: Spis, obec: Obec) -> SpisovyPlan:
    """Return the plan used when the caller does not name one."""
    return SpisovyPlan(
        identifikator=f"SP-{obec.ico}",
        nazev=f"Spisový plán {obec.name}",
        platnost_od=spis.datum_otevreni,
    )


def _m(parent: etree._Element, tag: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{METS_NS}}}{tag}", attrs)


def _entities(
    spis: Spis, *, plan: SpisovyPlan, ids: EntityIds, created: datetime, exporter: str
) -> _Entity:
    """Describe the entity tree, root (the spisový plán) first."""
    komponenty_children: list[_Entity] = []
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
                label=komponenta.file_name,
                udalosti=[Udalost(komponenta.created, spis.zpracovatel, "Zalozeni")],
                order=komponenta.poradi,
                file_id=f"file-{komponenta_id}",
            )
            for komponenta, komponenta_id in zip(komponenty, komponenta_ids, strict=True)
        ]
        vlozeni = at_midnight(dokument.datum, created)
        dokument_children.append(
            _Entity(
                xml_id=dokument_id,
                typ_objektu="Dokument",
                div_type="dokument",
                registry_id=dokument.id,
                label=dokument.nazev,
                udalosti=[
                    Udalost(vlozeni, dokument.odesilatel_autor, "Zalozeni"),
                    Udalost(vlozeni, spis.zpracovatel, "VlozeniDoSpisu"),
                ],
                order=dokument.poradi,
                children=tuple(komponenty_children),
            )
        )
    node = _Entity(
        xml_id=ids.spis,
        typ_objektu="Spis",
        div_type="spis",
        registry_id=spis.id,
        label=spis.nazev,
        udalosti=[
            Udalost(at_midnight(spis.datum_otevreni, created), spis.zpracovatel, "Zalozeni"),
            Udalost(at_midnight(spis.datum_uzavreni, created), spis.zpracovatel, "Uzavreni"),
            Udalost(created, exporter, "Export"),
        ],
        children=tuple(dokument_children),
    )
    chain = vecne_skupiny_chain(spis.spisovy_znak)
    for level in range(len(chain) - 1, -1, -1):
        node = _Entity(
            xml_id=ids.vecne_skupiny[level],
            typ_objektu="VecnaSkupina",
            div_type="věcná skupina",
            registry_id=chain[level],
            label=chain[level],
            udalosti=[],
            children=(node,),
        )
    return _Entity(
        xml_id=ids.plan,
        typ_objektu="SpisovyPlan",
        div_type="spisový plán",
        registry_id=plan.identifikator,
        label=plan.nazev,
        udalosti=[],
        children=(node,),
    )


def _walk(entity: _Entity) -> list[_Entity]:
    return [entity, *(e for child in entity.children for e in _walk(child))]


def _header(root: etree._Element, spis: Spis, obec: Obec, created: datetime) -> None:
    stamp = created.isoformat()
    header = _m(root, "metsHdr", CREATEDATE=stamp, LASTMODDATE=stamp)
    organizace = _m(header, "agent", ID="agent-obec", ROLE="CREATOR", TYPE="ORGANIZATION")
    _m(organizace, "name").text = obec.name
    # METS has no identifier element for agents; the IČO with zdroj "IČ" is in
    # the nsesss metadata, the note makes the header readable on its own.
    _m(organizace, "note").text = f"IČ {obec.ico}"
    osoba = _m(header, "agent", ID="agent-zpracovatel", ROLE="CREATOR", TYPE="INDIVIDUAL")
    _m(osoba, "name").text = spis.zpracovatel


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
    root: etree._Element, entities: list[_Entity], obec: Obec, sip_id: str, created: datetime
) -> None:
    for entity in entities:
        amd = _m(root, "amdSec", ID=f"amdsec-{entity.xml_id}")
        digiprov = _m(amd, "digiprovMD", ID=f"amd-{entity.xml_id}")
        log = build_log(
            log_key=f"{sip_id}/{entity.xml_id}",
            typ_objektu=entity.typ_objektu,
            objekt_id=entity.registry_id,
            zdroj=obec.name,
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
        ADMID=f"amd-{entity.xml_id}",
    )
    if entity.order is not None:
        div.set("ORDER", str(entity.order))
    if entity.file_id is not None:
        _m(div, "fptr", FILEID=entity.file_id)
    for child in entity.children:
        _div(div, child)


def build_mets(
    spis: Spis,
    obec: Obec,
    *,
    orp_name: str,
    sip_id: str,
    created: datetime,
    vecne_skupiny: Mapping[str, str] | None = None,
    spisovy_plan: SpisovyPlan | None = None,
) -> bytes:
    """Build ``mets.xml`` for the SIP of a closed spis.

    The result is a pure function of the arguments: the same spis built twice
    gives the same bytes.

    Args:
        spis: The closed spis with its dokumenty and komponenty.
        obec: The obec the spis belongs to.
        orp_name: The ORP whose technologické centrum builds the package; it
            is recorded as the exporter in the spis's transaction log.
        sip_id: The package name, written as ``OBJID``.
        created: When the package is built (``CREATEDATE``); pass an aware
            datetime so every timestamp carries its offset.
        vecne_skupiny: Names of věcné skupiny by plně určený znak ("2.4");
            unnamed ones are called "Věcná skupina <znak>".
        spisovy_plan: The plan the spis is classified in; by default
            "Spisový plán <obec>" starting on the spis's opening day.

    Returns:
        The document as UTF-8 without BOM, with an XML declaration.

    Raises:
        InvalidSpisError: If the metadata cannot form a valid package.
    """
    check_spis(spis, obec)
    plan = spisovy_plan or default_spisovy_plan(spis, obec)
    ids = EntityIds.for_spis(spis)
    root = etree.Element(f"{{{METS_NS}}}mets", nsmap=_NSMAP)
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    root.set("OBJID", sip_id)
    root.set("LABEL", LABEL_PREDANI)
    _header(root, spis, obec, created)
    dmd = _m(root, "dmdSec", ID="dmd-spis")
    _wrap(
        dmd,
        "NSESSS",
        build_spis_element(spis, obec, plan=plan, ids=ids, vecne_skupiny=vecne_skupiny),
    )
    tree = _entities(
        spis, plan=plan, ids=ids, created=created, exporter=f"spisync, TC ORP {orp_name}"
    )
    _amd_secs(root, _walk(tree), obec, sip_id, created)
    _file_sec(root, spis, ids)
    _div(_m(root, "structMap", ID="structmap", TYPE="PHYSICAL", LABEL=spis.nazev), tree)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
