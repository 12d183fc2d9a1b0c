"""The ``nsesss:Spis`` element: descriptive metadata of the spis (NSESSS v4).

The spis carries its whole classification chain: each věcná skupina of the
spisový znak (2 → 2.4 → 2.4.3 → 2.4.3.3) is embedded in the ``Trideni`` of the
entity below it, and the top one holds the spisový plán.

Several elements the schema requires have no counterpart in the registry (a
clerk's organisational unit and position, a sender's postal address); they are
filled with `NEUVEDENO` rather than invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import date

    from hub.sip.model import Dokument, Komponenta, Obec, Spis, SpisovyPlan

__all__ = [
    "NEUVEDENO",
    "NSESSS_NS",
    "EntityIds",
    "build_spis_element",
    "ordered_dokumenty",
    "vecna_skupina_name",
    "vecne_skupiny_chain",
]

NSESSS_NS = "http://www.mvcr.cz/nsesss/v4"
NEUVEDENO = "neuvedeno"
"""Stands in for data the schema requires but the registry does not keep."""

_EVIDENCE_NAME = "Podací deník"
_SPOUSTECI_UDALOST = "uzavření spisu"
_ODUVODNENI_REZIMU = "Podle spisového a skartačního plánu"
_IC = "IČ"


def vecne_skupiny_chain(spisovy_znak: str) -> list[str]:
    """Return the plně určené znaky from the top věcná skupina down.

    Args:
        spisovy_znak: A fully qualified znak such as ``"2.4.3.3"``.

    Returns:
        For ``"2.4.3.3"``: ``["2", "2.4", "2.4.3", "2.4.3.3"]``.
    """
    parts = spisovy_znak.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def vecna_skupina_name(znak: str, names: Mapping[str, str] | None) -> str:
    """Return the name of the věcná skupina `znak`, or a generic one."""
    name = (names or {}).get(znak, "").strip()
    return name or f"Věcná skupina {znak}"


@dataclass(frozen=True, slots=True)
class EntityIds:
    """The XML ``ID`` of every entity, shared by nsesss and METS references.

    Registry ids cannot serve: an XML ID must be an NCName unique within the
    whole mets.xml. These are derived from positions so rebuilding gives the
    same ids.

    Attributes:
        plan: The spisový plán.
        vecne_skupiny: Věcné skupiny from the top level down.
        spis: The spis.
        dokumenty: Per dokument, in output order.
        komponenty: Per dokument, per komponenta, in output order.
    """

    plan: str
    vecne_skupiny: tuple[str, ...]
    spis: str
    dokumenty: tuple[str, ...]
    komponenty: tuple[tuple[str, ...], ...]

    @classmethod
    def for_spis(cls, spis: Spis) -> EntityIds:
        """Number the entities of `spis` in output order (see `ordered_dokumenty`)."""
        depth = len(vecne_skupiny_chain(spis.spisovy_znak))
        dokumenty = ordered_dokumenty(spis)
        return cls(
            plan="spisovy-plan",
            vecne_skupiny=tuple(f"vs-{level}" for level in range(1, depth + 1)),
            spis="spis",
            dokumenty=tuple(f"dok-{i}" for i in range(1, len(dokumenty) + 1)),
            komponenty=tuple(
                tuple(f"komp-{i}-{j}" for j in range(1, len(komponenty) + 1))
                for i, (_, komponenty) in enumerate(dokumenty, start=1)
            ),
        )


def ordered_dokumenty(spis: Spis) -> list[tuple[Dokument, list[Komponenta]]]:
    """Return dokumenty by pořadí, each with its komponenty by pořadí and verze."""
    return [
        (dokument, sorted(dokument.komponenty, key=lambda k: (k.poradi, k.verze)))
        for dokument in sorted(spis.dokumenty, key=lambda d: d.poradi)
    ]


def _el(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NSESSS_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _identifikator(parent: etree._Element, tag: str, value: str, zdroj: str) -> None:
    _el(parent, tag, value).set("zdroj", zdroj)


def _identifikace(parent: etree._Element, value: str, zdroj: str) -> None:
    _identifikator(_el(parent, "Identifikace"), "Identifikator", value, zdroj)


def _popis(parent: etree._Element, nazev: str) -> None:
    _el(_el(parent, "Popis"), "Nazev", nazev)


def _trideni(parent: etree._Element, znak: str) -> etree._Element:
    trideni = _el(parent, "Trideni")
    _el(trideni, "JednoduchySpisovyZnak", znak.rsplit(".", 1)[-1])
    _el(trideni, "PlneUrcenySpisovyZnak", znak)
    return trideni


def _datum(parent: etree._Element, tag: str, value: date) -> None:
    _el(parent, tag, value.isoformat())


def _subjekt_organizace(parent: etree._Element, obec: Obec) -> None:
    """Write the obec as an external subject (organisation variant)."""
    subjekt = _el(parent, "Subjekt")
    _identifikator(subjekt, "IdentifikatorOrganizace", obec.ico, _IC)
    _el(subjekt, "NazevOrganizace", obec.name)
    _el(subjekt, "SidloOrganizace", obec.sidlo or obec.name)


def _subjekt_interni(parent: etree._Element, obec: Obec, jmeno: str) -> None:
    """Write a clerk of the obec; the registry only knows the clerk's name."""
    subjekt = _el(parent, "Subjekt")
    _identifikator(subjekt, "IdentifikatorOrganizace", obec.ico, _IC)
    _el(subjekt, "NazevOrganizace", obec.name)
    _identifikator(subjekt, "IdentifikatorFyzickeOsoby", jmeno[:50], obec.name)
    _el(subjekt, "NazevFyzickeOsoby", jmeno)
    _el(subjekt, "OrganizacniUtvar", NEUVEDENO)
    _el(subjekt, "PracovniPozice", NEUVEDENO)
    _el(subjekt, "SidloOrganizace", obec.sidlo or obec.name)


