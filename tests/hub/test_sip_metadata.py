"""The SIP's metadata against the national rules, checked from the rule text, not by our validator.

Each test builds a package with `hub.sip` and checks it with XPath written
from the wording of a rule in rules-NSESSS2024.adoc (obs54, obs59, obs68,
obs76, obs85, obs103, obs107, ...) and against the official 2026 schemas in
archive/schemas, loaded here directly.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections import Counter
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from hub.sip import (
    InvalidSpisError,
    MissingMetadataError,
    Spis,
    Subjekt,
    Udalost,
    build_mets,
    resolve,
    write_sip,
)
from hub.sip.formats import detect_mime
from hub.sip.mets import PLACEHOLDER_NOTE
from spisync.formats import OUTPUT_FORMATS
from tests.hub.test_sip_build import CET, CREATED, OBEC, Store, make_spis

if TYPE_CHECKING:
    from hub.sip import Dokument

NS = {
    "mets": "http://www.loc.gov/METS/",
    "nsesss": "http://www.mvcr.cz/nsesss/v4",
    "tp": "http://www.mvcr.cz/nsesss/2023/log",
    "xlink": "http://www.w3.org/1999/xlink",
}
SCHEMAS = Path(__file__).resolve().parents[2] / "archive" / "schemas"
XSD = "http://www.w3.org/2001/XMLSchema"
# The characters of issue 9, finding 5.
CONTROL = "\x01\x1b\ufffe\x00"


@cache
def official_schema() -> etree.XMLSchema:
    """mets.xsd with nsesss and TrP imported, xlink from the local copy (no network)."""
    document = etree.parse(str(SCHEMAS / "mets.xsd"), etree.XMLParser(no_network=True))
    root = document.getroot()
    for element in root.findall(f"{{{XSD}}}import"):
        root.remove(element)
    imports = {
        "http://www.w3.org/1999/xlink": "mets-xlink.xsd",
        NS["nsesss"]: "nsesss.xsd",
        NS["tp"]: "nsesss-TrP.xsd",
    }
    for position, (namespace, file) in enumerate(imports.items()):
        element = etree.Element(f"{{{XSD}}}import", namespace=namespace)
        element.set("schemaLocation", (SCHEMAS / file).as_uri())
        root.insert(position, element)
    return etree.XMLSchema(document)


def assert_schema_valid(data: bytes) -> etree._Element:
    root = etree.fromstring(data)
    schema = official_schema()
    assert schema.validate(root), [e.message for e in schema.error_log]
    return root


def mets(spis: Spis, **kw: object) -> etree._Element:
    data = build_mets(spis, OBEC, orp_name="Klatovy", sip_id="SIP_t", created=CREATED, **kw)  # type: ignore[arg-type]
    return assert_schema_valid(data)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    root = tmp_path / "store"
    root.mkdir()
    return Store(root)


def _dokument(spis: Spis, dokument_id: str) -> Dokument:
    return next(d for d in spis.dokumenty if d.id == dokument_id)


def _replace_dokument(spis: Spis, dokument: Dokument) -> Spis:
    return dataclasses.replace(
        spis, dokumenty=tuple(dokument if d.id == dokument.id else d for d in spis.dokumenty)
    )


def test_control_characters_are_cleaned_per_field_and_named(store: Store, tmp_path: Path) -> None:
    r"""The characters of finding 9.5 (\x01, \x1b, U+FFFE, NUL) in registry text are removed field by field; the SIP builds, is schema-valid and names each cleaned field."""
    spis = make_spis(store)
    spis = dataclasses.replace(
        spis, nazev=f"Stavební{CONTROL} povolení", zpracovatel=f"Jana{CONTROL[1]} Nováková"
    )
    zadost = _dokument(spis, "1001")
    spis = _replace_dokument(
        spis, dataclasses.replace(zadost, nazev=f"Žádost{CONTROL[0]}{CONTROL[3]}")
    )
    out = tmp_path / "out"
    out.mkdir()
    built = write_sip(
        spis,
        OBEC,
        orp_name="Klatovy",
        closing_seq=1,
        open_component=store.open,
        out_dir=out,
        created=CREATED,
    )
    assert built.cleaned == ("spis 4711: nazev", "spis 4711: zpracovatel", "dokument 1001: nazev")
    with zipfile.ZipFile(built.path) as archive:
        root = assert_schema_valid(archive.read(f"{built.name}/mets.xml"))
    assert (
        root.xpath(
            "string(//nsesss:Spis/nsesss:EvidencniUdaje/nsesss:Popis/nsesss:Nazev)", namespaces=NS
        )
        == "Stavební povolení"
    )


def test_wait_names_every_missing_field(store: Store) -> None:
    """With missing_metadata = "wait", a spis whose registry lacks required fields is refused naming each record and field."""
    spis = dataclasses.replace(
        make_spis(store), zpracovatel_utvar=None, skartacni_rezim_identifikator=None
    )
    with pytest.raises(MissingMetadataError) as caught:
        resolve(spis, OBEC)
    assert caught.value.missing == (
        "spis 4711: zpracovatel_utvar",
        "spis 4711: skartacni_rezim_identifikator",
    )
    assert caught.value.problems == ()


def test_placeholders_are_listed_in_the_package(store: Store) -> None:
    """With missing_metadata = "placeholder", the package holds the documented placeholders and its metsHdr lists each one."""
    spis = dataclasses.replace(make_spis(store), zpracovatel_utvar=None, zpracovatel_pozice=None)
    resolved = resolve(spis, OBEC, missing_metadata="placeholder")
    fields = {(p.field, p.value) for p in resolved.placeholders}
    assert ("spis 4711: zpracovatel_utvar", "neuvedeno") in fields
    assert ("spis 4711: zpracovatel_pozice", "neuvedeno") in fields
    root = mets(spis, missing_metadata="placeholder")
    notes = root.xpath("//mets:agent[@TYPE='ORGANIZATION']/mets:note/text()", namespaces=NS)
    assert f"{PLACEHOLDER_NOTE}spis 4711: zpracovatel_utvar = neuvedeno" in notes
    utvar = root.xpath(
        "//nsesss:VyrizeniUzavreni/nsesss:Zpracovatel//nsesss:OrganizacniUtvar/text()",
        namespaces=NS,
    )
    assert utvar == ["neuvedeno"]


def test_registry_clerk_data_reaches_the_package(store: Store) -> None:
    """The clerk's útvar and pozice, the spisový plán and the skartační režim come from the registry, not invented."""
    root = mets(make_spis(store))
    assert root.xpath(
        "//nsesss:VyrizeniUzavreni//nsesss:OrganizacniUtvar/text()", namespaces=NS
    ) == ["Stavební úřad"]
    assert root.xpath("//nsesss:VyrizeniUzavreni//nsesss:PracovniPozice/text()", namespaces=NS) == [
        "referentka stavebního úřadu"
    ]
    assert root.xpath("//nsesss:SpisovyPlan/nsesss:Identifikator/text()", namespaces=NS) == [
        "SP-2024"
    ]
    rezimy = set(root.xpath("//nsesss:SkartacniRezim/nsesss:Identifikator/text()", namespaces=NS))
    assert rezimy == {"A/10"}
    assert "neuvedeno" not in etree.tostring(root, encoding="unicode")


