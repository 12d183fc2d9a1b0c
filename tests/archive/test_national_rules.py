"""Each implemented national rule: a package that breaks it fails with its code, the reference passes.

The packages come from `testkit.nsesss_sip` (written from NSESSS annex 2 and
the rule texts, not by hub/sip), changed in mets.xml the way each rule's text
forbids. The reference package passes every rule of every profile.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from archive.validation import IMPLEMENTED, PROFILES, format_report, validate_sip
from archive.validation.ruleset import PROFILE_LABELS, national_rules
from testkit.nsesss_sip import SipSpec, build_sip, write_package

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    Change = Callable[[etree._Element], None]

TODAY = date(2026, 11, 29)
NS = {
    "mets": "http://www.loc.gov/METS/",
    "nsesss": "http://www.mvcr.cz/nsesss/v4",
    "tp": "http://www.mvcr.cz/nsesss/2023/log",
    "xlink": "http://www.w3.org/1999/xlink",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
SPIS = "//nsesss:Spis"
DOK1 = "//nsesss:Dokument[@ID='dok-1']"
DOK2 = "//nsesss:Dokument[@ID='dok-2']"
SPIS_UDAJE = f"{SPIS}/nsesss:EvidencniUdaje"
DOK1_UDAJE = f"{DOK1}/nsesss:EvidencniUdaje"


def one(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath, namespaces=NS)
    assert isinstance(found, list), xpath
    assert found, xpath
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


def add(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    prefix, _, name = tag.partition(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    element.text = text
    return element


def set_attr(xpath: str, name: str, value: str | None) -> Change:
    def change(root: etree._Element) -> None:
        element = one(root, xpath)
        key = (
            f"{{{NS[name.split(':', maxsplit=1)[0]]}}}{name.split(':')[1]}" if ":" in name else name
        )
        if value is None:
            del element.attrib[key]
        else:
            element.set(key, value)

    return change


def set_text(xpath: str, value: str) -> Change:
    def change(root: etree._Element) -> None:
        one(root, xpath).text = value

    return change


def remove(xpath: str) -> Change:
    def change(root: etree._Element) -> None:
        element = one(root, xpath)
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)

    return change


def duplicate(xpath: str, new_id: str | None = None) -> Change:
    def change(root: etree._Element) -> None:
        element = one(root, xpath)
        twin = copy.deepcopy(element)
        if new_id is not None:
            twin.set("ID", new_id)
        element.addnext(twin)

    return change


def append(xpath: str, tag: str, text: str | None = None, **attrs: str) -> Change:
    def change(root: etree._Element) -> None:
        add(one(root, xpath), tag, text, **attrs)

    return change


def set_all_text(xpath: str, value: str) -> Change:
    def change(root: etree._Element) -> None:
        found = root.xpath(xpath, namespaces=NS)
        assert isinstance(found, list), xpath
        assert found, xpath
        for element in found:
            assert isinstance(element, etree._Element)
            element.text = value

    return change


def after(xpath: str, tag: str, text: str) -> Change:
    def change(root: etree._Element) -> None:
        prefix, _, name = tag.partition(":")
        element = etree.Element(f"{{{NS[prefix]}}}{name}")
        element.text = text
        one(root, xpath).addnext(element)

    return change


def both(*changes: Change) -> Change:
    def change(root: etree._Element) -> None:
        for each in changes:
            each(root)

    return change


def pair(xpath: str, container: str, low: tuple[str, str], high: tuple[str, str]) -> Change:
    """Add `container` under `xpath` holding the two elements (name, value) in this order."""

    def change(root: etree._Element) -> None:
        holder = add(one(root, xpath), container)
        add(holder, *low)
        add(holder, *high)

    return change


def _basic_dokument(root: etree._Element) -> None:
    """Make a dokument the basic entity instead of the spis."""
    data = one(root, "//mets:dmdSec/mets:mdWrap/mets:xmlData")
    dokument = one(root, DOK1)
    for child in list(data):
        data.remove(child)
    data.append(dokument)


def _second_basic(root: etree._Element) -> None:
    """A second basic entity (a copy of dokument 1) with another spisový znak."""
    twin = copy.deepcopy(one(root, DOK1))
    one(root, "//mets:dmdSec//mets:xmlData").append(twin)
    found = twin.find(".//nsesss:Trideni/nsesss:PlneUrcenySpisovyZnak", NS)
    assert found is not None
    found.text = "9.2"


def _vyrizeni(root: etree._Element, *, zpusob: str = "", sent: bool = False) -> None:
    vyrizeni = etree.Element(f"{{{NS['nsesss']}}}Vyrizeni")
    one(root, f"{DOK1_UDAJE}/nsesss:Vyrazovani").addprevious(vyrizeni)
    add(vyrizeni, "nsesss:Datum", "2015-04-01")
    if zpusob:
        add(vyrizeni, "nsesss:Zpusob", zpusob)
        add(vyrizeni, "nsesss:Oduvodneni", "jinak")
    if sent:
        add(vyrizeni, "nsesss:DatumOdeslani", "2015-04-02")


def _doruceny(root: etree._Element) -> None:
    puvod = one(root, f"{DOK1_UDAJE}/nsesss:Puvod")
    for child in list(puvod):
        puvod.remove(child)
    add(add(puvod, "nsesss:DorucenyDokument"), "nsesss:DatumDoruceni", "2015-03-01")


ANALOG_DOK1 = set_text(f"{DOK1_UDAJE}/nsesss:Manipulace/nsesss:AnalogovyDokument", "ano")
ANALOG_SPIS = set_text(f"{SPIS_UDAJE}/nsesss:Manipulace/nsesss:AnalogovyDokument", "ano")
FILE = "//mets:file[@ID='file-1-{}']"
KOMP = "//nsesss:Komponenta[@ID='komp-1-{}']"
RIZENI = f"{SPIS_UDAJE}/nsesss:Vyrazovani/nsesss:SkartacniRizeni"

FAULTS: dict[str, Change] = {
    "ns2": set_attr("/mets:mets", "xsi:schemaLocation", "http://www.loc.gov/METS/ mets.xsd"),
    "val1": append(SPIS_UDAJE, "nsesss:Neznamy", "x"),
    "obs1": set_attr("/mets:mets", "OBJID", " "),
    "obs2": set_attr("/mets:mets", "LABEL", "Datový balíček"),
    "obs3": set_attr("/mets:mets", "LABEL", "Datový balíček pro provedení skartačního řízení"),
    "obs10": remove("//mets:metsHdr"),
    "obs11": duplicate("//mets:dmdSec", "dmd2"),
    "obs12": lambda root: [root.remove(s) for s in root.findall(f"{{{NS['mets']}}}amdSec")],
    "obs13": duplicate("//mets:structMap"),
    "obs14": set_attr("//mets:metsHdr", "LASTMODDATE", None),
    "obs15": set_attr("//mets:metsHdr", "CREATEDATE", None),
    "obs16": duplicate("//mets:agent[@TYPE='ORGANIZATION']", "org2"),
    "obs17": remove("//mets:agent[@TYPE='INDIVIDUAL']"),
    "obs18": set_attr("//mets:agent[@TYPE='INDIVIDUAL']", "ROLE", "EDITOR"),
    "obs19": set_attr("//mets:agent[@TYPE='INDIVIDUAL']", "ID", None),
    "obs20": set_text("//mets:agent[@TYPE='INDIVIDUAL']/mets:name", ""),
    "obs22": duplicate("//mets:dmdSec/mets:mdWrap"),
    "obs23": set_attr("//mets:dmdSec/mets:mdWrap", "MDTYPEVERSION", "3.0"),
    "obs24": set_attr("//mets:dmdSec/mets:mdWrap", "OTHERMDTYPE", "EAD"),
    "obs25": set_attr("//mets:dmdSec/mets:mdWrap", "MDTYPE", "DC"),
    "obs26": set_attr("//mets:dmdSec/mets:mdWrap", "MIMETYPE", "application/xml"),
    "obs27": duplicate("//mets:dmdSec/mets:mdWrap/mets:xmlData"),
    "obs28": duplicate(SPIS, "spis2"),
    "obs29": lambda root: add(
        add(one(root, SPIS_UDAJE), "nsesss:KrizovyOdkaz", pevny="ano"),
        "nsesss:Identifikator",
        "jiny-spis",
        zdroj="eSSL Obec Klášter",
    ),
    "obs30": set_attr("//mets:amdSec[@ID='amd-spis']", "ID", None),
    "obs31": duplicate("//mets:amdSec[@ID='amd-spis']/mets:digiprovMD", "tp-x"),
    "obs33": duplicate("//mets:amdSec[@ID='amd-spis']//mets:mdWrap"),
    "obs34": set_attr("//mets:amdSec[@ID='amd-spis']//mets:mdWrap", "MDTYPEVERSION", "1"),
    "obs35": set_attr("//mets:amdSec[@ID='amd-spis']//mets:mdWrap", "OTHERMDTYPE", "LOG"),
    "obs36": set_attr("//mets:amdSec[@ID='amd-spis']//mets:mdWrap", "MDTYPE", "PREMIS"),
    "obs37": set_attr("//mets:amdSec[@ID='amd-spis']//mets:mdWrap", "MIMETYPE", "text/plain"),
    "obs38": duplicate("//mets:amdSec[@ID='amd-spis']//mets:xmlData"),
    "obs39": remove("//mets:amdSec[@ID='amd-spis']//tp:TransakcniLogObjektu"),
    "obs40": remove("//mets:fileSec"),
    "obs41": set_attr(FILE.format(1), "MIMETYPE", "pdf"),
    "obs43a": duplicate("//mets:fileGrp", "grp2"),
    "obs44": set_attr(FILE.format(1), "DMDID", "dok-1"),
    "obs46": set_attr(FILE.format(1), "CHECKSUMTYPE", "MD5"),
    "obs49": set_attr(FILE.format(1), "CREATED", None),
    "obs50": duplicate(f"{FILE.format(1)}/mets:FLocat"),
    "obs51": set_attr(f"{FILE.format(1)}/mets:FLocat", "xlink:type", "locator"),
    "obs52": set_attr(f"{FILE.format(1)}/mets:FLocat", "xlink:href", "komponenty\\1_1.pdf"),
    "obs53": set_attr(f"{FILE.format(1)}/mets:FLocat", "LOCTYPE", "OTHER"),
    "obs54": set_attr("//mets:div[@DMDID='spis']", "ADMID", "tp-spis"),
    "obs55": remove("//mets:div[@DMDID='komp-1-1']/mets:fptr"),
    "obs56": set_attr("//mets:div[@DMDID='komp-1-1']/mets:fptr", "FILEID", "file-1-2"),
    "obs57": set_text(f"{DOK1_UDAJE}/nsesss:Identifikace/nsesss:Identifikator", " "),
    "obs58": set_attr(f"{DOK1_UDAJE}/nsesss:Identifikace/nsesss:Identifikator", "zdroj", ""),
    "obs59": set_text(
        f"{DOK2}/nsesss:EvidencniUdaje/nsesss:Identifikace/nsesss:Identifikator", "dok-1"
    ),
    "obs59a": remove(f"{DOK1_UDAJE}/nsesss:Evidence/nsesss:EvidencniCislo"),
    "obs60": remove(f"{DOK2}/nsesss:Komponenty"),
    "obs61": both(ANALOG_DOK1, _doruceny),
    "obs61a": ANALOG_DOK1,
    "obs62": append(f"{DOK1_UDAJE}/nsesss:Popis", "nsesss:Jazyk", "czech"),
    "obs63": set_text(f"{SPIS_UDAJE}/nsesss:VyrizeniUzavreni/nsesss:Zpusob", "jiný způsob"),
    "obs64": _basic_dokument,
    "obs65": set_text(
        f"{SPIS_UDAJE}/nsesss:Vyrazovani/nsesss:SkartacniRezim/nsesss:SkartacniLhuta", "50"
    ),
    "obs66": both(
        set_text(f"{SPIS_UDAJE}/nsesss:VyrizeniUzavreni/nsesss:Datum", "2027-02-01"),
        set_text(f"{SPIS_UDAJE}/nsesss:Vyrazovani/nsesss:SkartacniRezim/nsesss:SkartacniZnak", "V"),
    ),
    "obs67": set_text(
        f"{SPIS_UDAJE}/nsesss:Vyrazovani/nsesss:SkartacniRezim/nsesss:SkartacniZnak", "S"
    ),
    "obs68": remove("//nsesss:VecnaSkupina[@ID='vs-2']/nsesss:EvidencniUdaje/nsesss:Vyrazovani"),
    "obs69": _basic_dokument,
    "obs70": duplicate(f"{SPIS_UDAJE}/nsesss:Identifikace/nsesss:Identifikator"),
    "obs71": set_text(f"{SPIS_UDAJE}/nsesss:Manipulace/nsesss:DatumOtevreni", "2016-01-01"),
    "obs72": append(f"{DOK1_UDAJE}/nsesss:Popis", "nsesss:CasPouziti", "2015-01-01"),
    "obs73": append(f"{DOK1_UDAJE}/nsesss:Popis", "nsesss:CasOvereni", "2015-01-01"),
    "obs74": append(f"{DOK1_UDAJE}/nsesss:Popis", "nsesss:PosuzovanyOkamzik", "2015-01-01"),
    "obs75": pair(
        f"{DOK1_UDAJE}/nsesss:Popis",
        "nsesss:Platnost",
        ("nsesss:PlatnostOd", "2016-01-01"),
        ("nsesss:PlatnostDo", "2015-01-01"),
    ),
    "obs76": both(
        ANALOG_DOK1,
        append(f"{DOK1_UDAJE}/nsesss:Manipulace", "nsesss:UkladaciJednotka", "krabice 3"),
    ),
    "obs77": ANALOG_SPIS,
    "obs78": remove(RIZENI),
    "obs79": set_text(f"{RIZENI}/nsesss:Datum", "2019-01-01"),
    "obs80": set_text(f"{RIZENI}/nsesss:Datum", "2030-01-01"),
    "obs81": pair(
        f"{SPIS_UDAJE}/nsesss:Evidence",
        "nsesss:UrceneCasoveObdobi",
        ("nsesss:DatumOd", "2015-05-01"),
        ("nsesss:DatumDo", "2015-01-01"),
    ),
    "obs82": pair(
        f"{SPIS_UDAJE}/nsesss:Evidence",
        "nsesss:UrceneCasoveObdobi",
        ("nsesss:MesicOd", "2015-05"),
        ("nsesss:MesicDo", "2015-05"),
    ),
    "obs83": pair(
        f"{SPIS_UDAJE}/nsesss:Evidence",
        "nsesss:UrceneCasoveObdobi",
        ("nsesss:RokOd", "2016"),
        ("nsesss:RokDo", "2015"),
    ),
    "obs84": lambda root: _vyrizeni(root, zpusob="jiný způsob"),
    "obs85": ANALOG_DOK1,
    "obs85a": ANALOG_SPIS,
    "obs86": append(f"{DOK1_UDAJE}/nsesss:Trideni", "nsesss:MaterskeEntity"),
    "obs87": lambda root: _vyrizeni(root, sent=True),
    "obs88": both(ANALOG_DOK1, lambda root: _vyrizeni(root, sent=True)),
    "obs90": append(
        "//nsesss:VecnaSkupina[@ID='vs-2']/nsesss:EvidencniUdaje",
        "nsesss:UrcenoProTypoveSpisy",
        "ano",
    ),
    "obs92": both(
        set_attr(f"{SPIS_UDAJE}/nsesss:Identifikace/nsesss:Identifikator", "zdroj", "IČ"),
        set_text(f"{SPIS_UDAJE}/nsesss:Identifikace/nsesss:Identifikator", "12345678"),
    ),
    "obs93": set_text(f"{DOK1_UDAJE}/nsesss:Popis/nsesss:Nazev", ""),
    "obs93a": set_text(f"{DOK1_UDAJE}/nsesss:Trideni/nsesss:JednoduchySpisovyZnak", ""),
    "obs93b": set_text(
        "//nsesss:VecnaSkupina[@ID='vs-1']/nsesss:EvidencniUdaje/nsesss:Trideni/nsesss:PlneUrcenySpisovyZnak",
        "0.1",
    ),
    "obs94": set_text(f"{DOK1_UDAJE}/nsesss:Trideni/nsesss:PlneUrcenySpisovyZnak", "1.3"),
    "obs95": set_text(
        "//nsesss:VecnaSkupina[@ID='vs-2']/nsesss:EvidencniUdaje/nsesss:Trideni/nsesss:PlneUrcenySpisovyZnak",
        "7.2",
    ),
    "obs96": set_text(
        "//nsesss:VecnaSkupina[@ID='vs-2']/nsesss:EvidencniUdaje/nsesss:Trideni/nsesss:PlneUrcenySpisovyZnak",
        "2",
    ),
    "obs97": _second_basic,
    "obs98": both(
        set_text(f"{DOK1_UDAJE}/nsesss:Trideni/nsesss:JednoduchySpisovyZnak", "3"),
        set_text(f"{DOK1_UDAJE}/nsesss:Trideni/nsesss:PlneUrcenySpisovyZnak", "1.3"),
    ),
    "obs98a": set_attr(KOMP.format(1), "forma_uchovani", "digitalizát"),
    "obs100": set_attr(KOMP.format(3), "poradi", "3"),
    "obs101": set_attr(KOMP.format(1), "druh", "příloha"),
    "obs102": set_attr(KOMP.format(2), "verze", "01"),
    "obs103": set_attr(KOMP.format(1), "forma_uchovani", "originál"),
    "obs104": both(
        set_attr(KOMP.format(1), "forma_uchovani", "originál"),
        set_attr(KOMP.format(2), "forma_uchovani", "koncept"),
    ),
    "obs105": set_attr(FILE.format(2), "MIMETYPE", "application/msword"),
    "obs106": set_attr(KOMP.format(1), "forma_uchovani", "originál ve výstupním datovém formátu"),
    "obs107": both(
        set_attr(KOMP.format(2), "forma_uchovani", "originál ve výstupním datovém formátu"),
        set_attr(FILE.format(2), "MIMETYPE", "application/msword"),
    ),
    "obs108": set_attr(
        f"{SPIS_UDAJE}/nsesss:Puvod/nsesss:DatumVytvoreni", "datum", "2014-01-01T10:00:00"
    ),
    "obs109": set_attr(FILE.format(3), "MIMETYPE", "application/zip"),
    "obs110": both(
        set_attr(KOMP.format(3), "forma_uchovani", "kontejner"),
        set_attr(FILE.format(3), "MIMETYPE", "image/png"),
    ),
    "obs111": set_attr("//nsesss:Komponenta[@ID='komp-2-1']", "forma_uchovani", "kontejner"),
    "kom1": set_attr(FILE.format(1), "SIZE", "1"),
    "kom2": set_attr(FILE.format(1), "CHECKSUM", "0" * 64),
    "kom3": set_attr(FILE.format(1), "MIMETYPE", "image/png"),
}
"""For each rule, a change to the reference mets.xml that the rule's text forbids."""