def _subjekt_externi_osoba(parent: etree._Element, jmeno: str) -> None:
    """Write a sender known only by name (natural-person variant)."""
    subjekt = _el(parent, "Subjekt")
    _el(subjekt, "NazevFyzickeOsoby", jmeno)
    _el(subjekt, "PostovniAdresa", NEUVEDENO)
    _el(subjekt, "ElektronickyKontakt", NEUVEDENO)


def _vyrazovani(parent: etree._Element, spis: Spis, obec: Obec) -> None:
    vyrazovani = _el(parent, "Vyrazovani")
    rezim = _el(vyrazovani, "SkartacniRezim")
    label = f"{spis.skartacni_znak}/{spis.skartacni_lhuta}"
    _identifikator(rezim, "Identifikator", label, obec.name)
    _el(rezim, "Nazev", f"Skartační režim {label}")
    _el(rezim, "Oduvodneni", _ODUVODNENI_REZIMU)
    _el(rezim, "SkartacniZnak", spis.skartacni_znak)
    _el(rezim, "SkartacniLhuta", str(spis.skartacni_lhuta))
    _el(rezim, "SpousteciUdalost", _SPOUSTECI_UDALOST)
    datace = _el(vyrazovani, "DataceVyrazeni")
    trigger_year = spis.datum_uzavreni.year
    _el(datace, "RokSpousteciUdalosti", f"{trigger_year:04d}")
    _el(datace, "RokSkartacniOperace", f"{trigger_year + 1 + spis.skartacni_lhuta:04d}")


def _spisovy_plan(parent: etree._Element, plan: SpisovyPlan, obec: Obec, xml_id: str) -> None:
    element = _el(parent, "SpisovyPlan")
    element.set("ID", xml_id)
    _identifikator(element, "Identifikator", plan.identifikator, obec.name)
    _el(element, "Nazev", plan.nazev)
    _datum(_el(element, "Manipulace"), "DatumOtevreni", plan.platnost_od)
    _subjekt_organizace(_el(element, "Vydavatel"), obec)


def _vecne_skupiny(
    parent_trideni: etree._Element,
    *,
    spis: Spis,
    obec: Obec,
    plan: SpisovyPlan,
    ids: EntityIds,
    names: Mapping[str, str] | None,
) -> None:
    """Embed the chain of věcné skupiny, innermost (the spis's own) first."""
    chain = vecne_skupiny_chain(spis.spisovy_znak)
    holder = parent_trideni
    for level in range(len(chain) - 1, -1, -1):
        znak = chain[level]
        vecna_skupina = _el(_el(holder, "MaterskaEntita"), "VecnaSkupina")
        vecna_skupina.set("ID", ids.vecne_skupiny[level])
        udaje = _el(vecna_skupina, "EvidencniUdaje")
        _identifikace(udaje, znak, obec.name)
        _popis(udaje, vecna_skupina_name(znak, names))
        # The registry does not track when a věcná skupina was created; the
        # plan's start is the earliest date it can have existed.
        _datum(_el(udaje, "Puvod"), "DatumVytvoreni", plan.platnost_od)
        trideni = _trideni(udaje, znak)
        if level == 0:
            _spisovy_plan(trideni, plan, obec, ids.plan)
        _el(udaje, "Vyrazovani")
        manipulace = _el(udaje, "Manipulace")
        _el(manipulace, "AnalogovyDokument", "ne")
        _datum(manipulace, "DatumOtevreni", plan.platnost_od)
        holder = trideni


