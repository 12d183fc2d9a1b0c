"""What the registry lacks, and what stands in for it: ``[closing] missing_metadata``.

`resolve` takes the spis as loaded from the registry and returns it ready for
the writer: text cleaned per field (`hub.sip.text`), rules the data breaks
refused (`hub.sip.checks`), and every element the standard requires but the
registry did not supply filled with a documented placeholder. With
``missing_metadata = "wait"`` (the default) any such gap stops the build and
names the fields instead, so the spis waits visibly until the registry
supplies them; with ``"placeholder"`` the package goes with the placeholders,
each listed (the hub's SIP ledger, ``hub spisy``, the archive's receipt).

A few values lie beyond what the registry contract can carry (the names of
the věcné skupiny above the spis's own); those always take their documented
generic value and are listed as placeholders, but never make a spis wait.
The table of placeholders is in README.md ("Placeholders").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from hub.sip.checks import format_notices, is_analog, spis_problems
from hub.sip.errors import InvalidSpisError, MissingMetadataError
from hub.sip.model import SpisovyPlan, Subjekt
from hub.sip.text import clean_obec, clean_spis
from protocol.ico import is_valid_ico

if TYPE_CHECKING:
    from hub.sip.model import Dokument, Obec, Spis

__all__ = [
    "NEUVEDENO",
    "SPOUSTECI_UDALOST",
    "MissingMetadata",
    "Placeholder",
    "Resolved",
    "resolve",
    "vecne_skupiny_chain",
]

MissingMetadata = Literal["wait", "placeholder"]
"""``[closing] missing_metadata``: wait for the registry, or go with placeholders."""

NEUVEDENO = "neuvedeno"
"""Stands in for a text the standard requires but the registry does not hold."""
SPOUSTECI_UDALOST = "uzavření spisu"
"""The default spouštěcí událost of a spis (§ 15 odst. 4 vyhlášky č. 259/2012 Sb.)."""
_JINY_ZPUSOB = "jiný způsob"


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A value that stands in for one the registry did not supply.

    Attributes:
        field: The record and registry field, e.g. ``"spis S-1: zpracovatel_utvar"``.
        value: What the package holds instead.
        waits: Whether ``missing_metadata = "wait"`` waits for it (False for
            values the registry contract cannot carry).
    """

    field: str
    value: str
    waits: bool = True


@dataclass(frozen=True, slots=True)
class Resolved:
    """A spis ready for the writer.

    Attributes:
        spis: The spis with every required value present (placeholders filled in).
        plan: The spisový plán it is classified in.
        vecne_skupiny: Name of each věcná skupina by plně určený znak, top first.
        placeholders: Every placeholder used.
        cleaned: Fields whose text lost characters XML cannot hold.
        notices: Komponenty not in an output format (see `checks.format_notices`).
    """

    spis: Spis
    plan: SpisovyPlan
    vecne_skupiny: tuple[tuple[str, str], ...]
    placeholders: tuple[Placeholder, ...]
    cleaned: tuple[str, ...]
    notices: tuple[str, ...]


def vecne_skupiny_chain(spisovy_znak: str) -> list[str]:
    """Return the plně určené znaky from the top věcná skupina down.

    Args:
        spisovy_znak: A fully qualified znak such as ``"2.4.3.3"``.

    Returns:
        For ``"2.4.3.3"``: ``["2", "2.4", "2.4.3", "2.4.3.3"]``.
    """
    parts = spisovy_znak.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


class _Filler:
    """Collects the placeholders while filling one spis."""

    def __init__(self) -> None:
        self.used: list[Placeholder] = []

    def text(self, where: str, field: str, value: str | None, placeholder: str = NEUVEDENO) -> str:
        if value is not None and value.strip():
            return value
        self.used.append(Placeholder(f"{where}: {field}", placeholder))
        return placeholder


def _subjekt(fill: _Filler, where: str, prefix: str, subjekt: Subjekt) -> Subjekt:
    """Fill what the variant of NSESSS ``tSubjektExterni`` the subject takes requires."""
    nazev = fill.text(where, f"{prefix}.nazev", subjekt.nazev)
    if subjekt.typ == "fyzicka_osoba":
        adresa = fill.text(where, f"{prefix}.postovni_adresa", subjekt.postovni_adresa)
        email = subjekt.email
        if not (subjekt.datova_schranka or subjekt.email):
            email = fill.text(where, f"{prefix}.datova_schranka|email", None)
        return dataclasses.replace(subjekt, nazev=nazev, postovni_adresa=adresa, email=email)
    ico = subjekt.ico if subjekt.ico and is_valid_ico(subjekt.ico) else None
    schranka = subjekt.datova_schranka
    if ico is None and not schranka:
        # Without an IČO or a data box the organisation has no identifier.
        schranka = fill.text(where, f"{prefix}.ico|datova_schranka", None)
    adresa = fill.text(where, f"{prefix}.postovni_adresa", subjekt.postovni_adresa)
    return dataclasses.replace(
        subjekt, nazev=nazev, ico=ico, datova_schranka=schranka, postovni_adresa=adresa
    )


