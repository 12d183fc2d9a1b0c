"""An NSESSS SIP written from the standard's text, independent of hub/sip's builder.

The validator's tests and the validation benchmark use this to get packages
that were not produced by the code they judge (NSESSS annex 2 and the national
rule set, read by a second pair of eyes). The package is one spis of an obec,
in a spisový plán with two věcné skupiny, with dokumenty of one to several
komponenty each; its retention ran out years ago, so the rules of every
profile apply to it. ``prejimka=True`` adds the finished skartační řízení
that přejímka wants.

Components are streamed into the ZIP (never held whole), so a package of
several GB can be written with `content` producing its bytes chunk by chunk.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

__all__ = [
    "ICO",
    "Component",
    "SipSpec",
    "build_mets",
    "build_sip",
    "pdf_bytes",
    "write_package",
]

METS = "http://www.loc.gov/METS/"
NSESSS = "http://www.mvcr.cz/nsesss/v4"
TP = "http://www.mvcr.cz/nsesss/2023/log"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"mets": METS, "nsesss": NSESSS, "tp": TP, "xlink": XLINK, "xsi": XSI}
SCHEMA_LOCATION = (
    "http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd "
    "http://www.mvcr.cz/nsesss/v4 https://www.mvcr.cz/nsesss/v4/nsesss.xsd "
    "http://www.mvcr.cz/nsesss/2023/log https://www.mvcr.cz/nsesss/v4/nsesss-TrP.xsd"
)
ICO = "00256765"  # Obec Klášter
ZDROJ = "eSSL Obec Klášter"


def pdf_bytes(label: str) -> bytes:
    """A small file that starts like a PDF (enough for content sniffing)."""
    return b"%PDF-1.7\n% " + label.encode() + b"\n%%EOF\n"


@dataclass(frozen=True)
class Component:
    """One komponenta: its metadata and a way to produce its bytes in chunks."""

    poradi: int
    verze: int
    size: int
    chunks: Callable[[], Iterator[bytes]]
    druh: str = "hlavní dokument"
    forma: str = "originál"
    mime: str = "application/pdf"
    name: str = "soubor.pdf"


def _small(data: bytes) -> Callable[[], Iterator[bytes]]:
    return lambda: iter([data])


@dataclass
class SipSpec:
    """What `build_sip` writes.

    Attributes:
        name: The package name (ZIP name without ``.zip``).
        dokumenty: Per dokument, its komponenty.
        prejimka: Add the finished skartační řízení and the přejímka LABEL.
    """

    name: str = "SIP_Klaster_2015_7"
    dokumenty: list[list[Component]] = field(default_factory=list)
    prejimka: bool = False

    @classmethod
    def small(cls, *, prejimka: bool = False) -> SipSpec:
        """Two dokumenty: one with a main document in two versions and an attachment."""
        one = pdf_bytes("zadost v1")
        two = pdf_bytes("zadost v2")
        att = pdf_bytes("priloha")
        dec = pdf_bytes("rozhodnuti")
        return cls(
            dokumenty=[
                [
                    Component(1, 1, len(one), _small(one), forma="koncept", name="žádost.pdf"),
                    Component(1, 2, len(two), _small(two), name="žádost v2.pdf"),
                    Component(2, 1, len(att), _small(att), druh="příloha", name="příloha.pdf"),
                ],
                [Component(1, 1, len(dec), _small(dec), name="rozhodnutí.pdf")],
            ],
            prejimka=prejimka,
        )


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    prefix, _, name = tag.partition(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _rezim(parent: etree._Element) -> None:
    rezim = _el(parent, "nsesss:SkartacniRezim")
    _el(rezim, "nsesss:Identifikator", "A/5", zdroj=ZDROJ)
    _el(rezim, "nsesss:Nazev", "Skartační režim A/5")
    _el(rezim, "nsesss:Oduvodneni", "Spisový a skartační plán obce")
    _el(rezim, "nsesss:SkartacniZnak", "A")
    _el(rezim, "nsesss:SkartacniLhuta", "5")
    _el(rezim, "nsesss:SpousteciUdalost", "uzavření spisu")


def _vyrazovani(udaje: etree._Element, *, basic: bool, prejimka: bool) -> None:
    vyrazovani = _el(udaje, "nsesss:Vyrazovani")
    _rezim(vyrazovani)
    if basic:
        datace = _el(vyrazovani, "nsesss:DataceVyrazeni")
        _el(datace, "nsesss:RokSpousteciUdalosti", "2015")
        _el(datace, "nsesss:RokSkartacniOperace", "2021")
    if basic and prejimka:
        rizeni = _el(vyrazovani, "nsesss:SkartacniRizeni")
        _el(rizeni, "nsesss:Datum", "2022-03-15")
        _el(rizeni, "nsesss:SkartacniOperace", "trvalé uložení")
        _person(_el(rizeni, "nsesss:Posuzovatel"))


def _person(holder: etree._Element) -> None:
    subjekt = _el(holder, "nsesss:Subjekt")
    _el(subjekt, "nsesss:IdentifikatorOrganizace", ICO, zdroj="IČ")
    _el(subjekt, "nsesss:NazevOrganizace", "Obec Klášter")
    _el(subjekt, "nsesss:IdentifikatorFyzickeOsoby", "ref-12", zdroj=ZDROJ)
    _el(subjekt, "nsesss:NazevFyzickeOsoby", "Marie Nováková")
    _el(subjekt, "nsesss:OrganizacniUtvar", "podatelna")
    _el(subjekt, "nsesss:PracovniPozice", "referentka")
    _el(subjekt, "nsesss:SidloOrganizace", "Klášter 1, 345 06 Klášter")


def _identity(udaje: etree._Element, ident: str, nazev: str) -> None:
    _el(_el(udaje, "nsesss:Identifikace"), "nsesss:Identifikator", ident, zdroj=ZDROJ)
    _el(_el(udaje, "nsesss:Popis"), "nsesss:Nazev", nazev)


def _vecna_skupina(parent: etree._Element, vid: str, jsz: str, pusz: str) -> etree._Element:
    skupina = _el(parent, "nsesss:VecnaSkupina", ID=vid)
    udaje = _el(skupina, "nsesss:EvidencniUdaje")
    _identity(udaje, f"vs-{pusz}", f"Věcná skupina {pusz}")
    _el(_el(udaje, "nsesss:Puvod"), "nsesss:DatumVytvoreni", "2010-01-01")
    trideni = _el(udaje, "nsesss:Trideni")
    _el(trideni, "nsesss:JednoduchySpisovyZnak", jsz)
    _el(trideni, "nsesss:PlneUrcenySpisovyZnak", pusz)
    return skupina


def _finish_vs(skupina: etree._Element) -> None:
    udaje = skupina.find(f"{{{NSESSS}}}EvidencniUdaje")
    assert udaje is not None
    _vyrazovani(udaje, basic=False, prejimka=False)
    manipulace = _el(udaje, "nsesss:Manipulace")
    _el(manipulace, "nsesss:AnalogovyDokument", "ne")
    _el(manipulace, "nsesss:DatumOtevreni", "2010-01-01")


def _hierarchy(trideni: etree._Element) -> None:
    """Věcná skupina 1.2 in věcná skupina 1 in the spisový plán."""
    mother = _el(trideni, "nsesss:MaterskaEntita")
    lower = _vecna_skupina(mother, "vs-2", "2", "1.2")
    lower_trideni = lower.find(f"{{{NSESSS}}}EvidencniUdaje/{{{NSESSS}}}Trideni")
    assert lower_trideni is not None
    upper_holder = _el(lower_trideni, "nsesss:MaterskaEntita")
    upper = _vecna_skupina(upper_holder, "vs-1", "1", "1")
    plan_holder = upper.find(f"{{{NSESSS}}}EvidencniUdaje/{{{NSESSS}}}Trideni")
    assert plan_holder is not None
    plan = _el(plan_holder, "nsesss:SpisovyPlan", ID="plan")
    _el(plan, "nsesss:Identifikator", "SP-2010", zdroj=ZDROJ)
    _el(plan, "nsesss:Nazev", "Spisový a skartační plán Obce Klášter")
    _el(_el(plan, "nsesss:Manipulace"), "nsesss:DatumOtevreni", "2010-01-01")
    vydavatel = _el(plan, "nsesss:Vydavatel")
    subjekt = _el(vydavatel, "nsesss:Subjekt")
    _el(subjekt, "nsesss:IdentifikatorOrganizace", ICO, zdroj="IČ")
    _el(subjekt, "nsesss:NazevOrganizace", "Obec Klášter")
    _el(subjekt, "nsesss:SidloOrganizace", "Klášter 1, 345 06 Klášter")
    _finish_vs(upper)
    _finish_vs(lower)


def _trideni(udaje: etree._Element) -> etree._Element:
    trideni = _el(udaje, "nsesss:Trideni")
    _el(trideni, "nsesss:JednoduchySpisovyZnak", "2")
    _el(trideni, "nsesss:PlneUrcenySpisovyZnak", "1.2")
    return trideni


def _evidence(udaje: etree._Element, number: str) -> None:
    evidence = _el(udaje, "nsesss:Evidence")
    _el(evidence, "nsesss:EvidencniCislo", number)
    _el(_el(evidence, "nsesss:UrceneCasoveObdobi"), "nsesss:Rok", "2015")
    _el(evidence, "nsesss:NazevEvidenceDokumentu", "Podací deník")


def _dokument(parent: etree._Element, index: int, spec: SipSpec) -> etree._Element:
    dokument = _el(parent, "nsesss:Dokument", ID=f"dok-{index}")
    udaje = _el(dokument, "nsesss:EvidencniUdaje")
    _identity(udaje, f"dok-{index}", f"Dokument {index} ve věci kácení")
    _evidence(udaje, f"KL-{100 + index}/2015")
    vlastni = _el(_el(udaje, "nsesss:Puvod"), "nsesss:VlastniDokument")
    _el(vlastni, "nsesss:DatumVytvoreni", "2015-03-02")
    _person(_el(vlastni, "nsesss:Autor"))
    _trideni(udaje)
    _vyrazovani(udaje, basic=False, prejimka=spec.prejimka)
    _el(_el(udaje, "nsesss:Manipulace"), "nsesss:AnalogovyDokument", "ne")
    holder = _el(dokument, "nsesss:Komponenty")
    for number, component in enumerate(spec.dokumenty[index - 1], start=1):
        komponenta = _el(
            holder,
            "nsesss:Komponenta",
            ID=f"komp-{index}-{number}",
            poradi=str(component.poradi),
            druh=component.druh,
            verze=str(component.verze),
            forma_uchovani=component.forma,
        )
        k_udaje = _el(komponenta, "nsesss:EvidencniUdaje")
        _identity(k_udaje, f"komp-{index}-{number}", component.name)
        _trideni(k_udaje)
    return dokument


def _spis(xml_data: etree._Element, spec: SipSpec) -> None:
    spis = _el(xml_data, "nsesss:Spis", ID="spis")
    udaje = _el(spis, "nsesss:EvidencniUdaje")
    _identity(udaje, "spis-7", "Kácení dřevin u hřbitova")
    _evidence(udaje, "KL-7/2015")
    _el(_el(udaje, "nsesss:Puvod"), "nsesss:DatumVytvoreni", "2015-03-02")
    _hierarchy(_trideni(udaje))
    vyrizeni = _el(udaje, "nsesss:VyrizeniUzavreni")
    _el(vyrizeni, "nsesss:Datum", "2015-06-30")
    _el(vyrizeni, "nsesss:Zpusob", "vyřízení dokumentem")
    _person(_el(vyrizeni, "nsesss:Zpracovatel"))
    _vyrazovani(udaje, basic=True, prejimka=spec.prejimka)
    manipulace = _el(udaje, "nsesss:Manipulace")
    _el(manipulace, "nsesss:AnalogovyDokument", "ne")
    _el(manipulace, "nsesss:DatumOtevreni", "2015-03-02")
    _el(manipulace, "nsesss:DatumUzavreni", "2015-06-30")
    dokumenty = _el(spis, "nsesss:Dokumenty")
    for index in range(1, len(spec.dokumenty) + 1):
        _dokument(dokumenty, index, spec)


_ENTITIES = [
    ("plan", "SpisovyPlan", "spisový plán", "SP-2010"),
    ("vs-1", "VecnaSkupina", "věcná skupina", "vs-1"),
    ("vs-2", "VecnaSkupina", "věcná skupina", "vs-1.2"),
    ("spis", "Spis", "spis", "spis-7"),
]


def _log(root: etree._Element, xml_id: str, kind: str, ident: str) -> None:
    section = _el(root, "mets:amdSec", ID=f"amd-{xml_id}")
    digiprov = _el(section, "mets:digiprovMD", ID=f"tp-{xml_id}")
    wrap = _el(
        digiprov,
        "mets:mdWrap",
        MDTYPE="OTHER",
        OTHERMDTYPE="TP",
        MDTYPEVERSION="4.0",
        MIMETYPE="text/xml",
    )
    log = _el(_el(wrap, "mets:xmlData"), "tp:TransakcniLogObjektu")
    info = _el(log, "tp:TransLogInfo")
    own = _el(info, "tp:Identifikator")
    _el(own, "tp:HodnotaID", f"log-{xml_id}")
    _el(own, "tp:ZdrojID", ZDROJ)
    for tag in ("tp:DatumVzniku", "tp:DatumCasOd", "tp:DatumCasDo"):
        _el(info, tag, "2015-07-01T09:30:00+02:00")
    _el(info, "tp:Software", "eSSL Klášter 3.1")
    objekt = _el(info, "tp:Objekt")
    _el(_el(objekt, "tp:TypObjektu"), "tp:TypObjektuId", kind)
    about = _el(objekt, "tp:Identifikator")
    _el(about, "tp:HodnotaID", ident)
    _el(about, "tp:ZdrojID", ZDROJ)
    _el(log, "tp:Udalosti")


@dataclass(frozen=True)
class _Written:
    href: str
    size: int
    sha256: str


def build_mets(spec: SipSpec, written: list[list[_Written]]) -> etree._ElementTree:
    """The mets.xml of `spec`, given each komponenta's file (href, size, SHA-256)."""
    root = etree.Element(f"{{{METS}}}mets", nsmap=NSMAP)
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    root.set("OBJID", spec.name)
    label = (
        "předávání dokumentů a jejich metadat do archivu"
        if spec.prejimka
        else "provedení skartačního řízení"
    )
    root.set("LABEL", f"Datový balíček pro {label}")
    header = _el(
        root, "mets:metsHdr", CREATEDATE="2022-04-01T10:00:00", LASTMODDATE="2022-04-01T10:00:00"
    )
    organization = _el(header, "mets:agent", ID="org", ROLE="CREATOR", TYPE="ORGANIZATION")
    _el(organization, "mets:name", "Obec Klášter")
    person = _el(header, "mets:agent", ID="osoba", ROLE="CREATOR", TYPE="INDIVIDUAL")
    _el(person, "mets:name", "Marie Nováková")
    dmd = _el(root, "mets:dmdSec", ID="dmd")
    wrap = _el(
        dmd,
        "mets:mdWrap",
        MDTYPE="OTHER",
        OTHERMDTYPE="NSESSS",
        MDTYPEVERSION="4.0",
        MIMETYPE="text/xml",
    )
    _spis(_el(wrap, "mets:xmlData"), spec)
    for xml_id, kind, _type, ident in _ENTITIES:
        _log(root, xml_id, kind, ident)
    for index, komponenty in enumerate(spec.dokumenty, start=1):
        _log(root, f"dok-{index}", "Dokument", f"dok-{index}")
        for number in range(1, len(komponenty) + 1):
            _log(root, f"komp-{index}-{number}", "Komponenta", f"komp-{index}-{number}")
    group = _el(_el(root, "mets:fileSec"), "mets:fileGrp", ID="komponenty")
    for index, komponenty in enumerate(spec.dokumenty, start=1):
        for number, (component, file) in enumerate(
            zip(komponenty, written[index - 1], strict=True), start=1
        ):
            entry = _el(
                group,
                "mets:file",
                ID=f"file-{index}-{number}",
                DMDID=f"komp-{index}-{number}",
                MIMETYPE=component.mime,
                SIZE=str(file.size),
                CREATED="2015-03-02T08:15:00",
                CHECKSUM=file.sha256,
                CHECKSUMTYPE="SHA-256",
            )
            flocat = _el(entry, "mets:FLocat", LOCTYPE="URL")
            flocat.set(f"{{{XLINK}}}type", "simple")
            flocat.set(f"{{{XLINK}}}href", file.href)
    structure = _el(root, "mets:structMap", TYPE="PHYSICAL")
    div = structure
    for xml_id, _kind, kind, _ident in _ENTITIES:
        div = _el(div, "mets:div", TYPE=kind, DMDID=xml_id, ADMID=f"amd-{xml_id}")
    for index, komponenty in enumerate(spec.dokumenty, start=1):
        doc_div = _el(
            div, "mets:div", TYPE="dokument", DMDID=f"dok-{index}", ADMID=f"amd-dok-{index}"
        )
        for number in range(1, len(komponenty) + 1):
            k_div = _el(
                doc_div,
                "mets:div",
                TYPE="komponenta",
                DMDID=f"komp-{index}-{number}",
                ADMID=f"amd-komp-{index}-{number}",
            )
            _el(k_div, "mets:fptr", FILEID=f"file-{index}-{number}")
    return etree.ElementTree(root)