def test_structmap_admid_names_the_entity_amdsec(store: Store) -> None:
    """obs54: every div's ADMID is the ID of an amdSec whose TrP object identifier equals the entity's Identifikator and zdroj, each entity exactly once."""
    root = mets(make_spis(store))
    amd_ids = root.xpath("/mets:mets/mets:amdSec/@ID", namespaces=NS)
    divs = root.xpath("//mets:structMap//mets:div", namespaces=NS)
    assert sorted(d.get("ADMID") for d in divs) == sorted(amd_ids)
    for div in divs:
        [amd] = root.xpath(f"/mets:mets/mets:amdSec[@ID='{div.get('ADMID')}']", namespaces=NS)
        [entity] = root.xpath(f"//*[@ID='{div.get('DMDID')}']")
        identifikator = entity.xpath(
            "(nsesss:EvidencniUdaje/nsesss:Identifikace/nsesss:Identifikator"
            "|nsesss:Identifikator)[1]",
            namespaces=NS,
        )[0]
        objekt = amd.xpath(".//tp:TransLogInfo/tp:Objekt/tp:Identifikator", namespaces=NS)[0]
        assert objekt.findtext("tp:HodnotaID", namespaces=NS) == identifikator.text
        assert objekt.findtext("tp:ZdrojID", namespaces=NS) == identifikator.get("zdroj")