def _clerk(fill: _Filler, where: str, dokument: Dokument, spis: Spis) -> dict[str, str]:
    """The dokument's clerk; the spis's útvar and pozice serve when it is the same person.

    The author of an own dokument is `odesilatel_autor`; for a received one that
    field is the outside sender, never the clerk, so the spis's zpracovatel serves.
    """
    author = dokument.odesilatel_autor if dokument.puvod == "vlastni" else None
    name = dokument.zpracovatel or author or spis.zpracovatel
    same = name == spis.zpracovatel
    utvar = dokument.zpracovatel_utvar or (spis.zpracovatel_utvar if same else None)
    pozice = dokument.zpracovatel_pozice or (spis.zpracovatel_pozice if same else None)
    return {
        "zpracovatel": fill.text(where, "zpracovatel", name),
        "zpracovatel_utvar": fill.text(where, "zpracovatel_utvar", utvar),
        "zpracovatel_pozice": fill.text(where, "zpracovatel_pozice", pozice),
    }


def _vyrizeni(fill: _Filler, where: str, dokument: Dokument) -> dict[str, object]:
    changes: dict[str, object] = {}
    if dokument.vyrizeni_zpusob == _JINY_ZPUSOB:
        changes["vyrizeni_obsah"] = fill.text(where, "vyrizeni_obsah", dokument.vyrizeni_obsah)
        changes["vyrizeni_oduvodneni"] = fill.text(
            where, "vyrizeni_oduvodneni", dokument.vyrizeni_oduvodneni
        )
    adresati = [s for s in dokument.subjekty if s.role == "adresat"]
    if dokument.datum_odeslani is not None and not adresati:
        # obs87: a dispatch date needs its recipients; without them it is left out.
        fill.used.append(Placeholder(f"{where}: subjekty (adresat)", "DatumOdeslani vynecháno"))
        changes["datum_odeslani"] = None
    elif dokument.datum_odeslani is not None and is_analog(dokument):
        changes["odeslane_mnozstvi"] = fill.text(
            where, "odeslane_mnozstvi", dokument.odeslane_mnozstvi
        )
    return changes


def _dokument(fill: _Filler, dokument: Dokument, spis: Spis) -> Dokument:
    where = f"dokument {dokument.id}"
    changes: dict[str, object] = {"nazev": fill.text(where, "nazev", dokument.nazev)}
    analog = dokument.analogovy
    if analog is None and not dokument.komponenty:
        fill.used.append(Placeholder(f"{where}: analogovy", "ano"))
    analog = is_analog(dokument)
    changes["analogovy"] = analog
    if analog:
        changes["ukladaci_jednotka"] = fill.text(
            where, "ukladaci_jednotka", dokument.ukladaci_jednotka
        )
        changes["mnozstvi"] = fill.text(where, "mnozstvi", dokument.mnozstvi)
    subjekty = [_subjekt(fill, where, f"subjekty[{i}]", s) for i, s in enumerate(dokument.subjekty)]
    if dokument.puvod == "doruceny" and not any(s.role == "odesilatel" for s in subjekty):
        # Only the sender's name is known (odesilatel_autor): the registry lacks its subjekt.
        name = fill.text(where, "odesilatel_autor", dokument.odesilatel_autor)
        sender = Subjekt(role="odesilatel", typ="fyzicka_osoba", nazev=name)
        subjekty.insert(0, _subjekt(fill, where, "subjekty[odesilatel]", sender))
    changes["subjekty"] = tuple(subjekty)
    if dokument.puvod == "vlastni" or dokument.vyrizeni_datum is not None:
        changes.update(_clerk(fill, where, dokument, spis))
    if dokument.vyrizeni_datum is not None:
        changes.update(_vyrizeni(fill, where, dokument))
    return dataclasses.replace(dokument, **changes)  # type: ignore[arg-type]


def _plan(fill: _Filler, spis: Spis, obec: Obec) -> SpisovyPlan:
    where = f"spis {spis.id}"
    identifikator = fill.text(
        where, "spisovy_plan_identifikator", spis.spisovy_plan_identifikator, f"SP-{obec.ico}"
    )
    nazev = fill.text(
        where, "spisovy_plan_nazev", spis.spisovy_plan_nazev, f"Spisový plán {obec.name}"
    )
    platnost_od = spis.spisovy_plan_platnost_od
    if platnost_od is None:
        platnost_od = spis.datum_otevreni
        fill.used.append(Placeholder(f"{where}: spisovy_plan_platnost_od", platnost_od.isoformat()))
    return SpisovyPlan(identifikator, nazev, platnost_od, spis.spisovy_plan_platnost_do)


