"""val1: the whole document against METS 1.12 with nsesss v4 and nsesss-TrP.

METS lets ``mets:xmlData`` hold anything (``processContents="lax"``): lax means
an element with a global declaration in an imported schema is validated
strictly, and the METS schema here imports nsesss.xsd and nsesss-TrP.xsd, so
the one run checks the entities and the transaction logs too. A root element
that no schema declares is not validated by lax; obs28 and obs39 catch it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.validation.schemas import mets_schema, validate_against

if TYPE_CHECKING:
    from lxml import etree

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


def check_schemas(tree: etree._ElementTree, ctx: Context) -> None:
    """Record val1 failures of `tree`."""
    if not ctx.applies(CODE):
        return
    errors = [(e.line, e.message) for e in validate_against(mets_schema(), tree)]
    _report(errors, ctx, "mets.xsd + nsesss.xsd + nsesss-TrP.xsd")
    ctx.ran.add(CODE)
