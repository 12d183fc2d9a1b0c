"""The ``nsesss:Spis`` element: descriptive metadata of the spis (NSESSS v4, 2026 revision).

The spis carries its whole classification chain: each věcná skupina of the
spisový znak (2 → 2.4 → 2.4.3 → 2.4.3.3) is embedded in the ``Trideni`` of the
entity below it, and the top one holds the spisový plán. The input is a
`Resolved` spis (`hub.sip.metadata`): every value the schema requires is
present, real or a listed placeholder; nothing is invented here.

Identifiers: each kind of entity has its own ``zdroj`` (`zdroj`), so a
dokument and a komponenta that share a registry id (rows of different
tables) never collide (rule obs59).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from hub.sip.checks import is_analog
from hub.sip.metadata import vecne_skupiny_chain

if TYPE_CHECKING:
    from datetime import date

    from hub.sip.metadata import Resolved
    from hub.sip.model import Dokument, Komponenta, Obec, Spis, SpisovyPlan, Subjekt

__all__ = [
    "NSESSS_NS",
    "EntityIds",
    "build_spis_element",
    "ordered_dokumenty",
    "zdroj",
]

NSESSS_NS = "http://www.mvcr.cz/nsesss/v4"

_EVIDENCE_NAME = "Podací deník"
_ODUVODNENI_REZIMU = "Podle spisového a skartačního plánu"
_IC = "IČ"
_ISDS = "ISDS"
_TEXT_MAX = 100
_ID_MAX = 50


def zdroj(obec: Obec, kind: str) -> str:
    """Return the ``zdroj`` of identifiers of one kind of record of the obec's registry.

    Args:
        obec: The obec whose eSSL issued the identifiers.
        kind: The kind of record: ``"spis"``, ``"dokument"``, ``"komponenta"``,
            ``"věcná skupina"``, ``"spisový plán"``, ``"skartační režim"``, ``"osoba"``.

    Returns:
        At most 50 characters (the transaction log's ``ZdrojID`` limit), e.g.
        ``"eSSL 00255319 dokument"``.
    """
    return f"eSSL {obec.ico} {kind}"[:_ID_MAX]


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


def _need(value: str | None) -> str:
    # `resolve` fills every required value; a None here is a bug, not bad data.
    assert value is not None, "a required value was not resolved"
    return value


def _identifikator(parent: etree._Element, tag: str, value: str, source: str) -> None:
    _el(parent, tag, value[:_ID_MAX]).set("zdroj", source)


def _identifikace(parent: etree._Element, value: str, source: str) -> None:
    _identifikator(_el(parent, "Identifikace"), "Identifikator", value, source)


def _popis(parent: etree._Element, nazev: str) -> None:
    _el(_el(parent, "Popis"), "Nazev", nazev)


def _trideni(parent: etree._Element, znak: str) -> etree._Element:
    trideni = _el(parent, "Trideni")
    _el(trideni, "JednoduchySpisovyZnak", znak.rsplit(".", 1)[-1])
    _el(trideni, "PlneUrcenySpisovyZnak", znak)
    return trideni


def _datum(parent: etree._Element, tag: str, value: date) -> None:
    _el(parent, tag, value.isoformat())


def _ano(value: bool) -> str:
    return "ano" if value else "ne"


def _obec_subjekt(parent: etree._Element, obec: Obec) -> None:
    """Write the obec as an organisation (the plan's vydavatel)."""
    subjekt = _el(parent, "Subjekt")
    _identifikator(subjekt, "IdentifikatorOrganizace", obec.ico, _IC)
    _el(subjekt, "NazevOrganizace", obec.name)
    _el(subjekt, "SidloOrganizace", obec.sidlo or obec.name)


def _interni(parent: etree._Element, obec: Obec, jmeno: str, utvar: str, pozice: str) -> None:
    """Write a clerk of the obec (NSESSS ``tSubjektInterni``)."""
    subjekt = _el(parent, "Subjekt")
    _identifikator(subjekt, "IdentifikatorOrganizace", obec.ico, _IC)
    _el(subjekt, "NazevOrganizace", obec.name)
    _identifikator(subjekt, "IdentifikatorFyzickeOsoby", jmeno, zdroj(obec, "osoba"))
    _el(subjekt, "NazevFyzickeOsoby", jmeno)
    _el(subjekt, "OrganizacniUtvar", utvar[:_TEXT_MAX])
    _el(subjekt, "PracovniPozice", pozice[:_TEXT_MAX])
    _el(subjekt, "SidloOrganizace", obec.sidlo or obec.name)


def _externi(parent: etree._Element, subjekt: Subjekt) -> None:
    """Write an outside subject in the variant of ``tSubjektExterni`` its kind takes."""
    element = _el(parent, "Subjekt")
    kontakt = subjekt.datova_schranka or subjekt.email
    if subjekt.typ == "fyzicka_osoba":
        _el(element, "NazevFyzickeOsoby", subjekt.nazev)
        _el(element, "PostovniAdresa", _need(subjekt.postovni_adresa))
        _el(element, "ElektronickyKontakt", _need(kontakt)[:_TEXT_MAX])
        return
    if subjekt.ico:
        _identifikator(element, "IdentifikatorOrganizace", subjekt.ico, _IC)
    else:
        _identifikator(element, "IdentifikatorOrganizace", _need(subjekt.datova_schranka), _ISDS)
    _el(element, "NazevOrganizace", subjekt.nazev)
    if subjekt.osoba:
        _el(element, "NazevFyzickeOsoby", subjekt.osoba)
    _el(element, "SidloOrganizace", _need(subjekt.postovni_adresa))
    if kontakt:
        _el(element, "ElektronickyKontakt", kontakt[:_TEXT_MAX])


def _rezim(parent: etree._Element, spis: Spis, obec: Obec) -> None:
    rezim = _el(parent, "SkartacniRezim")
    _identifikator(
        rezim,
        "Identifikator",
        _need(spis.skartacni_rezim_identifikator),
        zdroj(obec, "skartační režim"),
    )
    _el(rezim, "Nazev", _need(spis.skartacni_rezim_nazev))
    # Optional since the 2026 revision, required by the 2023 text: still written.
    _el(rezim, "Oduvodneni", _ODUVODNENI_REZIMU)
    _el(rezim, "SkartacniZnak", spis.skartacni_znak)
    _el(rezim, "SkartacniLhuta", str(spis.skartacni_lhuta))
    _el(rezim, "SpousteciUdalost", _need(spis.spousteci_udalost))


def _vyrazovani(parent: etree._Element, spis: Spis, obec: Obec) -> None:
    vyrazovani = _el(parent, "Vyrazovani")
    _rezim(vyrazovani, spis, obec)
    trigger = spis.spousteci_udalost_datum or spis.datum_uzavreni
    datace = _el(vyrazovani, "DataceVyrazeni")
    _el(datace, "RokSpousteciUdalosti", f"{trigger.year:04d}")
    _el(datace, "RokSkartacniOperace", f"{trigger.year + 1 + spis.skartacni_lhuta:04d}")


def _spisovy_plan(parent: etree._Element, plan: SpisovyPlan, obec: Obec, xml_id: str) -> None:
    element = _el(parent, "SpisovyPlan")
    element.set("ID", xml_id)
    _identifikator(element, "Identifikator", plan.identifikator, zdroj(obec, "spisový plán"))
    _el(element, "Nazev", plan.nazev)
    manipulace = _el(element, "Manipulace")
    _datum(manipulace, "DatumOtevreni", plan.platnost_od)
    if plan.platnost_do is not None:
        _datum(manipulace, "DatumUzavreni", plan.platnost_do)
    _obec_subjekt(_el(element, "Vydavatel"), obec)


def _vecne_skupiny(
    parent_trideni: etree._Element, resolved: Resolved, obec: Obec, ids: EntityIds
) -> None:
    """Embed the chain of věcné skupiny, innermost (the spis's own) first.

    Only the spis's own věcná skupina carries a skartační režim (rule obs68):
    the plan assigns it there, and the spis takes it over. The ones above keep
    the empty ``Vyrazovani`` the schema allows.
    """
    spis, plan = resolved.spis, resolved.plan
    analog = any(is_analog(d) for d in spis.dokumenty)
    holder = parent_trideni
    for level in range(len(resolved.vecne_skupiny) - 1, -1, -1):
        znak, nazev = resolved.vecne_skupiny[level]
        vecna_skupina = _el(_el(holder, "MaterskaEntita"), "VecnaSkupina")
        vecna_skupina.set("ID", ids.vecne_skupiny[level])
        udaje = _el(vecna_skupina, "EvidencniUdaje")
        _identifikace(udaje, znak, zdroj(obec, "věcná skupina"))
        _popis(udaje, nazev)
        # The registry does not track when a věcná skupina was created; the
        # plan's start is the earliest date it can have existed.
        _datum(_el(udaje, "Puvod"), "DatumVytvoreni", plan.platnost_od)
        trideni = _trideni(udaje, znak)
        if level == 0:
            _spisovy_plan(trideni, plan, obec, ids.plan)
        vyrazovani = _el(udaje, "Vyrazovani")
        if level == len(resolved.vecne_skupiny) - 1:
            _rezim(vyrazovani, spis, obec)
        manipulace = _el(udaje, "Manipulace")
        _el(manipulace, "AnalogovyDokument", _ano(analog))
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
    _identifikace(udaje, komponenta.id, zdroj(obec, "komponenta"))
    _popis(udaje, komponenta.file_name)
    _trideni(udaje, spis.spisovy_znak)


def _puvod(parent: etree._Element, dokument: Dokument, obec: Obec) -> None:
    puvod = _el(parent, "Puvod")
    analog = is_analog(dokument)
    if dokument.puvod == "doruceny":
        odesilatel = next(s for s in dokument.subjekty if s.role == "odesilatel")
        doruceny = _el(puvod, "DorucenyDokument")
        _datum(doruceny, "DatumDoruceni", dokument.datum)
        reference = dokument.odesilatel_cislo_jednaci or odesilatel.cislo_jednaci
        if reference:
            _el(doruceny, "OdesilatelovoEvidencniCislo", reference[:_ID_MAX])
        if analog:
            _el(doruceny, "DoruceneMnozstvi", _need(dokument.mnozstvi))
        _externi(_el(doruceny, "Odesilatel"), odesilatel)
    else:
        vlastni = _el(puvod, "VlastniDokument")
        _datum(vlastni, "DatumVytvoreni", dokument.datum)
        if analog:
            _el(vlastni, "VytvoreneMnozstvi", _need(dokument.mnozstvi))
        _clerk(_el(vlastni, "Autor"), dokument, obec)


def _clerk(parent: etree._Element, dokument: Dokument, obec: Obec) -> None:
    _interni(
        parent,
        obec,
        _need(dokument.zpracovatel),
        _need(dokument.zpracovatel_utvar),
        _need(dokument.zpracovatel_pozice),
    )


def _vyrizeni_dokumentu(parent: etree._Element, dokument: Dokument, obec: Obec) -> None:
    if dokument.vyrizeni_datum is None:
        return
    vyrizeni = _el(parent, "Vyrizeni")
    _datum(vyrizeni, "Datum", dokument.vyrizeni_datum)
    if dokument.vyrizeni_zpusob:
        _el(vyrizeni, "Zpusob", dokument.vyrizeni_zpusob)
    if dokument.vyrizeni_obsah:
        _el(vyrizeni, "ObsahVyrizeni", dokument.vyrizeni_obsah)
    if dokument.vyrizeni_oduvodneni:
        _el(vyrizeni, "Oduvodneni", dokument.vyrizeni_oduvodneni)
    _clerk(_el(vyrizeni, "Zpracovatel"), dokument, obec)
    adresati = [s for s in dokument.subjekty if s.role == "adresat"]
    if dokument.datum_odeslani is not None and adresati:
        _datum(vyrizeni, "DatumOdeslani", dokument.datum_odeslani)
        if is_analog(dokument):
            _el(vyrizeni, "OdeslaneMnozstvi", _need(dokument.odeslane_mnozstvi))
        prijemce = _el(vyrizeni, "Prijemce")
        for adresat in adresati:
            _externi(prijemce, adresat)


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
    _identifikace(udaje, dokument.id, zdroj(obec, "dokument"))
    _popis(udaje, dokument.nazev)
    evidence = _el(udaje, "Evidence")
    _el(evidence, "EvidencniCislo", dokument.cislo_jednaci)
    _el(_el(evidence, "UrceneCasoveObdobi"), "Rok", f"{dokument.datum.year:04d}")
    _el(evidence, "NazevEvidenceDokumentu", _EVIDENCE_NAME)
    _puvod(udaje, dokument, obec)
    _trideni(udaje, spis.spisovy_znak)
    _vyrizeni_dokumentu(udaje, dokument, obec)
    _vyrazovani(udaje, spis, obec)
    manipulace = _el(udaje, "Manipulace")
    _el(manipulace, "AnalogovyDokument", _ano(is_analog(dokument)))
    if is_analog(dokument):
        _el(manipulace, "UkladaciJednotka", _need(dokument.ukladaci_jednotka)[:_TEXT_MAX])
    if komponenty:
        holder = _el(element, "Komponenty")
        for komponenta, komponenta_id in zip(komponenty, komponenta_ids, strict=True):
            _komponenta(holder, komponenta, spis, obec, komponenta_id)


def _vyrizeni_spisu(parent: etree._Element, spis: Spis, obec: Obec) -> None:
    vyrizeni = _el(parent, "VyrizeniUzavreni")
    _datum(vyrizeni, "Datum", spis.vyrizeni_datum or spis.datum_uzavreni)
    if spis.vyrizeni_zpusob:
        _el(vyrizeni, "Zpusob", spis.vyrizeni_zpusob)
    if spis.vyrizeni_obsah:
        _el(vyrizeni, "ObsahVyrizeni", spis.vyrizeni_obsah)
    if spis.vyrizeni_oduvodneni:
        _el(vyrizeni, "Oduvodneni", spis.vyrizeni_oduvodneni)
    _interni(
        _el(vyrizeni, "Zpracovatel"),
        obec,
        spis.zpracovatel,
        _need(spis.zpracovatel_utvar),
        _need(spis.zpracovatel_pozice),
    )


def build_spis_element(resolved: Resolved, obec: Obec, *, ids: EntityIds) -> etree._Element:
    """Build the ``nsesss:Spis`` element with its dokumenty and komponenty.

    Args:
        resolved: The spis with every required value resolved.
        obec: The obec it belongs to.
        ids: XML ids of all entities (see `EntityIds.for_spis`).

    Returns:
        A detached element, ready to go into ``mets:xmlData``.
    """
    spis = resolved.spis
    element = etree.Element(f"{{{NSESSS_NS}}}Spis", nsmap={"nsesss": NSESSS_NS})
    element.set("ID", ids.spis)
    udaje = _el(element, "EvidencniUdaje")
    _identifikace(udaje, spis.id, zdroj(obec, "spis"))
    _popis(udaje, spis.nazev)
    evidence = _el(udaje, "Evidence")
    _el(evidence, "EvidencniCislo", spis.spisova_znacka)
    _el(_el(evidence, "UrceneCasoveObdobi"), "Rok", f"{spis.datum_otevreni.year:04d}")
    _el(evidence, "NazevEvidenceDokumentu", _EVIDENCE_NAME)
    _datum(_el(udaje, "Puvod"), "DatumVytvoreni", spis.datum_otevreni)
    trideni = _trideni(udaje, spis.spisovy_znak)
    _vecne_skupiny(trideni, resolved, obec, ids)
    _vyrizeni_spisu(udaje, spis, obec)
    _vyrazovani(udaje, spis, obec)
    manipulace = _el(udaje, "Manipulace")
    analog = any(is_analog(d) for d in spis.dokumenty)
    _el(manipulace, "AnalogovyDokument", _ano(analog))
    _datum(manipulace, "DatumOtevreni", spis.datum_otevreni)
    _datum(manipulace, "DatumUzavreni", spis.datum_uzavreni)
    if analog:
        _el(manipulace, "Umisteni", _need(spis.umisteni))
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
