"""National rules on fileSec and structMap and how they link to the entities (obs40-obs56)."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

from archive.validation.context import Context, RuleSet
from archive.validation.model import DIV_TYPES, M, MetsDoc, N, T, local, text

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["CHECKSUM_TYPES", "RULES"]

RULES: RuleSet[MetsDoc] = RuleSet()

CHECKSUM_TYPES = {"SHA-256": "sha256", "SHA-512": "sha512"}
"""CHECKSUMTYPE values obs46 allows, with hashlib's name for each."""
_XLINK = "{http://www.w3.org/1999/xlink}"
_MIME_PART = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MIME = re.compile(
    rf"(application|audio|example|font|haptics|image|message|model|multipart|text|video)/{_MIME_PART}"
    r"(\s*;.*)?",
    re.IGNORECASE,
)
_MULTIPLE_ALLOWED = {"Soucast", "TypovySpis", "VecnaSkupina", "SpisovyPlan"}


@RULES.rule("obs40")
def _obs40(doc: MetsDoc, ctx: Context) -> None:
    digital = any(
        doc.analog(entity) == "ne" for entity in doc.entities if local(entity) == "Dokument"
    )
    count = len(doc.children(doc.root, "mets:fileSec"))
    if digital and count != 1:
        ctx.fail("obs40", f"dokument v digitální podobě, počet mets:fileSec je {count}", doc.root)


@RULES.rule("obs41", "obs46", "obs49", "obs50", "obs51", "obs53")
def _file_attributes(doc: MetsDoc, ctx: Context) -> None:
    for file in doc.files:
        mime = file.get("MIMETYPE") or ""
        if not _MIME.fullmatch(mime.strip()):
            ctx.fail("obs41", f"MIMETYPE je {mime!r}", file)
        if file.get("CHECKSUMTYPE") not in CHECKSUM_TYPES:
            ctx.fail("obs46", f"CHECKSUMTYPE je {file.get('CHECKSUMTYPE')!r}", file)
        if file.get("CREATED") is None:
            ctx.fail("obs49", "chybí atribut CREATED", file)
        locations = doc.children(file, "mets:FLocat")
        if len(locations) != 1:
            ctx.fail("obs50", f"počet mets:FLocat je {len(locations)}", file)
        for flocat in locations:
            if flocat.get(f"{_XLINK}type") != "simple":
                ctx.fail("obs51", f"xlink:type je {flocat.get(f'{_XLINK}type')!r}", flocat)
            if flocat.get("LOCTYPE") != "URL":
                ctx.fail("obs53", f"LOCTYPE je {flocat.get('LOCTYPE')!r}", flocat)


@RULES.rule("obs43a")
def _obs43a(doc: MetsDoc, ctx: Context) -> None:
    for section in doc.children(doc.root, "mets:fileSec"):
        groups = doc.children(section, "mets:fileGrp")
        if len(groups) != 1:
            ctx.fail("obs43a", f"počet mets:fileGrp je {len(groups)}", section)


@RULES.rule("obs44")
def _obs44(doc: MetsDoc, ctx: Context) -> None:
    komponenty = Counter(
        entity.get("ID") for entity in doc.entities if local(entity) == "Komponenta"
    )
    used = Counter(file.get("DMDID") for file in doc.files)
    for file in doc.files:
        dmdid = file.get("DMDID")
        if dmdid is None:
            ctx.fail("obs44", "chybí atribut DMDID", file)
        elif komponenty[dmdid] != 1:
            ctx.fail("obs44", f"DMDID {dmdid!r} neodpovídá právě jedné nsesss:Komponenta", file)
        elif used[dmdid] > 1:
            ctx.fail("obs44", f"DMDID {dmdid!r} má {used[dmdid]} mets:file", file)


def _identity(entity: etree._Element, doc: MetsDoc) -> tuple[str, str] | None:
    identifier = doc.identifier(entity)
    if identifier is None or not text(identifier):
        return None
    return text(identifier), identifier.get("zdroj", "")


