"""National rules on the entities' metadata: identifiers, dates, analogue parts (obs57-obs92)."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

from lxml import etree

from archive.validation.context import Context, RuleSet
from archive.validation.model import DIV_TYPES, MetsDoc, N, local, parse_date, text
from protocol.ico import is_valid_ico

__all__ = ["RULES"]

RULES: RuleSet[MetsDoc] = RuleSet()

_ISO639 = Path(__file__).resolve().parent / "iso639-2.txt"
_OBS59_TYPES = {
    "SpisovyPlan",
    "VecnaSkupina",
    "TypovySpis",
    "Soucast",
    "Dil",
    "Spis",
    "Dokument",
    "Komponenta",
    "BezpecnostniKategorie",
    "SkartacniRezim",
    "DruhDokumentu",
}
_JINY = "jiný způsob"


def _all(doc: MetsDoc, name: str) -> list[etree._Element]:
    return [element for data in doc.xml_data for element in data.iter(f"{N}{name}")]


@RULES.rule("obs57", "obs58")
def _identifiers(doc: MetsDoc, ctx: Context) -> None:
    for identifier in _all(doc, "Identifikator"):
        if not text(identifier):
            ctx.fail("obs57", "prázdný nsesss:Identifikator", identifier)
        if not (identifier.get("zdroj") or "").strip():
            ctx.fail("obs58", "chybí nebo je prázdný atribut zdroj", identifier)


def _without_ids(element: etree._Element) -> bytes:
    """The element's content for comparison: no ID attributes, no indentation."""
    copy = etree.fromstring(etree.tostring(element, with_tail=False))
    for node in copy.iter():
        if "ID" in node.attrib:
            del node.attrib["ID"]
        if node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    return etree.tostring(copy, method="c14n")


@RULES.rule("obs59")
def _obs59(doc: MetsDoc, ctx: Context) -> None:
    groups: dict[tuple[str, str], list[etree._Element]] = {}
    for data in doc.xml_data:
        for element in data.iter(*(f"{N}{name}" for name in _OBS59_TYPES)):
            if local(element) in DIV_TYPES:
                identifier = doc.identifier(element)
            else:
                identifier = element.find(f"{N}Identifikator")
            if identifier is not None and text(identifier):
                key = (text(identifier), identifier.get("zdroj", ""))
                groups.setdefault(key, []).append(element)
    for (value, zdroj), elements in groups.items():
        if len(elements) < 2:
            continue
        forms = {(el.tag, _without_ids(el)) for el in elements}
        if len(forms) > 1:
            names = ", ".join(sorted({local(el) for el in elements}))
            detail = f"identifikátor {value!r} (zdroj {zdroj!r}) mají různé objekty: {names}"
            ctx.fail("obs59", detail, elements[1])


