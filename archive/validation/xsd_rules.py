"""val1: the whole document against METS 1.12, then each embedded entity and log on its own.

METS lets ``mets:xmlData`` hold anything (``processContents="lax"``), so the
nsesss entity and every transaction log are validated again explicitly against
their own schema, as val1 asks (mets.xsd, nsesss.xsd and nsesss-TrP.xsd).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from archive.validation.schemas import (
    METS_NS,
    NSESSS_NS,
    TRP_NS,
    mets_schema,
    nsesss_schema,
    trp_schema,
    validate_against,
)

if TYPE_CHECKING:
    from archive.validation.context import Context

__all__ = ["MAX_ERRORS_PER_RULE", "check_schemas"]

CODE = "val1"

MAX_ERRORS_PER_RULE = 100
"""A broken generator repeats one mistake per entity; more lines help nobody."""


def _report(errors: list[tuple[int, str]], ctx: Context, schema_name: str) -> None:
    for line, message in errors[:MAX_ERRORS_PER_RULE]:
        ctx.fail(CODE, f"{schema_name}: {message}", f"mets.xml:{line}")
    if len(errors) > MAX_ERRORS_PER_RULE:
        rest = len(errors) - MAX_ERRORS_PER_RULE
        ctx.fail(CODE, f"a dalších {rest} chyb schématu {schema_name}", "mets.xml")


def _validate_parts(
    tree: etree._ElementTree, namespace: str, schema: etree.XMLSchema
) -> list[tuple[int, str]]:
    """Validate each top element of `namespace` inside any xmlData on its own."""
    errors: list[tuple[int, str]] = []
    for xml_data in tree.iter(f"{{{METS_NS}}}xmlData"):
        for part in xml_data:
            if not isinstance(part.tag, str) or etree.QName(part).namespace != namespace:
                continue
            # Validated in place (lxml re-roots it for the run): no copy, source lines kept.
            errors.extend((e.line, e.message) for e in validate_against(schema, part))
    return errors


def check_schemas(tree: etree._ElementTree, ctx: Context) -> None:
    """Record val1 failures of `tree`."""
    if not ctx.applies(CODE):
        return
    whole = [(e.line, e.message) for e in validate_against(mets_schema(), tree)]
    _report(whole, ctx, "mets.xsd")
    nsesss = _validate_parts(tree, NSESSS_NS, nsesss_schema())
    _report(nsesss, ctx, "nsesss.xsd")
    trp = _validate_parts(tree, TRP_NS, trp_schema())
    _report(trp, ctx, "nsesss-TrP.xsd")
    ctx.ran.add(CODE)