def _logged(section: etree._Element) -> set[tuple[str, str]]:
    """(HodnotaID, ZdrojID) of the objects an amdSec's transaction log is about."""
    found = set()
    for objekt in section.iter(f"{T}Objekt"):
        for identifier in objekt.findall(f"{T}Identifikator"):
            found.add(
                (text(identifier.find(f"{T}HodnotaID")), text(identifier.find(f"{T}ZdrojID")))
            )
    return found


def _check_div(
    div: etree._Element,
    doc: MetsDoc,
    amd: dict[str, set[tuple[str, str]]],
    ctx: Context,
) -> etree._Element | None:
    """Check one div's TYPE, DMDID and ADMID; return the entity it stands for."""
    kind = div.get("TYPE")
    if kind not in DIV_TYPES.values():
        ctx.fail("obs54", f"TYPE {kind!r} není typ entity", div)
    targets = doc.ids.get(div.get("DMDID") or "", [])
    entities = [t for t in targets if t.tag.startswith(N) and local(t) in DIV_TYPES]
    if len(entities) != 1:
        ctx.fail("obs54", f"DMDID {div.get('DMDID')!r} neodkazuje na entitu v dmdSec", div)
        return None
    entity = entities[0]
    if kind in DIV_TYPES.values() and DIV_TYPES[local(entity)] != kind:
        ctx.fail("obs54", f"TYPE {kind!r} neodpovídá entitě {local(entity)}", div)
    identity = _identity(entity, doc)
    admids = (div.get("ADMID") or "").split()
    if not any(token in amd for token in admids):
        ctx.fail("obs54", f"ADMID {div.get('ADMID')!r} neodkazuje na mets:amdSec", div)
    elif identity is not None and not any(identity in amd.get(token, set()) for token in admids):
        detail = f"mets:amdSec z ADMID {div.get('ADMID')!r} nepopisuje entitu {identity[0]!r}"
        ctx.fail("obs54", detail, div)
    return entity


@RULES.rule("obs54")
def _obs54(doc: MetsDoc, ctx: Context) -> None:
    amd = {
        section.get("ID", ""): _logged(section) for section in doc.children(doc.root, "mets:amdSec")
    }
    divs: Counter[tuple[str, tuple[str, str] | None]] = Counter()
    for div in doc.root.iter(f"{M}div"):
        entity = _check_div(div, doc, amd, ctx)
        if entity is not None:
            divs[(local(entity), _identity(entity, doc))] += 1
    strong = any(
        link.get("pevny") == "ano"
        for data in doc.xml_data
        for link in data.iter(f"{N}KrizovyOdkaz")
    )
    in_dmd: Counter[tuple[str, tuple[str, str] | None]] = Counter()
    first: dict[tuple[str, tuple[str, str] | None], etree._Element] = {}
    for entity in doc.entities:
        key = (local(entity), _identity(entity, doc))
        in_dmd[key] += 1
        first.setdefault(key, entity)
    logged = Counter(identity for identities in amd.values() for identity in identities)
    for key, entity in first.items():
        name, identity = key
        if identity is None:
            continue  # obs57 reports an entity without an identifier.
        if in_dmd[key] > 1 and not (strong and name in _MULTIPLE_ALLOWED):
            ctx.fail("obs54", f"entita {identity[0]!r} je v dmdSec {in_dmd[key]}x", entity)
        if divs[key] != 1:
            ctx.fail("obs54", f"entita {identity[0]!r} je ve structMap {divs[key]}x", entity)
        if logged[identity] != 1:
            ctx.fail("obs54", f"entita {identity[0]!r} je v amdSec {logged[identity]}x", entity)


@RULES.rule("obs55", "obs56")
def _pointers(doc: MetsDoc, ctx: Context) -> None:
    files = {file.get("ID"): file for file in doc.files}
    for div in doc.root.iter(f"{M}div"):
        fptrs = doc.children(div, "mets:fptr")
        if div.get("TYPE") == "komponenta" and len(fptrs) != 1:
            ctx.fail("obs55", f"počet mets:fptr je {len(fptrs)}", div)
        for fptr in fptrs:
            file = files.get(fptr.get("FILEID"))
            if file is None or file.get("DMDID") != div.get("DMDID"):
                detail = f"FILEID {fptr.get('FILEID')!r} neodkazuje na mets:file komponenty divu"
                ctx.fail("obs56", detail, fptr)
