"""Parsing ``mets.xml`` (encoding, BOM, well-formedness) and naming its elements."""

from __future__ import annotations

import re

from lxml import etree

from archive.validation import codes
from archive.validation.report import RuleFailure
from archive.validation.schemas import METS_NS, NSESSS_NS, TRP_NS

__all__ = ["NSMAP", "XLINK_NS", "XSI_NS", "local_name", "parse_mets", "where"]

XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"mets": METS_NS, "nsesss": NSESSS_NS, "tp": TRP_NS, "xlink": XLINK_NS}
_PREFIXES = {namespace: prefix for prefix, namespace in NSMAP.items()}
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_DECLARED = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_LOCATION = "mets.xml"


def local_name(element: etree._Element) -> str:
    """The element's name without its namespace."""
    return etree.QName(element).localname


def where(element: etree._Element) -> str:
    """Name an element for a report: ``mets.xml:<line> prefix:name[@ID='…']``."""
    qname = etree.QName(element)
    prefix = _PREFIXES.get(qname.namespace or "", "")
    name = f"{prefix}:{qname.localname}" if prefix else qname.localname
    xml_id = element.get("ID")
    if xml_id:
        name += f"[@ID='{xml_id}']"
    return f"{_LOCATION}:{element.sourceline} {name}"


def _check_encoding(data: bytes, failures: list[RuleFailure]) -> None:
    if data.startswith(_BOMS):
        failures.append(RuleFailure(codes.XML_BOM, "soubor začíná znakem BOM", _LOCATION))
    body = data.removeprefix(_BOMS[0])
    declared = _DECLARED.match(body[:256])
    if declared and declared.group(1).decode("ascii").lower() not in {"utf-8", "utf8"}:
        message = f"deklarované kódování {declared.group(1).decode('ascii')}, musí být UTF-8"
        failures.append(RuleFailure(codes.XML_ENCODING, message, _LOCATION))
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"neplatné UTF-8 na bajtu {exc.start}"
        failures.append(RuleFailure(codes.XML_ENCODING, message, _LOCATION))


def parse_mets(data: bytes, failures: list[RuleFailure]) -> etree._ElementTree | None:
    """Check encoding and BOM, then parse; None when not well-formed.

    The parser never loads DTDs or external entities and never uses the network.
    """
    _check_encoding(data, failures)
    parser = etree.XMLParser(
        no_network=True, resolve_entities=False, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        message = f"není správně utvořené XML: {exc.msg}"
        failures.append(RuleFailure(codes.XML_WELLFORMED, message, f"{_LOCATION}:{line}"))
        return None
    return root.getroottree()
