"""The official XML schemas, loaded from ``archive/schemas`` and never the network.

``mets.xsd`` imports xlink from ``http://www.loc.gov/...``; in memory that
import is pointed at the local ``mets-xlink.xsd`` (what ``catalog.xml`` does
for catalog-aware tools), and imports of nsesss and nsesss-TrP are added so
one schema covers the whole ``mets.xml``. Parsers refuse network access.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

__all__ = [
    "METS_NS",
    "NSESSS_NS",
    "SCHEMA_DIR",
    "TRP_NS",
    "SchemaError",
    "mets_schema",
    "validate_against",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
METS_NS = "http://www.loc.gov/METS/"
NSESSS_NS = "http://www.mvcr.cz/nsesss/v4"
TRP_NS = "http://www.mvcr.cz/nsesss/2023/log"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_XSD_NS = "http://www.w3.org/2001/XMLSchema"

# An XMLSchema keeps the errors of its last run in one error_log, so runs
# from several threads must not overlap.
_VALIDATION_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One schema violation.

    Attributes:
        line: Line in the validated document (0 when unknown).
        message: libxml2's message.
    """

    line: int
    message: str


def _parse(file: str) -> etree._ElementTree:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.parse(str(SCHEMA_DIR / file), parser)


def _mets_with_imports() -> etree._ElementTree:
    """mets.xsd with its xlink import pointed at the local copy, plus nsesss and TrP.

    The change is made in memory; the shipped files stay the official ones.
    """
    document = _parse("mets.xsd")
    schema = document.getroot()
    imports = {
        _XLINK_NS: "mets-xlink.xsd",
        NSESSS_NS: "nsesss.xsd",
        TRP_NS: "nsesss-TrP.xsd",
    }
    for element in schema.findall(f"{{{_XSD_NS}}}import"):
        schema.remove(element)
    for position, (namespace, file) in enumerate(imports.items()):
        element = etree.Element(f"{{{_XSD_NS}}}import")
        element.set("namespace", namespace)
        element.set("schemaLocation", (SCHEMA_DIR / file).as_uri())
        schema.insert(position, element)
    return document


@functools.cache
def mets_schema() -> etree.XMLSchema:
    """METS 1.12 with nsesss v4 and nsesss-TrP, for the whole ``mets.xml``."""
    return etree.XMLSchema(_mets_with_imports())


def validate_against(
    schema: etree.XMLSchema, document: etree._ElementTree | etree._Element
) -> list[SchemaError]:
    """Return every violation of `schema` in `document` (empty when valid)."""
    with _VALIDATION_LOCK:
        if schema.validate(document):
            return []
        log: list[etree._LogEntry] = list(schema.error_log)  # type: ignore[call-overload]
        return [SchemaError(error.line, error.message) for error in log]