def _profile_for(code: str) -> tuple[str, bool]:
    """A profile the rule is active in, and whether the package must be a přejímka one."""
    rule = next(r for r in national_rules() if r.code == code)
    for profile in ("skartacni-rizeni-komponenty", "skartacni-rizeni", "prejimka"):
        if PROFILE_LABELS[profile] in rule.active:
            return profile, profile == "prejimka"
    raise AssertionError(code)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The reference package, for skartační řízení (False) and for přejímka (True)."""
    return {
        prejimka: build_sip(tmp_path_factory.mktemp(f"ref-{prejimka}"), prejimka=prejimka)
        for prejimka in (False, True)
    }


@pytest.mark.parametrize("prejimka", [False, True])
@pytest.mark.parametrize("profile", PROFILES)
def test_reference_package_passes(
    reference: dict[bool, Path], profile: str, prejimka: bool
) -> None:
    """The reference package passes every rule of every profile (přejímka needs the přejímka variant)."""
    if profile == "prejimka" and not prejimka:
        report = validate_sip(reference[prejimka], profile, today=TODAY)
        assert report.codes == {"obs3", "obs78"}, format_report(report)
        return
    report = validate_sip(reference[prejimka], profile, today=TODAY)
    assert report.ok, format_report(report)


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_rule_fails_on_its_fault(code: str, tmp_path: Path) -> None:
    """A package breaking the rule's text fails with the rule's code, the national error text and a location in mets.xml."""
    profile, prejimka = _profile_for(code)
    path = write_package(tmp_path, SipSpec.small(prejimka=prejimka), FAULTS[code])
    report = validate_sip(path, profile, today=TODAY)
    failures = [f for f in report.failures if f.code == code]
    assert failures, format_report(report)
    error = next(r.error for r in national_rules() if r.code == code)
    assert failures[0].message.startswith(error)
    assert failures[0].location.startswith("mets.xml:")
    result = next(r for r in report.results if r.code == code)
    assert result.status == "failed"


def test_every_implemented_content_rule_has_a_fault() -> None:
    """Every rule decided from mets.xml has a failing package above (package-level ones in test_package_rules)."""
    package_level = {"dat1", "dat1a", "dat2", "dat3", "kod1", "wf1", "ns1"}
    own = {code for code in IMPLEMENTED if code.startswith("spisync-")}
    assert IMPLEMENTED - package_level - own - set(FAULTS) == set()


VARIANTS: dict[str, tuple[str, Change, set[str]]] = {
    "verze not in document order": (
        "skartacni-rizeni-komponenty",
        lambda root: one(root, KOMP.format(1)).addprevious(one(root, KOMP.format(2))),
        set(),
    ),
    "Windows separator where obs52 does not apply": (
        "skartacni-rizeni",
        set_attr(f"{FILE.format(1)}/mets:FLocat", "xlink:href", "komponenty\\1_1.pdf"),
        set(),
    ),
    "either LABEL in skartační řízení": (
        "skartacni-rizeni-komponenty",
        set_attr(
            "/mets:mets",
            "LABEL",
            "Datový balíček pro předávání dokumentů a jejich metadat do archivu",
        ),
        set(),
    ),
    "obs92 checks nsesss:Identifikator only, not IdentifikatorOrganizace": (
        "spisovna",
        set_all_text("//nsesss:IdentifikatorOrganizace", "12345678"),
        set(),
    ),
    "retention not yet expired is fine at closing": (
        "spisovna",
        set_all_text("//nsesss:SkartacniLhuta", "50"),
        set(),
    ),
    "analogue dokument fully described passes the analogue rules": (
        "skartacni-rizeni",
        both(
            ANALOG_DOK1,
            ANALOG_SPIS,
            append(f"{DOK1_UDAJE}/nsesss:Manipulace", "nsesss:UkladaciJednotka", "krabice 3"),
            append(f"{SPIS_UDAJE}/nsesss:Manipulace", "nsesss:Umisteni", "spisovna, regál 2"),
            set_all_text(
                "//nsesss:VecnaSkupina/nsesss:EvidencniUdaje/nsesss:Manipulace/nsesss:AnalogovyDokument",
                "ano",
            ),
            after(
                f"{DOK1_UDAJE}/nsesss:Puvod/nsesss:VlastniDokument/nsesss:DatumVytvoreni",
                "nsesss:VytvoreneMnozstvi",
                "1 list",
            ),
        ),
        set(),
    ),
    "a Word original with its version in an output format (obs103-obs107 apply and pass)": (
        "skartacni-rizeni",
        both(
            set_attr(KOMP.format(1), "forma_uchovani", "originál"),
            set_attr(
                FILE.format(1),
                "MIMETYPE",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            set_attr(KOMP.format(2), "forma_uchovani", "originál ve výstupním datovém formátu"),
        ),
        set(),
    ),
    "vyřízení jiným způsobem with its odůvodnění (obs63 applies and passes)": (
        "spisovna",
        both(
            set_text(f"{SPIS_UDAJE}/nsesss:VyrizeniUzavreni/nsesss:Zpusob", "jiný způsob"),
            after(
                f"{SPIS_UDAJE}/nsesss:VyrizeniUzavreni/nsesss:Zpusob",
                "nsesss:Oduvodneni",
                "věc vyřízena ústně",
            ),
        ),
        set(),
    ),
}
"""Packages the national rules accept (some that an older, stricter spisync validator did not)."""


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_accepted_variants(name: str, tmp_path: Path) -> None:
    """A package that satisfies the national rules of the profile passes (no stricter than the national validator)."""
    profile, change, ignored = VARIANTS[name]
    path = write_package(tmp_path, SipSpec.small(), change)
    report = validate_sip(path, profile, today=TODAY)
    assert report.codes - ignored == set(), format_report(report)
