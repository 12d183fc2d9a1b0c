"""Schema rules: the whole document, then each embedded entity and log on its own.

METS lets ``mets:xmlData`` hold anything (``processContents="lax"``), so the
nsesss entity and every transaction log are validated again explicitly against
their own schema; an error inside them may therefore be reported under both
XSD-METS and XSD-NSESSS/XSD-TRP.
"""

from __future__ import annotations

import copy

from lxml import etree

from archive.validation import codes
from archive.validation.report import RuleFailure
from archive.validation.schemas import (
    METS_NS,
    NSESSS_NS,
    TRP_NS,
    mets_schema,
    nsesss_schema,
    trp_schema,
    validate_against,
)

__all__ = ["MAX_ERRORS_PER_RULE", "check_schemas"]

MAX_ERRORS_PER_RULE = 100
"""A broken generator repeats one mistake per entity; more lines help nobody."""


def _report(
    code: str, errors: list[tuple[int, str]], failures: list[RuleFailure], schema_name: str
) -> None:
    for line, message in errors[:MAX_ERRORS_PER_RULE]:
        failures.append(RuleFailure(code, f"{schema_name}: {message}", f"mets.xml:{line}"))
    if len(errors) > MAX_ERRORS_PER_RULE:
        rest = len(errors) - MAX_ERRORS_PER_RULE
        failures.append(RuleFailure(code, f"a dalších {rest} chyb schématu", "mets.xml"))


def _validate_parts(
    tree: etree._ElementTree, namespace: str, schema: etree.XMLSchema
) -> list[tuple[int, str]]:
    """Validate each top element of `namespace` inside any xmlData on its own."""
    errors: list[tuple[int, str]] = []
    for xml_data in tree.iter(f"{{{METS_NS}}}xmlData"):
        for part in xml_data:
            if not isinstance(part.tag, str) or etree.QName(part).namespace != namespace:
                continue
            # A deep copy keeps source lines, so errors point into mets.xml.
            document = etree.ElementTree(copy.deepcopy(part))
            errors.extend((e.line, e.message) for e in validate_against(schema, document))
    return errors


def check_schemas(tree: etree._ElementTree, failures: list[RuleFailure]) -> None:
    """Record XSD-METS, XSD-NSESSS and XSD-TRP failures of `tree`."""
    whole = [(e.line, e.message) for e in validate_against(mets_schema(), tree)]
    _report(codes.XSD_METS, whole, failures, "METS")
    nsesss = _validate_parts(tree, NSESSS_NS, nsesss_schema())
    _report(codes.XSD_NSESSS, nsesss, failures, "nsesss.xsd")
    trp = _validate_parts(tree, TRP_NS, trp_schema())
    _report(codes.XSD_TRP, trp, failures, "nsesss-TrP.xsd")
