"""National rules on names and spisové znaky of the file plan hierarchy (obs93-obs98)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.validation.context import Context, RuleSet
from archive.validation.model import MetsDoc, N, local, text

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["RULES"]

RULES: RuleSet[MetsDoc] = RuleSet()

_WITH_ZNAK = {"VecnaSkupina", "TypovySpis", "Soucast", "Dil", "Spis", "Dokument"}


def _znaky(doc: MetsDoc, entity: etree._Element) -> tuple[str, str]:
    """(JednoduchySpisovyZnak, PlneUrcenySpisovyZnak) of an entity."""
    jsz = text(doc.evidencni(entity, "Trideni/JednoduchySpisovyZnak"))
    pusz = text(doc.evidencni(entity, "Trideni/PlneUrcenySpisovyZnak"))
    return jsz, pusz


def _ends_with_part(full: str, last: str) -> bool:
    """Whether `last` is the last part of `full` (after a separator, or all of it)."""
    if full == last:
        return True
    return bool(last) and full.endswith(last) and not full[-len(last) - 1].isalnum()


@RULES.rule("obs93")
def _obs93(doc: MetsDoc, ctx: Context) -> None:
    for data in doc.xml_data:
        for name in data.iter(f"{N}Nazev"):
            if not text(name):
                ctx.fail("obs93", "prázdný nsesss:Nazev", name)


@RULES.rule("obs93a", "obs93b", "obs94")
def _own_znaky(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        if local(entity) not in _WITH_ZNAK:
            continue
        jsz, pusz = _znaky(doc, entity)
        if not jsz:
            ctx.fail("obs93a", "chybí JednoduchySpisovyZnak", entity)
        if not _ends_with_part(pusz, jsz):
            ctx.fail("obs94", f"PlneUrcenySpisovyZnak {pusz!r} nekončí znakem {jsz!r}", entity)
        mother = doc.mother(entity)
        under_plan = mother is not None and local(mother) == "SpisovyPlan"
        if local(entity) == "VecnaSkupina" and under_plan and jsz != pusz:
            ctx.fail("obs93b", f"JednoduchySpisovyZnak {jsz!r} ≠ plně určený {pusz!r}", entity)


@RULES.rule("obs95", "obs96")
def _inherited_znaky(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        mother = doc.mother(entity)
        if local(entity) not in {"VecnaSkupina", "Soucast"} or mother is None:
            continue
        if local(mother) not in {"VecnaSkupina", "TypovySpis"}:
            continue
        jsz, pusz = _znaky(doc, entity)
        parent_pusz = _znaky(doc, mother)[1]
        prefix_ok = pusz.startswith(parent_pusz) and len(pusz) > len(parent_pusz) + 1
        separator_ok = prefix_ok and not pusz[len(parent_pusz)].isalnum()
        if not (separator_ok and pusz[len(parent_pusz) + 1 :] == jsz):
            detail = f"{pusz!r} není {parent_pusz!r} + oddělovač + {jsz!r}"
            ctx.fail("obs95", detail, entity)
            ctx.fail("obs96", detail, entity)


@RULES.rule("obs97", "obs98")
def _basic_znaky(doc: MetsDoc, ctx: Context) -> None:
    if len(doc.basic) > 1:
        first = _znaky(doc, doc.basic[0])
        for entity in doc.basic[1:]:
            if _znaky(doc, entity) != first:
                ctx.fail("obs97", f"spisové znaky {_znaky(doc, entity)} ≠ {first}", entity)
    for entity in doc.basic:
        if local(entity) not in {"Dil", "Spis"}:
            continue
        own = _znaky(doc, entity)
        for child in doc.descendants(entity):
            if local(child) in {"Spis", "Dokument"} and _znaky(doc, child) != own:
                ctx.fail("obs98", f"spisové znaky {_znaky(doc, child)} ≠ {own}", child)