def write_package(
    out_dir: Path,
    spec: SipSpec,
    mutate: Callable[[etree._Element], None] | None = None,
) -> Path:
    """Write the SIP ZIP of `spec` into `out_dir`, streaming the komponenty.

    Args:
        out_dir: Where ``<name>.zip`` goes.
        spec: What to write.
        mutate: Changes mets.xml's root before it is written (for failing cases).

    Returns:
        The ZIP's path.
    """
    path = out_dir / f"{spec.name}.zip"
    written: list[list[_Written]] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for index, komponenty in enumerate(spec.dokumenty, start=1):
            files = []
            for number, component in enumerate(komponenty, start=1):
                href = f"komponenty/{index}_{number}.pdf"
                info = zipfile.ZipInfo(f"{spec.name}/{href}", (2015, 3, 2, 8, 15, 0))
                digest = hashlib.sha256()
                size = 0
                with archive.open(info, "w", force_zip64=component.size > 2**31) as sink:
                    for chunk in component.chunks():
                        digest.update(chunk)
                        size += len(chunk)
                        sink.write(chunk)
                files.append(_Written(href, size, digest.hexdigest()))
            written.append(files)
        tree = build_mets(spec, written)
        if mutate is not None:
            mutate(tree.getroot())
        data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        archive.writestr(f"{spec.name}/mets.xml", data, zipfile.ZIP_DEFLATED)
    return path


def build_sip(out_dir: Path, *, prejimka: bool = False) -> Path:
    """The small reference package (`SipSpec.small`) as a ZIP in `out_dir`."""
    return write_package(out_dir, SipSpec.small(prejimka=prejimka))
