"""National rules on the METS frame: root, header, dmdSec and amdSec (ns2, obs1-obs39)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from archive.validation.context import Context, RuleSet
from archive.validation.model import MetsDoc, N, T, text

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["LABEL_PREJIMKA", "LABEL_SKARTACE", "RULES", "SCHEMA_LOCATION"]

RULES: RuleSet[MetsDoc] = RuleSet()

LABEL_PREJIMKA = "Datový balíček pro předávání dokumentů a jejich metadat do archivu"
LABEL_SKARTACE = "Datový balíček pro provedení skartačního řízení"
SCHEMA_LOCATION = (
    "http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd "
    "http://www.mvcr.cz/nsesss/v4 https://www.mvcr.cz/nsesss/v4/nsesss.xsd "
    "http://www.mvcr.cz/nsesss/2023/log https://www.mvcr.cz/nsesss/v4/nsesss-TrP.xsd"
)
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


@RULES.rule("ns2")
def _ns2(doc: MetsDoc, ctx: Context) -> None:
    location = doc.root.get(f"{_XSI}schemaLocation")
    # Whitespace separates the list's items, so line breaks inside it are the same value.
    if location is None or " ".join(location.split()) != SCHEMA_LOCATION:
        ctx.fail("ns2", f"xsi:schemaLocation je {location!r}", doc.root)


@RULES.rule("obs1")
def _obs1(doc: MetsDoc, ctx: Context) -> None:
    if not (doc.root.get("OBJID") or "").strip():
        ctx.fail("obs1", "atribut OBJID chybí nebo je prázdný", doc.root)


@RULES.rule("obs2", "obs3")
def _label(doc: MetsDoc, ctx: Context) -> None:
    label = doc.root.get("LABEL")
    if label not in {LABEL_PREJIMKA, LABEL_SKARTACE}:
        ctx.fail("obs2", f"LABEL je {label!r}", doc.root)
    if label != LABEL_PREJIMKA:
        ctx.fail("obs3", f"LABEL je {label!r}", doc.root)


@RULES.rule("obs10", "obs11", "obs12", "obs13")
def _sections(doc: MetsDoc, ctx: Context) -> None:
    counts = {
        name: len(doc.children(doc.root, f"mets:{name}"))
        for name in ("metsHdr", "dmdSec", "amdSec", "structMap")
    }
    if counts["metsHdr"] == 0:
        ctx.fail("obs10", "chybí mets:metsHdr", doc.root)
    if counts["dmdSec"] != 1:
        ctx.fail("obs11", f"počet mets:dmdSec je {counts['dmdSec']}", doc.root)
    if counts["amdSec"] == 0:
        ctx.fail("obs12", "chybí mets:amdSec", doc.root)
    if counts["structMap"] != 1:
        ctx.fail("obs13", f"počet mets:structMap je {counts['structMap']}", doc.root)


@RULES.rule("obs14", "obs15", "obs16", "obs17", "obs18", "obs19", "obs20")
def _header(doc: MetsDoc, ctx: Context) -> None:
    for header in doc.children(doc.root, "mets:metsHdr"):
        if header.get("LASTMODDATE") is None:
            ctx.fail("obs14", "chybí atribut LASTMODDATE", header)
        if header.get("CREATEDATE") is None:
            ctx.fail("obs15", "chybí atribut CREATEDATE", header)
        agents = doc.children(header, "mets:agent")
        types = [agent.get("TYPE") for agent in agents]
        if types.count("ORGANIZATION") != 1:
            ctx.fail("obs16", f"agentů ORGANIZATION je {types.count('ORGANIZATION')}", header)
        if "INDIVIDUAL" not in types:
            ctx.fail("obs17", "chybí agent INDIVIDUAL", header)
        for agent in agents:
            if agent.get("ROLE") != "CREATOR":
                ctx.fail("obs18", f"ROLE je {agent.get('ROLE')!r}", agent)
            if agent.get("ID") is None:
                ctx.fail("obs19", "chybí atribut ID", agent)
            names = doc.children(agent, "mets:name")
            if len(names) != 1 or not text(names[0]):
                ctx.fail("obs20", f"mets:name {len(names)}x nebo prázdné", agent)


_WRAP_ATTRIBUTES = {
    "dmd": {
        "MDTYPEVERSION": "obs23",
        "OTHERMDTYPE": "obs24",
        "MDTYPE": "obs25",
        "MIMETYPE": "obs26",
    },
    "digiprov": {
        "MDTYPEVERSION": "obs34",
        "OTHERMDTYPE": "obs35",
        "MDTYPE": "obs36",
        "MIMETYPE": "obs37",
    },
}
_WRAP_VALUES = {
    "dmd": {
        "MDTYPEVERSION": "4.0",
        "OTHERMDTYPE": "NSESSS",
        "MDTYPE": "OTHER",
        "MIMETYPE": "text/xml",
    },
    "digiprov": {
        "MDTYPEVERSION": "4.0",
        "OTHERMDTYPE": "TP",
        "MDTYPE": "OTHER",
        "MIMETYPE": "text/xml",
    },
}


@RULES.rule("obs22", "obs23", "obs24", "obs25", "obs26", "obs27")
def _dmd_sec(doc: MetsDoc, ctx: Context) -> None:
    for section in doc.children(doc.root, "mets:dmdSec"):
        wraps = doc.children(section, "mets:mdWrap")
        if len(wraps) != 1:
            ctx.fail("obs22", f"počet mets:mdWrap je {len(wraps)}", section)
        for wrap in wraps:
            for attribute, code in _WRAP_ATTRIBUTES["dmd"].items():
                expected = _WRAP_VALUES["dmd"][attribute]
                if wrap.get(attribute) != expected:
                    ctx.fail(
                        code, f"{attribute} je {wrap.get(attribute)!r}, má být {expected}", wrap
                    )
            if len(doc.children(wrap, "mets:xmlData")) != 1:
                ctx.fail("obs27", "mets:xmlData není právě jeden", wrap)


def _strong_links(doc: MetsDoc) -> list[tuple[str, str]]:
    """(Identifikator, zdroj) of every KrizovyOdkaz with pevny="ano"."""
    links = []
    for data in doc.xml_data:
        for link in data.iter(f"{N}KrizovyOdkaz"):
            if link.get("pevny") == "ano":
                identifier = link.find(f"{N}Identifikator")
                links.append(
                    (text(identifier), "" if identifier is None else identifier.get("zdroj", ""))
                )
    return links


def _closed_by_2026(doc: MetsDoc, entity: etree._Element) -> bool:
    closed = doc.closed_on(entity)
    return closed is not None and closed <= date(2026, 12, 31)


@RULES.rule("obs28", "obs29")
def _basic_entities(doc: MetsDoc, ctx: Context) -> None:
    links = _strong_links(doc)
    if not links:
        for data in doc.xml_data:
            kids = [child for child in data if isinstance(child.tag, str)]
            names = [child.tag for child in kids]
            single = len(kids) == 1 and names[0] in {f"{N}Dil", f"{N}Spis"}
            old_dokument = (
                len(kids) == 1 and names[0] == f"{N}Dokument" and _closed_by_2026(doc, kids[0])
            )
            if not (single or old_dokument):
                ctx.fail("obs28", f"mets:xmlData obsahuje {len(kids)} elementů", data)
        return
    for identifier, zdroj in links:
        found = False
        for entity in doc.basic:
            own = doc.identifier(entity)
            if own is None or (text(own), own.get("zdroj", "")) != (identifier, zdroj):
                continue
            name = entity.tag
            if name == f"{N}Spis" or (
                name in {f"{N}Dil", f"{N}Dokument"} and _closed_by_2026(doc, entity)
            ):
                found = True
        if not found:
            ctx.fail("obs29", f"chybí entita {identifier!r} (zdroj {zdroj!r})", doc.xml_data[0])


def _digiprov(doc: MetsDoc, digiprov: etree._Element, ctx: Context) -> None:
    wraps = doc.children(digiprov, "mets:mdWrap")
    if len(wraps) != 1:
        ctx.fail("obs33", f"počet mets:mdWrap je {len(wraps)}", digiprov)
    for wrap in wraps:
        for attribute, code in _WRAP_ATTRIBUTES["digiprov"].items():
            expected = _WRAP_VALUES["digiprov"][attribute]
            if wrap.get(attribute) != expected:
                detail = f"{attribute} je {wrap.get(attribute)!r}, má být {expected}"
                ctx.fail(code, detail, wrap)
        data = doc.children(wrap, "mets:xmlData")
        if len(data) != 1:
            ctx.fail("obs38", f"počet mets:xmlData je {len(data)}", wrap)
        for content in data:
            logs = content.findall(f"{T}TransakcniLogObjektu")
            if len(logs) != 1:
                ctx.fail("obs39", f"počet tp:TransakcniLogObjektu je {len(logs)}", content)


@RULES.rule("obs30", "obs31", "obs33", "obs34", "obs35", "obs36", "obs37", "obs38", "obs39")
def _amd_sec(doc: MetsDoc, ctx: Context) -> None:
    for section in doc.children(doc.root, "mets:amdSec"):
        if section.get("ID") is None:
            ctx.fail("obs30", "chybí atribut ID", section)
        provenance = doc.children(section, "mets:digiprovMD")
        if len(provenance) != 1:
            ctx.fail("obs31", f"počet mets:digiprovMD je {len(provenance)}", section)
        for digiprov in provenance:
            _digiprov(doc, digiprov, ctx)