def test_identifier_sources_differ_per_entity_kind(store: Store) -> None:
    """obs59: a dokument and a komponenta with the same registry id get different zdroj, so no two entities share identifier and source."""
    spis = make_spis(store)
    zadost = _dokument(spis, "1001")
    komponenta = dataclasses.replace(zadost.komponenty[0], id="1001")
    spis = _replace_dokument(
        spis, dataclasses.replace(zadost, komponenty=(komponenta, *zadost.komponenty[1:]))
    )
    root = mets(spis)
    pairs = Counter(
        (e.text, e.get("zdroj"))
        for e in root.xpath(
            "//nsesss:Spis//nsesss:Identifikace/nsesss:Identifikator", namespaces=NS
        )
    )
    assert all(count == 1 for count in pairs.values()), pairs
    sources = {zdroj for value, zdroj in pairs if value == "1001"}
    assert len(sources) == 2


def test_parent_vecna_skupina_carries_the_skartacni_rezim(store: Store) -> None:
    """obs68: the věcná skupina holding the spis has a SkartacniRezim in Vyrazovani (none is left empty there)."""
    root = mets(make_spis(store))
    [parent] = root.xpath(
        "//nsesss:Spis/nsesss:EvidencniUdaje/nsesss:Trideni/nsesss:MaterskaEntita/nsesss:VecnaSkupina",
        namespaces=NS,
    )
    rezim = parent.xpath(
        "nsesss:EvidencniUdaje/nsesss:Vyrazovani/nsesss:SkartacniRezim", namespaces=NS
    )
    assert len(rezim) == 1
    assert rezim[0].findtext("nsesss:SkartacniZnak", namespaces=NS) == "A"


def test_paper_dokument_marks_itself_and_its_parents(store: Store) -> None:
    """obs76/obs85/obs85a/obs61: a scanned paper dokument is AnalogovyDokument ano with its storage unit and quantity; the spis and its věcné skupiny say ano too."""
    spis = make_spis(store)
    rozhodnuti = _dokument(spis, "1003")
    scan = dataclasses.replace(rozhodnuti.komponenty[0], forma_uchovani="digitalizát")
    spis = _replace_dokument(
        spis,
        dataclasses.replace(
            rozhodnuti,
            komponenty=(scan,),
            analogovy=True,
            ukladaci_jednotka="Krabice 12/2024",
            mnozstvi="2 listy",
        ),
    )
    spis = dataclasses.replace(spis, umisteni="Spisovna, regál 3")
    root = mets(spis)
    analog = root.xpath(
        "//nsesss:Dokument[nsesss:EvidencniUdaje/nsesss:Identifikace/nsesss:Identifikator='1003']"
        "/nsesss:EvidencniUdaje/nsesss:Manipulace",
        namespaces=NS,
    )[0]
    assert analog.findtext("nsesss:AnalogovyDokument", namespaces=NS) == "ano"
    assert analog.findtext("nsesss:UkladaciJednotka", namespaces=NS) == "Krabice 12/2024"
    parents = root.xpath(
        "//nsesss:Spis/nsesss:EvidencniUdaje/nsesss:Manipulace/nsesss:AnalogovyDokument/text()"
        "|//nsesss:VecnaSkupina/nsesss:EvidencniUdaje/nsesss:Manipulace/nsesss:AnalogovyDokument/text()",
        namespaces=NS,
    )
    assert set(parents) == {"ano"}
    assert root.xpath(
        "//nsesss:Spis/nsesss:EvidencniUdaje/nsesss:Manipulace/nsesss:Umisteni/text()",
        namespaces=NS,
    ) == ["Spisovna, regál 3"]
    assert root.xpath("//nsesss:VytvoreneMnozstvi/text()", namespaces=NS) == ["2 listy"]


