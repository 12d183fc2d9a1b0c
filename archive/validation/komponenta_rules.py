"""National rules on komponenty: pořadí, druh, verze, forma uchování, formats (obs98a-obs111)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from archive.validation.context import Context, RuleSet
from archive.validation.model import MetsDoc, N, local
from spisync.formats import CONTAINER_FORMATS, OUTPUT_FORMATS, WORD_PROCESSING, ZIP_FORMATS

if TYPE_CHECKING:
    from lxml import etree

__all__ = ["RULES"]

RULES: RuleSet[MetsDoc] = RuleSet()

ORIGINAL = "originál"
OUTPUT = "originál ve výstupním datovém formátu"
CONTAINER = "kontejner"
_OUTPUT = frozenset(OUTPUT_FORMATS)
_EARLY = date(2012, 7, 31)


def _verze(komponenta: etree._Element) -> int:
    try:
        return int((komponenta.get("verze") or "").strip())
    except ValueError:
        return -1


def _mimes(doc: MetsDoc, komponenta: etree._Element) -> set[str]:
    return {
        (file.get("MIMETYPE") or "").split(";")[0].strip().lower()
        for file in doc.files_by_dmdid.get(komponenta.get("ID") or "", [])
    }


def _dokument(komponenta: etree._Element) -> etree._Element | None:
    holder = komponenta.getparent()
    return None if holder is None else holder.getparent()


def _early(doc: MetsDoc) -> bool:
    """Whether the basic entity was vyřízena/uzavřena by 31 July 2012 (obs105, obs107 skip)."""
    closed = [doc.closed_on(entity) for entity in doc.basic]
    return bool(closed) and all(day is not None and day <= _EARLY for day in closed)


@RULES.rule("obs98a")
def _obs98a(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        if local(entity) == "Komponenta" and entity.get("forma_uchovani") == "digitalizát":
            dokument = _dokument(entity)
            if dokument is None or doc.analog(dokument) != "ano":
                ctx.fail("obs98a", "digitalizát u dokumentu, který není analogový", entity)


@RULES.rule("obs100", "obs101", "obs102")
def _series(doc: MetsDoc, ctx: Context) -> None:
    for holder, groups in doc.komponenty_groups:
        numbers = sorted(groups)
        if numbers != list(range(1, len(numbers) + 1)) or len(
            holder.findall(f"{N}Komponenta")
        ) != sum(len(group) for group in groups.values()):
            ctx.fail("obs100", f"pořadí komponent {numbers}", holder)
        for poradi, group in sorted(groups.items()):
            kinds = {komponenta.get("druh") for komponenta in group}
            if len(kinds) > 1:
                ctx.fail("obs101", f"pořadí {poradi}: různý druh {sorted(map(str, kinds))}", holder)
            versions = [_verze(komponenta) for komponenta in group]
            if min(versions) < 1 or len(set(versions)) != len(versions):
                ctx.fail("obs102", f"pořadí {poradi}: verze {versions}", holder)


@RULES.rule("obs103", "obs104", "obs105", "obs106")
def _originals(doc: MetsDoc, ctx: Context) -> None:
    early = _early(doc)
    for holder, groups in doc.komponenty_groups:
        dokument = holder.getparent()
        digital = dokument is not None and doc.analog(dokument) == "ne"
        for poradi, group in sorted(groups.items()):
            forms = [komponenta.get("forma_uchovani") for komponenta in group]
            highest = max(_verze(komponenta) for komponenta in group)
            top = [k for k in group if _verze(k) == highest]
            has_output = OUTPUT in forms
            if digital and forms.count(ORIGINAL) != 1:
                ctx.fail("obs103", f"pořadí {poradi}: originálů {forms.count(ORIGINAL)}", holder)
            top_original = any(k.get("forma_uchovani") == ORIGINAL for k in top)
            if digital and not has_output and not top_original:
                ctx.fail("obs104", f"pořadí {poradi}: originál nemá nejvyšší verzi", holder)
            if has_output:
                top_output = [k for k in top if k.get("forma_uchovani") == OUTPUT]
                if len(top_output) != 1:
                    detail = f"pořadí {poradi}: originál ve výstupním formátu nemá nejvyšší verzi"
                    ctx.fail("obs106", detail, holder)
            if digital and not early and not has_output:
                word = [
                    k
                    for k in group
                    if k.get("forma_uchovani") == ORIGINAL and _mimes(doc, k) & WORD_PROCESSING
                ]
                if word:
                    detail = f"pořadí {poradi}: textový originál bez originálu ve výstupním formátu"
                    ctx.fail("obs105", detail, word[0])


@RULES.rule("obs107")
def _obs107(doc: MetsDoc, ctx: Context) -> None:
    if _early(doc):
        return
    for _holder, groups in doc.komponenty_groups:
        for group in groups.values():
            highest = max(_verze(komponenta) for komponenta in group)
            for komponenta in group:
                if komponenta.get("forma_uchovani") != OUTPUT or _verze(komponenta) != highest:
                    continue
                wrong = _mimes(doc, komponenta) - _OUTPUT
                if wrong:
                    ctx.fail("obs107", f"MIMETYPE {sorted(wrong)}", komponenta)


@RULES.rule("obs109", "obs110", "obs111")
def _containers(doc: MetsDoc, ctx: Context) -> None:
    komponenty = {k.get("ID"): k for k in doc.entities if local(k) == "Komponenta"}
    for file in doc.files:
        mime = (file.get("MIMETYPE") or "").split(";")[0].strip().lower()
        komponenta = komponenty.get(file.get("DMDID"))
        if komponenta is None:
            continue
        if mime in ZIP_FORMATS and komponenta.get("forma_uchovani") != CONTAINER:
            ctx.fail(
                "obs109",
                f"MIMETYPE {mime} a forma_uchovani {komponenta.get('forma_uchovani')!r}",
                file,
            )
        if komponenta.get("forma_uchovani") == CONTAINER and mime not in CONTAINER_FORMATS:
            ctx.fail("obs110", f"kontejner má MIMETYPE {mime!r}", file)
    for holder, _groups in doc.komponenty_groups:
        members = holder.findall(f"{N}Komponenta")
        forms = [k.get("forma_uchovani") for k in members]
        if CONTAINER in forms and all(form == CONTAINER for form in forms):
            ctx.fail("obs111", "u kontejneru chybí komponenty z něj", holder)