@RULES.rule("obs59a")
def _obs59a(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        name = local(entity)
        if name == "Spis":
            closed = parse_date(text(doc.evidencni(entity, "VyrizeniUzavreni/Datum")))
            if closed is None or closed <= date(2012, 7, 31):
                continue
        elif name != "Dokument":
            continue
        if not text(doc.evidencni(entity, "Evidence/EvidencniCislo")):
            ctx.fail("obs59a", f"{name} nemá EvidencniCislo", entity)


@RULES.rule("obs60", "obs61", "obs61a", "obs85", "obs88")
def _dokument_forms(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        if local(entity) != "Dokument":
            continue
        analog = doc.analog(entity)
        if analog == "ne" and entity.find(f"{N}Komponenty") is None:
            ctx.fail("obs60", "dokument v digitální podobě nemá nsesss:Komponenty", entity)
        if analog != "ano":
            continue
        received = doc.evidencni(entity, "Puvod/DorucenyDokument")
        if received is not None and not text(received.find(f"{N}DoruceneMnozstvi")):
            ctx.fail("obs61", "chybí DoruceneMnozstvi", received)
        own = doc.evidencni(entity, "Puvod/VlastniDokument")
        if own is not None and not text(own.find(f"{N}VytvoreneMnozstvi")):
            ctx.fail("obs61a", "chybí VytvoreneMnozstvi", own)
        if not text(doc.evidencni(entity, "Manipulace/UkladaciJednotka")):
            ctx.fail("obs85", "chybí UkladaciJednotka", entity)
        vyrizeni = doc.evidencni(entity, "Vyrizeni")
        if (
            vyrizeni is not None
            and vyrizeni.find(f"{N}DatumOdeslani") is not None
            and not text(vyrizeni.find(f"{N}OdeslaneMnozstvi"))
        ):
            ctx.fail("obs88", "chybí OdeslaneMnozstvi", vyrizeni)


@functools.cache
def _languages() -> frozenset[str]:
    lines = _ISO639.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


@RULES.rule("obs62")
def _obs62(doc: MetsDoc, ctx: Context) -> None:
    for language in _all(doc, "Jazyk"):
        if text(language) not in _languages():
            ctx.fail("obs62", f"{text(language)!r} není kód ISO 639-2", language)


@RULES.rule("obs63", "obs84", "obs87")
def _vyrizeni(doc: MetsDoc, ctx: Context) -> None:
    for element in _all(doc, "Vyrizeni") + _all(doc, "VyrizeniUzavreni"):
        if text(element.find(f"{N}Zpusob")) == _JINY:
            if not text(element.find(f"{N}Oduvodneni")):
                ctx.fail("obs63", "chybí Oduvodneni", element)
            if local(element) == "Vyrizeni" and not text(element.find(f"{N}ObsahVyrizeni")):
                ctx.fail("obs84", "chybí ObsahVyrizeni", element)
        if local(element) == "Vyrizeni":
            sent = element.find(f"{N}DatumOdeslani") is not None
            recipient = element.find(f"{N}Prijemce") is not None
            if sent != recipient:
                ctx.fail("obs87", "DatumOdeslani a Prijemce nejsou uvedeny spolu", element)


def _disposal_year(entity: etree._Element, doc: MetsDoc) -> int | None:
    """Rok spouštěcí události + 1 + lhůta, or RokVyrazeni, of an entity."""
    rezim = doc.evidencni(entity, "Vyrazovani/SkartacniRezim")
    if rezim is None:
        return None
    vyrazeni = text(rezim.find(f"{N}RokVyrazeni"))
    if vyrazeni.isdigit():
        return int(vyrazeni)
    trigger = text(doc.evidencni(entity, "Vyrazovani/DataceVyrazeni/RokSpousteciUdalosti"))
    lhuta = text(rezim.find(f"{N}SkartacniLhuta"))
    if trigger[:4].isdigit() and lhuta.isdigit():
        return int(trigger[:4]) + 1 + int(lhuta)
    return None


@RULES.rule("obs64", "obs65")
def _retention_expired(doc: MetsDoc, ctx: Context) -> None:
    year = ctx.today.year
    for entity in doc.basic:
        name = local(entity)
        due = _disposal_year(entity, doc)
        code = "obs64" if name == "Dokument" else "obs65"
        if due is None or due > year:
            ctx.fail(code, f"rok skartační operace {due} není ≤ {year}", entity)
        if name == "Dokument":
            continue
        for child in doc.descendants(entity):
            if local(child) not in {"Spis", "Dokument"}:
                continue
            origin = doc.evidencni(child, "Puvod/DorucenyDokument/DatumDoruceni")
            if origin is None:
                origin = doc.evidencni(child, "Puvod/VlastniDokument/DatumVytvoreni")
            if origin is None:
                origin = doc.evidencni(child, "Puvod/DatumVytvoreni")
            rezim = doc.evidencni(child, "Vyrazovani/SkartacniRezim")
            started = parse_date(text(origin))
            if rezim is None or started is None:
                continue
            vyrazeni = text(rezim.find(f"{N}RokVyrazeni"))
            lhuta = text(rezim.find(f"{N}SkartacniLhuta"))
            child_due = (
                int(vyrazeni)
                if vyrazeni.isdigit()
                else (started.year + 1 + int(lhuta) if lhuta.isdigit() else None)
            )
            if child_due is not None and child_due > year:
                ctx.fail("obs65", f"rok skartační operace {child_due} není ≤ {year}", child)


_ZNAKY = {"A": 3, "V": 2, "S": 1}


@RULES.rule("obs66", "obs67", "obs68")
def _skartacni_znak(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        name = local(entity)
        znak = text(doc.evidencni(entity, "Vyrazovani/SkartacniRezim/SkartacniZnak"))
        closed = doc.closed_on(entity)
        late = closed is not None and closed > date(2026, 12, 31)
        if name in {"Dil", "Spis", "Dokument"} and late and znak not in {"A", "S"}:
            ctx.fail("obs66", f"skartační znak {znak!r}, vyřízeno {closed}", entity)
        parent_of_spis = any(
            local(child) in {"Spis", "Dokument"} for child in doc.child_entities(entity)
        )
        if (
            name == "VecnaSkupina"
            and parent_of_spis
            and doc.evidencni(entity, "Vyrazovani/SkartacniRezim") is None
        ):
            ctx.fail("obs68", "věcná skupina nemá SkartacniRezim", entity)
    for entity in doc.basic:
        if local(entity) not in {"Dil", "Spis"}:
            continue
        znak = text(doc.evidencni(entity, "Vyrazovani/SkartacniRezim/SkartacniZnak"))
        children = [
            text(doc.evidencni(child, "Vyrazovani/SkartacniRezim/SkartacniZnak"))
            for child in doc.descendants(entity)
            if local(child) in {"Spis", "Dokument"}
        ]
        known = [z for z in children if z in _ZNAKY]
        if known:
            highest = max(known, key=_ZNAKY.__getitem__)
            if znak != highest:
                ctx.fail("obs67", f"skartační znak {znak!r}, nejvyšší u dětí {highest!r}", entity)


@RULES.rule("obs69")
def _obs69(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.basic:
        if local(entity) == "Dokument" and doc.evidencni(entity, "Vyrizeni") is None:
            ctx.fail("obs69", "základní entita dokument nemá Vyrizeni", entity)


@RULES.rule("obs70")
def _obs70(doc: MetsDoc, ctx: Context) -> None:
    parents: dict[etree._Element, int] = {}
    for identifier in _all(doc, "Identifikator"):
        parent = identifier.getparent()
        if parent is not None:
            parents[parent] = parents.get(parent, 0) + 1
    for parent, count in parents.items():
        if count > 1:
            holder = parent.getparent()
            owner = None if holder is None else holder.getparent()
            in_komponenta = (
                local(parent) == "Identifikace"
                and owner is not None
                and local(owner) == "Komponenta"
            )
            if not in_komponenta:
                ctx.fail("obs70", f"nsesss:Identifikator {count}x", parent)


def _order(
    doc: MetsDoc, ctx: Context, code: str, *, container: str, low: str, high: str, strict: bool
) -> None:
    for element in _all(doc, container):
        first, last = element.find(f"{N}{low}"), element.find(f"{N}{high}")
        if first is None or last is None:
            continue
        a, b = _comparable(text(first)), _comparable(text(last))
        if a is None or b is None or type(a) is not type(b):
            continue
        if (a >= b) if strict else (a > b):  # type: ignore[operator]
            ctx.fail(code, f"{low} {text(first)} a {high} {text(last)}", element)


def _comparable(value: str) -> date | int | str | None:
    """A value to order: a year, a day, or a year-month (as "YYYY-MM", which sorts as text)."""
    if value.isdigit():
        return int(value)
    if len(value) == 7 and value[4] == "-" and value.replace("-", "").isdigit():
        return value
    return parse_date(value)


@RULES.rule("obs71", "obs75", "obs81", "obs82", "obs83")
def _ranges(doc: MetsDoc, ctx: Context) -> None:
    _order(
        doc,
        ctx,
        "obs71",
        container="Manipulace",
        low="DatumOtevreni",
        high="DatumUzavreni",
        strict=False,
    )
    _order(
        doc, ctx, "obs75", container="Platnost", low="PlatnostOd", high="PlatnostDo", strict=False
    )
    _order(
        doc,
        ctx,
        "obs81",
        container="UrceneCasoveObdobi",
        low="DatumOd",
        high="DatumDo",
        strict=True,
    )
    _order(
        doc,
        ctx,
        "obs82",
        container="UrceneCasoveObdobi",
        low="MesicOd",
        high="MesicDo",
        strict=True,
    )
    _order(
        doc, ctx, "obs83", container="UrceneCasoveObdobi", low="RokOd", high="RokDo", strict=True
    )


@RULES.rule("obs72", "obs73", "obs74", "obs108")
def _datum_attributes(doc: MetsDoc, ctx: Context) -> None:
    for code, name in (
        ("obs72", "CasPouziti"),
        ("obs73", "CasOvereni"),
        ("obs74", "PosuzovanyOkamzik"),
    ):
        for element in _all(doc, name):
            if element.get("datum") is None:
                ctx.fail(code, f"{name} nemá atribut datum", element)
    for data in doc.xml_data:
        for element in data.iter():
            stamp = element.get("datum")
            if stamp is None or not isinstance(element.tag, str):
                continue
            if parse_date(stamp) is None or parse_date(stamp) != parse_date(text(element)):
                ctx.fail("obs108", f"datum {stamp!r} a hodnota {text(element)!r}", element)


@RULES.rule("obs76")
def _obs76(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        if local(entity) != "Dokument" or doc.analog(entity) != "ano":
            continue
        for parent in doc.ancestors(entity):
            if local(parent) != "SpisovyPlan" and doc.analog(parent) != "ano":
                ctx.fail("obs76", f"{local(parent)} neuvádí AnalogovyDokument ano", parent)


@RULES.rule("obs85a")
def _obs85a(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        if (
            local(entity) in {"Dil", "Spis"}
            and doc.analog(entity) == "ano"
            and not text(doc.evidencni(entity, "Manipulace/Umisteni"))
        ):
            ctx.fail("obs85a", "chybí Umisteni", entity)


@RULES.rule("obs86")
def _obs86(doc: MetsDoc, ctx: Context) -> None:
    for element in _all(doc, "MaterskeEntity"):
        trideni = element.getparent()
        udaje = None if trideni is None else trideni.getparent()
        owner = None if udaje is None else udaje.getparent()
        if owner is None or local(owner) != "Dokument" or owner not in doc.basic:
            ctx.fail("obs86", "MaterskeEntity mimo základní entitu dokument", element)


@RULES.rule("obs77", "obs78", "obs79", "obs80")
def _skartacni_rizeni(doc: MetsDoc, ctx: Context) -> None:
    for element in _all(doc, "SkartacniRizeni"):
        vyrazovani = element.getparent()
        udaje = None if vyrazovani is None else vyrazovani.getparent()
        owner = None if udaje is None else udaje.getparent()
        if owner is None or owner not in doc.basic:
            ctx.fail("obs78", "SkartacniRizeni mimo základní entitu", element)
        held = parse_date(text(element.find(f"{N}Datum")))
        operation = (
            text(doc.evidencni(owner, "Vyrazovani/DataceVyrazeni/RokSkartacniOperace"))
            if owner is not None
            else ""
        )
        if held is not None and operation[:4].isdigit() and held.year < int(operation[:4]):
            ctx.fail("obs79", f"datum {held} je před rokem skartační operace {operation}", element)
        if held is not None and held.year > ctx.today.year:
            ctx.fail("obs80", f"datum {held} je v budoucím roce", element)
    for entity in doc.basic:
        rizeni = doc.evidencni(entity, "Vyrazovani/SkartacniRizeni")
        if rizeni is None:
            ctx.fail("obs78", "základní entita nemá SkartacniRizeni", entity)
        elif doc.analog(entity) == "ano" and not text(rizeni.find(f"{N}Mnozstvi")):
            ctx.fail("obs77", "chybí Mnozstvi", rizeni)


@RULES.rule("obs90")
def _obs90(doc: MetsDoc, ctx: Context) -> None:
    for entity in doc.entities:
        if local(entity) == "TypovySpis":
            mother = doc.mother(entity)
            if mother is None or text(doc.evidencni(mother, "UrcenoProTypoveSpisy")) != "ano":
                ctx.fail("obs90", "mateřská věcná skupina není určena pro typové spisy", entity)
        if (
            local(entity) == "VecnaSkupina"
            and text(doc.evidencni(entity, "UrcenoProTypoveSpisy")) == "ano"
        ):
            for child in doc.child_entities(entity):
                if local(child) != "TypovySpis":
                    ctx.fail(
                        "obs90", f"věcná skupina pro typové spisy obsahuje {local(child)}", child
                    )


@RULES.rule("obs92")
def _obs92(doc: MetsDoc, ctx: Context) -> None:
    for identifier in _all(doc, "Identifikator"):
        is_ico = (identifier.get("zdroj") or "").strip() in {"IČ", "IČO"}
        if is_ico and not is_valid_ico(text(identifier)):
            ctx.fail("obs92", f"{text(identifier)!r} není platné IČO", identifier)