def test_digital_dokumenty_stay_analogovy_ne(store: Store) -> None:
    """A dokument with born-digital files is AnalogovyDokument ne, and so is everything above it."""
    root = mets(make_spis(store))
    assert set(root.xpath("//nsesss:AnalogovyDokument/text()", namespaces=NS)) == {"ne"}


@pytest.mark.parametrize("formy", [("originál", "originál"), ("koncept", "koncept")])
def test_one_original_per_poradi_is_enforced(store: Store, formy: tuple[str, str]) -> None:
    """obs103: two originals, or none, at one pořadí of a digital dokument refuse the spis naming the dokument and pořadí."""
    spis = make_spis(store)
    vyzva = _dokument(spis, "1002")
    komponenty = tuple(
        dataclasses.replace(k, forma_uchovani=forma)
        for k, forma in zip(vyzva.komponenty, formy, strict=True)
    )
    spis = _replace_dokument(spis, dataclasses.replace(vyzva, komponenty=komponenty))
    with pytest.raises(InvalidSpisError) as caught:
        resolve(spis, OBEC)
    [problem] = caught.value.problems
    assert problem.startswith("dokument 1002: komponenty s pořadím 1:")
    assert "obs103" in problem


def test_events_are_real_and_attributed_to_who_did_them(store: Store) -> None:
    """The transaction log has the registry's events at their real times and the closing at its time, never a midnight stamp or the outside sender."""
    root = mets(make_spis(store))
    events = root.xpath("//tp:Udalost", namespaces=NS)
    stamps = [e.findtext("tp:DatumVzniku", namespaces=NS) for e in events]
    assert "2024-06-30T14:05:00+01:00" in stamps  # SpisClosed
    assert "2024-03-04T08:41:00+01:00" in stamps  # the registry's DokumentZalozeni
    assert not any(s.endswith("T00:00:00+01:00") for s in stamps)
    who = [e.findtext("tp:provedlKdo", namespaces=NS) for e in events]
    assert "Petr Dvořák" not in who  # the sender of the received dokument did not register it
    assert "Eva Malá" in who
    typy = root.xpath("//tp:TypUdalostiId/text()", namespaces=NS)
    assert {"Zalozeni", "Uzavreni", "Export"} <= set(typy)


def test_received_dokument_sender_is_an_outside_subject_with_address(store: Store) -> None:
    """The odesílatel of a received dokument is written with the registry's address and contact."""
    root = mets(make_spis(store))
    [odesilatel] = root.xpath("//nsesss:Odesilatel/nsesss:Subjekt", namespaces=NS)
    assert odesilatel.findtext("nsesss:NazevFyzickeOsoby", namespaces=NS) == "Petr Dvořák"
    assert (
        odesilatel.findtext("nsesss:PostovniAdresa", namespaces=NS) == "Čachrov 12, 340 22 Čachrov"
    )


def test_organisation_subject_with_valid_ico_uses_zdroj_ic(store: Store) -> None:
    """obs92: an organisation's IČO goes out with zdroj IČ only when its check digit holds; otherwise its data box identifies it."""
    spis = make_spis(store)
    zadost = _dokument(spis, "1001")
    firma = Subjekt(
        role="odesilatel",
        typ="pravnicka_osoba",
        nazev="Stavby Klatovy s.r.o.",
        ico="00255318",  # wrong check digit
        datova_schranka="abc1234",
        postovni_adresa="Pražská 1, Klatovy",
    )
    spis = _replace_dokument(spis, dataclasses.replace(zadost, subjekty=(firma,)))
    root = mets(spis)
    [identifikator] = root.xpath(
        "//nsesss:Odesilatel/nsesss:Subjekt/nsesss:IdentifikatorOrganizace", namespaces=NS
    )
    assert (identifikator.text, identifikator.get("zdroj")) == ("abc1234", "ISDS")


