"""A parsed ``mets.xml`` with the look-ups the rules share (entities, parents, IDs)."""

from __future__ import annotations

import functools
from datetime import date
from typing import TYPE_CHECKING

from archive.validation.schemas import METS_NS, NSESSS_NS, TRP_NS

__all__ = [
    "DIV_TYPES",
    "ENTITY_NAMES",
    "M",
    "MetsDoc",
    "N",
    "T",
    "local",
    "parse_date",
    "text",
]

if TYPE_CHECKING:
    from lxml import etree

M = f"{{{METS_NS}}}"
N = f"{{{NSESSS_NS}}}"
T = f"{{{TRP_NS}}}"
DIV_TYPES = {
    "SpisovyPlan": "spisový plán",
    "VecnaSkupina": "věcná skupina",
    "TypovySpis": "typový spis",
    "Soucast": "součást",
    "Dil": "díl",
    "Spis": "spis",
    "Dokument": "dokument",
    "Komponenta": "komponenta",
}
"""Each entity/object of NSESSS and the structMap div TYPE that stands for it."""
ENTITY_NAMES = tuple(DIV_TYPES)
_MOTHER_PATHS = (
    f"{N}EvidencniUdaje/{N}Trideni/{N}MaterskaEntita/*",
    f"{N}EvidencniUdaje/{N}Trideni/{N}MaterskeEntity/*",
    f"{N}EvidencniUdaje/{N}Trideni/{N}SpisovyPlan",
)


def local(element: etree._Element) -> str:
    """The element's name without its namespace."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def text(element: etree._Element | None) -> str:
    """The element's stripped text ('' for none)."""
    return "" if element is None else (element.text or "").strip()


def parse_date(value: str) -> date | None:
    """The day of an xs:date or xs:dateTime (a time zone or time is ignored)."""
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