def _komponenta(
    parent: etree._Element, komponenta: Komponenta, spis: Spis, obec: Obec, xml_id: str
) -> None:
    element = _el(parent, "Komponenta")
    element.set("ID", xml_id)
    element.set("poradi", str(komponenta.poradi))
    element.set("druh", komponenta.druh)
    element.set("verze", str(komponenta.verze))
    element.set("forma_uchovani", komponenta.forma_uchovani)
    udaje = _el(element, "EvidencniUdaje")
    _identifikace(udaje, komponenta.id, obec.name)
    _popis(udaje, komponenta.file_name)
    _trideni(udaje, spis.spisovy_znak)


def _dokument(
    parent: etree._Element,
    dokument: Dokument,
    komponenty: list[Komponenta],
    *,
    spis: Spis,
    obec: Obec,
    xml_id: str,
    komponenta_ids: tuple[str, ...],
) -> None:
    element = _el(parent, "Dokument")
    element.set("ID", xml_id)
    udaje = _el(element, "EvidencniUdaje")
    _identifikace(udaje, dokument.id, obec.name)
    _popis(udaje, dokument.nazev)
    evidence = _el(udaje, "Evidence")
    _el(evidence, "EvidencniCislo", dokument.cislo_jednaci)
    _el(_el(evidence, "UrceneCasoveObdobi"), "Rok", f"{dokument.datum.year:04d}")
    _el(evidence, "NazevEvidenceDokumentu", _EVIDENCE_NAME)
    puvod = _el(udaje, "Puvod")
    if dokument.puvod == "doruceny":
        doruceny = _el(puvod, "DorucenyDokument")
        _datum(doruceny, "DatumDoruceni", dokument.datum)
        _subjekt_externi_osoba(_el(doruceny, "Odesilatel"), dokument.odesilatel_autor)
    else:
        vlastni = _el(puvod, "VlastniDokument")
        _datum(vlastni, "DatumVytvoreni", dokument.datum)
        _subjekt_interni(_el(vlastni, "Autor"), obec, dokument.odesilatel_autor)
    _trideni(udaje, spis.spisovy_znak)
    _vyrazovani(udaje, spis, obec)
    _el(_el(udaje, "Manipulace"), "AnalogovyDokument", "ne")
    if komponenty:
        holder = _el(element, "Komponenty")
        for komponenta, komponenta_id in zip(komponenty, komponenta_ids, strict=True):
            _komponenta(holder, komponenta, spis, obec, komponenta_id)


def build_spis_element(
    spis: Spis,
    obec: Obec,
    *,
    plan: SpisovyPlan,
    ids: EntityIds,
    vecne_skupiny: Mapping[str, str] | None = None,
) -> etree._Element:
    """Build the ``nsesss:Spis`` element with its dokumenty and komponenty.

    Args:
        spis: The closed spis.
        obec: The obec it belongs to.
        plan: The spisový plán at the root of the classification.
        ids: XML ids of all entities (see `EntityIds.for_spis`).
        vecne_skupiny: Names of věcné skupiny by plně určený znak.

    Returns:
        A detached element, ready to go into ``mets:xmlData``.
    """
    element = etree.Element(f"{{{NSESSS_NS}}}Spis", nsmap={"nsesss": NSESSS_NS})
    element.set("ID", ids.spis)
    udaje = _el(element, "EvidencniUdaje")
    _identifikace(udaje, spis.id, obec.name)
    _popis(udaje, spis.nazev)
    evidence = _el(udaje, "Evidence")
    _el(evidence, "EvidencniCislo", spis.spisova_znacka)
    _el(_el(evidence, "UrceneCasoveObdobi"), "Rok", f"{spis.datum_otevreni.year:04d}")
    _el(evidence, "NazevEvidenceDokumentu", _EVIDENCE_NAME)
    _datum(_el(udaje, "Puvod"), "DatumVytvoreni", spis.datum_otevreni)
    trideni = _trideni(udaje, spis.spisovy_znak)
    _vecne_skupiny(trideni, spis=spis, obec=obec, plan=plan, ids=ids, names=vecne_skupiny)
    vyrizeni = _el(udaje, "VyrizeniUzavreni")
    _datum(vyrizeni, "Datum", spis.datum_uzavreni)
    _subjekt_interni(_el(vyrizeni, "Zpracovatel"), obec, spis.zpracovatel)
    _vyrazovani(udaje, spis, obec)
    manipulace = _el(udaje, "Manipulace")
    _el(manipulace, "AnalogovyDokument", "ne")
    _datum(manipulace, "DatumOtevreni", spis.datum_otevreni)
    _datum(manipulace, "DatumUzavreni", spis.datum_uzavreni)
    holder = _el(element, "Dokumenty")
    for (dokument, komponenty), dokument_id, komponenta_ids in zip(
        ordered_dokumenty(spis), ids.dokumenty, ids.komponenty, strict=True
    ):
        _dokument(
            holder,
            dokument,
            komponenty,
            spis=spis,
            obec=obec,
            xml_id=dokument_id,
            komponenta_ids=komponenta_ids,
        )
    return element