def test_v_is_refused_after_2026(store: Store) -> None:
    """obs66: skartační znak V on a spis closed after 31 Dec 2026 refuses the spis naming the field."""
    spis = dataclasses.replace(
        make_spis(store), skartacni_znak="V", datum_uzavreni=date(2027, 1, 5)
    )
    with pytest.raises(InvalidSpisError) as caught:
        resolve(spis, OBEC)
    assert any(p.startswith("spis 4711: skartacni_znak 'V'") for p in caught.value.problems)


def test_output_format_claim_is_checked_against_content(store: Store) -> None:
    """obs107: a komponenta claimed to be in an output format whose content is a Word file refuses the spis, listing the allowed formats."""
    spis = make_spis(store)
    vyzva = _dokument(spis, "1002")
    koncept, pdf = vyzva.komponenty
    spis = _replace_dokument(
        spis,
        dataclasses.replace(
            vyzva,
            komponenty=(
                dataclasses.replace(koncept, forma_uchovani="originál"),
                dataclasses.replace(
                    pdf,
                    forma_uchovani="originál ve výstupním datovém formátu",
                    mime_type="application/msword",
                ),
            ),
        ),
    )
    with pytest.raises(InvalidSpisError) as caught:
        resolve(spis, OBEC)
    [problem] = caught.value.problems
    assert problem.startswith("komponenta 5005:")
    assert "application/pdf, image/png" in problem


def test_original_not_in_output_format_is_reported(store: Store) -> None:
    """A pořadí whose only rendition is not in an output format is reported at closing with the allowed formats, without refusing the spis."""
    spis = make_spis(store)
    zadost = _dokument(spis, "1001")
    heic = dataclasses.replace(zadost.komponenty[2], mime_type="application/octet-stream")
    spis = _replace_dokument(
        spis, dataclasses.replace(zadost, komponenty=(*zadost.komponenty[:2], heic))
    )
    resolved = resolve(spis, OBEC)
    [notice] = resolved.notices
    assert notice.startswith(
        "komponenta 5003: application/octet-stream není výstupní datový formát"
    )
    assert ", ".join(OUTPUT_FORMATS) in notice


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"%PDF-1.7\n...", "application/pdf"),
        (b"\r\n\x00junk from a scanner\n%PDF-1.4\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "image/jpeg"),
        (b"GIF89a" + b"\0" * 10, "image/gif"),
        (b"II*\x00" + b"\0" * 10, "image/tiff"),
        (b"{\\rtf1\\ansi hello}", "application/rtf"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 20, "application/msword"),
        (b"<?xml version='1.0'?><a/>", "application/xml"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/x-wav"),
        ("Dobrý den, posílám žádost.\n".encode(), "text/plain"),
        (b"\x00\x01\x02\x03garbage", "application/octet-stream"),
    ],
)
def test_mime_is_read_from_content_not_name(tmp_path: Path, data: bytes, mime: str) -> None:
    """The MIME type comes from the bytes whatever the file is called."""
    path = tmp_path / "soubor.docx"
    path.write_bytes(data)
    assert detect_mime(path) == mime