class MetsDoc:
    """A parsed mets.xml."""

    def __init__(self, tree: etree._ElementTree) -> None:
        self.tree = tree
        self.root = tree.getroot()

    @functools.cached_property
    def ids(self) -> dict[str, list[etree._Element]]:
        """Every element with an ``ID`` attribute, by that ID."""
        found: dict[str, list[etree._Element]] = {}
        for element in self.root.iter():
            xml_id = element.get("ID")
            if xml_id is not None:
                found.setdefault(xml_id, []).append(element)
        return found

    def children(self, element: etree._Element, name: str) -> list[etree._Element]:
        """Direct children of `element` named `name` (``mets:x``, ``nsesss:x`` or ``tp:x``)."""
        prefix, _, localname = name.partition(":")
        namespace = {"mets": M, "nsesss": N, "tp": T}[prefix]
        return element.findall(f"{namespace}{localname}")

    @functools.cached_property
    def xml_data(self) -> list[etree._Element]:
        """The xmlData of every dmdSec/mdWrap."""
        return [
            data
            for section in self.root.findall(f"{M}dmdSec")
            for wrap in section.findall(f"{M}mdWrap")
            for data in wrap.findall(f"{M}xmlData")
        ]

    @functools.cached_property
    def basic(self) -> list[etree._Element]:
        """The basic entities: nsesss elements directly in a dmdSec's xmlData."""
        return [
            child
            for data in self.xml_data
            for child in data
            if isinstance(child.tag, str) and child.tag.startswith(N)
        ]

    @functools.cached_property
    def entities(self) -> list[etree._Element]:
        """Every entity/object element (spisový plán ... komponenta) in the dmdSec, in order."""
        tags = [f"{N}{name}" for name in ENTITY_NAMES]
        return [entity for data in self.xml_data for entity in data.iter(*tags)]

    @functools.cached_property
    def files(self) -> list[etree._Element]:
        """Every mets:file."""
        return list(self.root.iter(f"{M}file"))

    @functools.cached_property
    def files_by_dmdid(self) -> dict[str, list[etree._Element]]:
        """mets:file elements by their DMDID."""
        found: dict[str, list[etree._Element]] = {}
        for file in self.files:
            found.setdefault(file.get("DMDID") or "", []).append(file)
        return found

    @functools.cached_property
    def _mothers(self) -> dict[etree._Element, etree._Element | None]:
        mothers: dict[etree._Element, etree._Element | None] = {}
        for entity in self.entities:
            mother = None
            for path in _MOTHER_PATHS:
                mother = entity.find(path)
                if mother is not None:
                    break
            if mother is None:
                container = entity.getparent()
                holder = None if container is None else container.getparent()
                if holder is not None and local(holder) in DIV_TYPES and holder.tag.startswith(N):
                    mother = holder
            mothers[entity] = mother
        return mothers

    def mother(self, entity: etree._Element) -> etree._Element | None:
        """The entity's parent entity in the file plan hierarchy, if the package names one."""
        return self._mothers.get(entity)

    def ancestors(self, entity: etree._Element) -> list[etree._Element]:
        """Every parent entity up to the spisový plán, nearest first."""
        chain = []
        mother = self.mother(entity)
        while mother is not None and mother not in chain:
            chain.append(mother)
            mother = self.mother(mother)
        return chain

    @functools.cached_property
    def _children(self) -> dict[etree._Element, list[etree._Element]]:
        found: dict[etree._Element, list[etree._Element]] = {}
        for entity, mother in self._mothers.items():
            if mother is not None:
                found.setdefault(mother, []).append(entity)
        return found

    def child_entities(self, entity: etree._Element) -> list[etree._Element]:
        """The entities whose parent is `entity`."""
        return self._children.get(entity, [])

    def descendants(self, entity: etree._Element) -> list[etree._Element]:
        """Every entity below `entity` in the hierarchy."""
        found: list[etree._Element] = []
        seen: set[etree._Element] = set()
        stack = list(self.child_entities(entity))
        while stack:
            child = stack.pop()
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.extend(self.child_entities(child))
        return found

    @staticmethod
    def identifier(entity: etree._Element) -> etree._Element | None:
        """The entity's nsesss:Identifikator (its first one)."""
        if local(entity) == "SpisovyPlan":
            return entity.find(f"{N}Identifikator")
        return entity.find(f"{N}EvidencniUdaje/{N}Identifikace/{N}Identifikator")

    @staticmethod
    def evidencni(entity: etree._Element, path: str) -> etree._Element | None:
        """``EvidencniUdaje/<path>`` of an entity, `path` in local names joined by ``/``."""
        return entity.find(_evidencni_path(path))

    def analog(self, entity: etree._Element) -> str:
        """The entity's AnalogovyDokument value (``ano``, ``ne`` or '')."""
        return text(self.evidencni(entity, "Manipulace/AnalogovyDokument"))

    def closed_on(self, entity: etree._Element) -> date | None:
        """When the entity was vyřízena/uzavřena (VyrizeniUzavreni or Vyrizeni date)."""
        for path in ("VyrizeniUzavreni/Datum", "Vyrizeni/Datum", "Manipulace/DatumUzavreni"):
            found = self.evidencni(entity, path)
            if found is not None:
                return parse_date(text(found))
        return None

    @functools.cached_property
    def komponenty_groups(self) -> list[tuple[etree._Element, dict[int, list[etree._Element]]]]:
        """Each nsesss:Komponenty with its Komponenta elements grouped by poradi."""
        groups = []
        for data in self.xml_data:
            for holder in data.iter(f"{N}Komponenty"):
                by_poradi: dict[int, list[etree._Element]] = {}
                for komponenta in holder.findall(f"{N}Komponenta"):
                    poradi = _number(komponenta.get("poradi"))
                    if poradi is not None:
                        by_poradi.setdefault(poradi, []).append(komponenta)
                groups.append((holder, by_poradi))
        return groups


@functools.cache
def _evidencni_path(path: str) -> str:
    steps = "/".join(f"{N}{step}" for step in path.split("/"))
    return f"{N}EvidencniUdaje/{steps}"


def _number(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None
