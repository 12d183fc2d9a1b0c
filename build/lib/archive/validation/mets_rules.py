"""METS rules of NSESSS annex 2: root attributes, header, sections, references."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.validation import codes
from archive.validation.report import RuleFailure
from archive.validation.schemas import METS_NS, NSESSS_NS, TRP_NS
from archive.validation.xmldoc import XSI_NS, local_name, where

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["ENTITY_NAMES", "LABELS", "SCHEMA_LOCATION", "check_mets", "id_map"]

LABELS = frozenset(
    {
        "Datový balíček pro předávání dokumentů a jejich metadat do archivu",
        "Datový balíček pro provedení skartačního řízení",
    }
)
SCHEMA_LOCATION = (
    "http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd "
    "http://www.mvcr.cz/nsesss/v4 https://www.mvcr.cz/nsesss/v4/nsesss.xsd "
    "http://www.mvcr.cz/nsesss/2023/log https://www.mvcr.cz/nsesss/v4/nsesss-TrP.xsd"
)
ENTITY_NAMES = frozenset(
    {
        "SpisovyPlan",
        "VecnaSkupina",
        "TypovySpis",
        "Soucast",
        "Dil",
        "Spis",
        "Dokument",
        "Komponenta",
    }
)
"""nsesss elements that are entities, each wanting a div and a transaction log."""
_BASIC_ENTITIES = frozenset({"Spis", "Dokument", "Dil"})
_M = f"{{{METS_NS}}}"


def id_map(tree: etree._ElementTree) -> dict[str, etree._Element]:
    """Every element with an ``ID`` attribute, by that ID (first one wins)."""
    ids: dict[str, etree._Element] = {}
    for element in tree.iter():
        xml_id = element.get("ID")
        if xml_id is not None:
            ids.setdefault(xml_id, element)
    return ids


def _fail(failures: list[RuleFailure], code: str, message: str, location: str) -> None:
    failures.append(RuleFailure(code, message, location))


def _check_root(root: etree._Element, failures: list[RuleFailure]) -> None:
    here = where(root)
    if not (root.get("OBJID") or "").strip():
        _fail(failures, codes.METS_OBJID, "chybí nebo je prázdný atribut OBJID", here)
    if root.get("LABEL") not in LABELS:
        _fail(failures, codes.METS_LABEL, f"nepovolený LABEL {root.get('LABEL')!r}", here)
    location = root.get(f"{{{XSI_NS}}}schemaLocation")
    # Whitespace inside the attribute is a list separator, so line breaks are fine.
    if location is None or " ".join(location.split()) != SCHEMA_LOCATION:
        message = f"xsi:schemaLocation musí být přesně {SCHEMA_LOCATION!r}"
        _fail(failures, codes.METS_SCHEMALOCATION, message, here)


def _check_header(root: etree._Element, failures: list[RuleFailure]) -> None:
    header = root.find(f"{_M}metsHdr")
    if header is None:
        _fail(failures, codes.METS_HDR, "chybí mets:metsHdr", where(root))
        return
    for attribute in ("CREATEDATE", "LASTMODDATE"):
        if not (header.get(attribute) or "").strip():
            _fail(failures, codes.METS_HDR, f"chybí atribut {attribute}", where(header))
    agents = header.findall(f"{_M}agent")
    types = [agent.get("TYPE") for agent in agents]
    if types.count("ORGANIZATION") != 1:
        message = f"musí být právě jeden agent ORGANIZATION, je {types.count('ORGANIZATION')}"
        _fail(failures, codes.METS_AGENT, message, where(header))
    if "INDIVIDUAL" not in types:
        _fail(failures, codes.METS_AGENT, "chybí agent INDIVIDUAL", where(header))
    for agent in agents:
        name = agent.find(f"{_M}name")
        if agent.get("ROLE") != "CREATOR":
            _fail(failures, codes.METS_AGENT, "agent musí mít ROLE=CREATOR", where(agent))
        if not (agent.get("ID") or "").strip():
            _fail(failures, codes.METS_AGENT, "agent nemá ID", where(agent))
        if name is None or not (name.text or "").strip():
            _fail(failures, codes.METS_AGENT, "agent nemá jméno", where(agent))


def _check_dmd_sec(root: etree._Element, failures: list[RuleFailure]) -> None:
    sections = root.findall(f"{_M}dmdSec")
    if len(sections) != 1:
        message = f"musí být právě jeden mets:dmdSec, je {len(sections)}"
        _fail(failures, codes.METS_DMDSEC, message, where(root))
    for section in sections:
        wrap = section.find(f"{_M}mdWrap")
        if wrap is None:
            _fail(failures, codes.METS_DMDSEC, "chybí mets:mdWrap", where(section))
            continue
        expected = {
            "MDTYPE": "OTHER",
            "OTHERMDTYPE": "NSESSS",
            "MDTYPEVERSION": "4.0",
            "MIMETYPE": "text/xml",
        }
        for attribute, value in expected.items():
            if wrap.get(attribute) != value:
                message = f"{attribute} musí být {value!r}, je {wrap.get(attribute)!r}"
                _fail(failures, codes.METS_DMDSEC, message, where(wrap))
        content = wrap.find(f"{_M}xmlData")
        entities = [] if content is None else list(content)
        basic = [
            e
            for e in entities
            if isinstance(e.tag, str) and e.tag in {f"{{{NSESSS_NS}}}{n}" for n in _BASIC_ENTITIES}
        ]
        if len(entities) != 1 or len(basic) != 1:
            message = "mets:xmlData musí obsahovat právě jednu základní entitu nsesss"
            _fail(failures, codes.METS_DMDSEC, message, where(wrap))


def _check_references(
    tree: etree._ElementTree, ids: dict[str, etree._Element], failures: list[RuleFailure]
) -> None:
    for element in tree.iter(f"{_M}div", f"{_M}file"):
        for token in (element.get("DMDID") or "").split():
            target = ids.get(token)
            if target is None:
                _fail(failures, codes.REF_DMDID, f"DMDID {token!r} neexistuje", where(element))
            elif local_name(element) == "file" and target.tag != f"{{{NSESSS_NS}}}Komponenta":
                message = f"DMDID {token!r} souboru neodkazuje na nsesss:Komponenta"
                _fail(failures, codes.REF_DMDID, message, where(element))
    for element in tree.iter():
        for token in (element.get("ADMID") or "").split():
            if token not in ids:
                _fail(failures, codes.REF_ADMID, f"ADMID {token!r} neexistuje", where(element))
    for fptr in tree.iter(f"{_M}fptr"):
        file_id = fptr.get("FILEID") or ""
        target = ids.get(file_id)
        if target is None or target.tag != f"{_M}file":
            message = f"FILEID {file_id!r} neodkazuje na mets:file"
            _fail(failures, codes.REF_FILEID, message, where(fptr))


def _has_log(token: str, ids: dict[str, etree._Element]) -> bool:
    target = ids.get(token)
    if target is None or local_name(target) not in {"digiprovMD", "amdSec"}:
        return False
    return next(target.iter(f"{{{TRP_NS}}}TransakcniLogObjektu"), None) is not None


def _check_entities(
    tree: etree._ElementTree, ids: dict[str, etree._Element], failures: list[RuleFailure]
) -> None:
    divs_by_dmd: dict[str, etree._Element] = {}
    for div in tree.iter(f"{_M}div"):
        for token in (div.get("DMDID") or "").split():
            divs_by_dmd.setdefault(token, div)
    for section in tree.iter(f"{_M}dmdSec"):
        for entity in section.iter(*(f"{{{NSESSS_NS}}}{n}" for n in ENTITY_NAMES)):
            xml_id = entity.get("ID")
            if not xml_id:
                continue  # The schema requires the ID; XSD-NSESSS reports it.
            entity_div = divs_by_dmd.get(xml_id)
            if entity_div is None:
                message = "entita nemá mets:div s DMDID na ni"
                _fail(failures, codes.STRUCT_DIV, message, where(entity))
            elif not any(_has_log(t, ids) for t in (entity_div.get("ADMID") or "").split()):
                message = "ADMID neodkazuje na digiprovMD s tp:TransakcniLogObjektu"
                _fail(failures, codes.METS_AMDSEC, message, where(entity_div))


def _check_pointers(tree: etree._ElementTree, failures: list[RuleFailure]) -> None:
    pointed: set[str] = set()
    for div in tree.iter(f"{_M}div"):
        fptrs = div.findall(f"{_M}fptr")
        pointed.update(f.get("FILEID") or "" for f in fptrs)
        if div.get("TYPE") == "komponenta" and len(fptrs) != 1:
            message = f"div komponenty musí mít právě jeden mets:fptr, má {len(fptrs)}"
            _fail(failures, codes.STRUCT_FPTR, message, where(div))
    for file in tree.iter(f"{_M}file"):
        if file.get("ID") not in pointed:
            _fail(failures, codes.STRUCT_FPTR, "na soubor neukazuje žádný fptr", where(file))


def check_mets(tree: etree._ElementTree, failures: list[RuleFailure]) -> None:
    """Record every METS-level failure of `tree` (files are checked elsewhere)."""
    root = tree.getroot()
    ids = id_map(tree)
    _check_root(root, failures)
    _check_header(root, failures)
    _check_dmd_sec(root, failures)
    _check_references(tree, ids, failures)
    _check_entities(tree, ids, failures)
    _check_pointers(tree, failures)