def _vecne_skupiny(fill: _Filler, spis: Spis) -> tuple[tuple[str, str], ...]:
    known = dict(spis.vecne_skupiny)
    chain = vecne_skupiny_chain(spis.spisovy_znak)
    names = []
    for znak in chain[:-1]:
        name = known.get(znak, "").strip()
        if not name:
            name = f"Věcná skupina {znak}"
            fill.used.append(Placeholder(f"věcná skupina {znak}: nazev", name, waits=False))
        names.append((znak, name))
    own = spis.vecna_skupina_nazev or known.get(chain[-1])
    names.append(
        (
            chain[-1],
            fill.text(f"spis {spis.id}", "vecna_skupina_nazev", own, f"Věcná skupina {chain[-1]}"),
        )
    )
    return tuple(names)


def _spis(fill: _Filler, spis: Spis) -> Spis:
    where = f"spis {spis.id}"
    label = f"{spis.skartacni_znak}/{spis.skartacni_lhuta}"
    changes: dict[str, object] = {
        "nazev": fill.text(where, "nazev", spis.nazev),
        "zpracovatel": fill.text(where, "zpracovatel", spis.zpracovatel),
        "zpracovatel_utvar": fill.text(where, "zpracovatel_utvar", spis.zpracovatel_utvar),
        "zpracovatel_pozice": fill.text(where, "zpracovatel_pozice", spis.zpracovatel_pozice),
        "skartacni_rezim_identifikator": fill.text(
            where, "skartacni_rezim_identifikator", spis.skartacni_rezim_identifikator, label
        ),
        "skartacni_rezim_nazev": fill.text(
            where, "skartacni_rezim_nazev", spis.skartacni_rezim_nazev, f"Skartační režim {label}"
        ),
        "spousteci_udalost": fill.text(
            where, "spousteci_udalost", spis.spousteci_udalost, SPOUSTECI_UDALOST
        ),
        "vyrizeni_datum": spis.vyrizeni_datum or spis.datum_uzavreni,
    }
    if spis.spousteci_udalost_datum is None:
        if spis.spousteci_udalost not in {None, SPOUSTECI_UDALOST}:
            fill.used.append(
                Placeholder(f"{where}: spousteci_udalost_datum", spis.datum_uzavreni.isoformat())
            )
        changes["spousteci_udalost_datum"] = spis.datum_uzavreni
    if spis.vyrizeni_zpusob == _JINY_ZPUSOB:
        changes["vyrizeni_oduvodneni"] = fill.text(
            where, "vyrizeni_oduvodneni", spis.vyrizeni_oduvodneni
        )
    if any(is_analog(d) for d in spis.dokumenty):
        changes["umisteni"] = fill.text(where, "umisteni", spis.umisteni)
    return dataclasses.replace(spis, **changes)  # type: ignore[arg-type]


def resolve(
    spis: Spis,
    obec: Obec,
    *,
    missing_metadata: MissingMetadata = "wait",
    spisovy_plan: SpisovyPlan | None = None,
    content: bool = True,
) -> Resolved:
    """Return the spis ready for the writer, or raise naming what is wrong or missing.

    Args:
        spis: The closed spis as loaded from the registry.
        obec: Its obec.
        missing_metadata: ``"wait"`` refuses a spis with gaps, ``"placeholder"``
            fills them.
        spisovy_plan: A plan that replaces the registry's (tests, tools).
        content: Whether the komponenty's MIME types were read from their
            content; False checks the metadata alone (before reading any blob).

    Returns:
        The resolved spis with its plan, placeholders, cleaned fields and notices.

    Raises:
        InvalidSpisError: The data breaks a rule (`problems`), and/or fields
            are missing while waiting for them (`missing`).
        MissingMetadataError: Only fields are missing, and the hub waits.
    """
    spis, cleaned = clean_spis(spis)
    obec = clean_obec(obec)
    problems = spis_problems(spis, obec, content=content)
    fill = _Filler()
    filled = _spis(fill, spis)
    filled = dataclasses.replace(
        filled, dokumenty=tuple(_dokument(fill, d, filled) for d in filled.dokumenty)
    )
    plan = spisovy_plan or _plan(fill, spis, obec)
    if not obec.sidlo:
        # The hub knows the obec by name only (provisioning); its seat is not registry data.
        fill.used.append(Placeholder("obec: sidlo", obec.name, waits=False))
    vecne_skupiny = _vecne_skupiny(fill, spis)
    missing = [p.field for p in fill.used if p.waits] if missing_metadata == "wait" else []
    if problems:
        raise InvalidSpisError("; ".join(problems + missing), problems=problems, missing=missing)
    if missing:
        raise MissingMetadataError(missing)
    return Resolved(
        spis=filled,
        plan=plan,
        vecne_skupiny=vecne_skupiny,
        placeholders=tuple(fill.used),
        cleaned=tuple(cleaned),
        notices=tuple(format_notices(filled)),
    )