@pytest.mark.parametrize(
    ("entries", "mime"),
    [
        (
            {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"},
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<o/>"},
            "application/vnd.oasis.opendocument.text",
        ),
        (
            {"mimetype": b"application/vnd.etsi.asic-e+zip", "a.pdf": b"%PDF"},
            "application/vnd.etsi.asic-e+zip",
        ),
        ({"a.txt": b"x"}, "application/zip"),
    ],
)
def test_zip_based_formats_are_told_apart(
    tmp_path: Path, entries: dict[str, bytes], mime: str
) -> None:
    """DOCX, ODT, ASiC-E and a plain ZIP are distinguished by what is inside, not by the name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    path = tmp_path / "soubor.pdf"
    path.write_bytes(buffer.getvalue())
    assert detect_mime(path) == mime


def test_zip_komponenta_must_be_a_kontejner(store: Store) -> None:
    """obs109: a komponenta whose content is a ZIP but is not marked kontejner refuses the spis naming it."""
    spis = make_spis(store)
    rozhodnuti = _dokument(spis, "1003")
    zipped = dataclasses.replace(rozhodnuti.komponenty[0], mime_type="application/zip")
    spis = _replace_dokument(spis, dataclasses.replace(rozhodnuti, komponenty=(zipped,)))
    with pytest.raises(InvalidSpisError) as caught:
        resolve(spis, OBEC)
    assert any("komponenta 5006:" in p and "obs109" in p for p in caught.value.problems)


def test_registry_events_with_product_names_map_to_trp_types(store: Store) -> None:
    """Registry events named like NSESSS messages (SpisUzavreni) become TrP types; unknown names keep their text."""
    spis = dataclasses.replace(
        make_spis(store),
        udalosti=(
            Udalost(datetime(2024, 3, 4, 9, 0, tzinfo=CET), "SpisZalozeni", "Jana Nováková"),
            Udalost(datetime(2024, 5, 1, 9, 0, tzinfo=CET), "Převzetí agendy", "Jana Nováková"),
        ),
    )
    root = mets(spis)
    spis_log = root.xpath(
        "//tp:TransakcniLogObjektu[tp:TransLogInfo/tp:Objekt/tp:TypObjektu/tp:TypObjektuId='Spis']",
        namespaces=NS,
    )[0]
    assert spis_log.xpath(".//tp:TypUdalostiId/text()", namespaces=NS) == [
        "Zalozeni",
        "Uzavreni",
        "Export",
    ]
    assert spis_log.xpath(".//tp:TypUdalostiText/text()", namespaces=NS) == ["Převzetí agendy"]


def test_build_needs_no_component_content_to_check_metadata(store: Store) -> None:
    """A metadata check without content (content=False) finds missing fields but leaves format rules to the build."""
    spis = make_spis(store)
    vyzva = _dokument(spis, "1002")
    word = dataclasses.replace(
        vyzva.komponenty[1],
        forma_uchovani="originál ve výstupním datovém formátu",
        mime_type="application/octet-stream",
    )
    spis = _replace_dokument(
        spis,
        dataclasses.replace(
            vyzva,
            komponenty=(dataclasses.replace(vyzva.komponenty[0], forma_uchovani="originál"), word),
        ),
    )
    assert resolve(spis, OBEC, content=False).spis.id == "4711"
    with pytest.raises(InvalidSpisError):
        resolve(spis, OBEC)


def test_obec_and_orp_names_with_control_characters_still_build(store: Store) -> None:
    """Names from the hub's own configuration are made XML-safe too, so no text can fail a build at every retry."""
    obec = dataclasses.replace(OBEC, name=f"Městys{CONTROL} Čachrov")
    data = build_mets(
        make_spis(store), obec, orp_name=f"Klatovy{CONTROL}", sip_id="SIP_t", created=CREATED
    )
    root = assert_schema_valid(data)
    assert root.xpath("//mets:agent[@TYPE='ORGANIZATION']/mets:name/text()", namespaces=NS) == [
        "Městys Čachrov"
    ]


def test_a_kontejner_needs_its_contents_beside_it(store: Store) -> None:
    """obs111: a dokument whose only komponenta is a kontejner (a ZIP) refuses the spis naming the dokument."""
    spis = make_spis(store)
    rozhodnuti = _dokument(spis, "1003")
    zipped = dataclasses.replace(
        rozhodnuti.komponenty[0], mime_type="application/zip", forma_uchovani="kontejner"
    )
    spis = _replace_dokument(spis, dataclasses.replace(rozhodnuti, komponenty=(zipped,)))
    with pytest.raises(InvalidSpisError) as caught:
        resolve(spis, OBEC)
    assert any(p.startswith("dokument 1003:") and "obs111" in p for p in caught.value.problems)
