"""Validating NSESSS SIP packages (archive.validation)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from archive.validation import ALL_CODES, RuleFailure, ValidationReport, format_report, validate_sip
from archive.validation import codes as codes_module
from hub.sip import Dokument, Komponenta, Obec, Spis, write_sip

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

CET = timezone(timedelta(hours=1))
NS = {
    "mets": "http://www.loc.gov/METS/",
    "nsesss": "http://www.mvcr.cz/nsesss/v4",
    "tp": "http://www.mvcr.cz/nsesss/2023/log",
}
Files = dict[str, bytes]


def _komponenta(
    blobs: Files,
    kid: str,
    poradi: int,
    name: str,
    data: bytes,
    verze: int = 1,
    forma: str = "originál",
) -> Komponenta:
    blobs[kid] = data
    return Komponenta(
        id=kid,
        poradi=poradi,
        verze=verze,
        druh="hlavní dokument" if poradi == 1 else "příloha",
        forma_uchovani=forma,
        file_name=name,
        mime_type="application/pdf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created=datetime(2023, 9, 1, 8, 0, tzinfo=CET),
    )


@pytest.fixture(scope="module")
def good_sip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid SIP of Obec Vlkava: 3 dokumenty, 1-3 komponenty each."""
    blobs: Files = {}
    dokumenty = (
        Dokument(
            id="d1",
            cislo_jednaci="MEpL-taj/2023/500",
            nazev="Žádost o kácení dřevin",
            puvod="doruceny",
            datum=date(2023, 9, 1),
            odesilatel_autor="Zdeněk Šťastný",
            poradi=1,
            komponenty=(
                _komponenta(blobs, "k1", 1, "žádost.pdf", b"%PDF zadost" * 100),
                _komponenta(blobs, "k2", 2, "snímek katastru.pdf", b"%PDF katastr" * 50),
            ),
        ),
        Dokument(
            id="d2",
            cislo_jednaci="MEpL-taj/2023/511",
            nazev="Oznámení o zahájení řízení",
            puvod="vlastni",
            datum=date(2023, 9, 10),
            odesilatel_autor="Eva Černá",
            poradi=2,
            komponenty=(
                _komponenta(blobs, "k3", 1, "oznámení.pdf", b"%PDF oznameni", forma="koncept"),
                _komponenta(blobs, "k4", 1, "oznámení v2.pdf", b"%PDF oznameni 2", verze=2),
                _komponenta(blobs, "k5", 2, "doručenka.pdf", b"%PDF dorucenka"),
            ),
        ),
        Dokument(
            id="d3",
            cislo_jednaci="MEpL-taj/2023/540",
            nazev="Rozhodnutí o povolení kácení",
            puvod="vlastni",
            datum=date(2023, 10, 2),
            odesilatel_autor="Eva Černá",
            poradi=3,
            komponenty=(_komponenta(blobs, "k6", 1, "rozhodnutí.pdf", b"%PDF rozhodnuti"),),
        ),
    )
    spis = Spis(
        id="777",
        spisova_znacka="MEpL-taj/2023/77",
        nazev="Kácení dřevin na pozemku p. č. 123/4",
        spisovy_znak="1.5.2",
        skartacni_znak="S",
        skartacni_lhuta=5,
        datum_otevreni=date(2023, 9, 1),
        datum_uzavreni=date(2023, 10, 20),
        zpracovatel="Eva Černá",
        dokumenty=dokumenty,
    )
    out = tmp_path_factory.mktemp("good")
    built = write_sip(
        spis,
        Obec(ico="00509001", name="Obec Vlkava"),
        orp_name="Mladá Boleslav",
        closing_seq=0,
        open_component=lambda k: io.BytesIO(blobs[k.id]),
        out_dir=out,
        created=datetime(2023, 11, 1, 7, 0, tzinfo=CET),
        missing_metadata="placeholder",
    )
    return built.path


def _read(path: Path) -> Files:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path: Path, files: Files) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _folder(good: Path) -> str:
    return good.stem


def _mutate_mets(files: Files, folder: str, change: Callable[[etree._Element], None]) -> None:
    key = f"{folder}/mets.xml"
    root = etree.fromstring(files[key])
    change(root)
    files[key] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _bad(
    good: Path,
    tmp_path: Path,
    change: Callable[[etree._Element], None] | None = None,
    name: str | None = None,
) -> tuple[Path, Files]:
    files = _read(good)
    if change is not None:
        _mutate_mets(files, _folder(good), change)
    return tmp_path / (name or good.name), files


def _validate(path: Path, files: Files) -> ValidationReport:
    return validate_sip(_write(path, files))


def _first(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath, namespaces=NS)
    assert found, xpath
    return found[0]


def test_good_sip_has_no_failures(good_sip: Path) -> None:
    """The fixture package (built by hub.sip) passes every rule."""
    report = validate_sip(good_sip)
    assert report.ok, format_report(report)
    assert report.sha256 == hashlib.sha256(good_sip.read_bytes()).hexdigest()


def test_unpacked_folder_is_accepted(good_sip: Path, tmp_path: Path) -> None:
    """The same package unpacked into a folder passes too."""
    with zipfile.ZipFile(good_sip) as archive:
        archive.extractall(tmp_path)
    report = validate_sip(tmp_path / _folder(good_sip))
    assert report.ok, format_report(report)
    assert report.sha256 == ""


def test_wrong_checksum(good_sip: Path, tmp_path: Path) -> None:
    """A CHECKSUM differing from the file's real hash fails FILE-CHECKSUM."""

    def change(root: etree._Element) -> None:
        _first(root, "//mets:file").set("CHECKSUM", "0" * 64)

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert "FILE-CHECKSUM" in report.codes
    assert "FILE-SIZE" not in report.codes


def test_wrong_size(good_sip: Path, tmp_path: Path) -> None:
    """A SIZE differing from the file's real size fails FILE-SIZE."""

    def change(root: etree._Element) -> None:
        file = _first(root, "//mets:file")
        file.set("SIZE", str(int(file.get("SIZE")) + 1))

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert report.codes >= {"FILE-SIZE"}
    assert "FILE-CHECKSUM" not in report.codes


def test_changed_component_bytes(good_sip: Path, tmp_path: Path) -> None:
    """A component whose bytes changed after packing fails FILE-CHECKSUM."""
    path, files = _bad(good_sip, tmp_path)
    name = next(n for n in files if "/komponenty/" in n and not n.endswith("/"))
    files[name] = files[name].upper()
    report = _validate(path, files)
    assert "FILE-CHECKSUM" in report.codes


def test_missing_component(good_sip: Path, tmp_path: Path) -> None:
    """A referenced component absent from the ZIP fails FILE-MISSING."""
    path, files = _bad(good_sip, tmp_path)
    del files[next(n for n in files if "/komponenty/" in n and not n.endswith("/"))]
    report = _validate(path, files)
    assert "FILE-MISSING" in report.codes


def test_extra_unreferenced_file(good_sip: Path, tmp_path: Path) -> None:
    """A file in komponenty/ that mets.xml does not reference fails FILE-UNREFERENCED."""
    path, files = _bad(good_sip, tmp_path)
    files[f"{_folder(good_sip)}/komponenty/navic.pdf"] = b"%PDF extra"
    report = _validate(path, files)
    assert [f.location for f in report.failures if f.code == "FILE-UNREFERENCED"] == [
        f"{_folder(good_sip)}/komponenty/navic.pdf"
    ]


def test_extra_file_beside_mets(good_sip: Path, tmp_path: Path) -> None:
    """Anything but mets.xml and komponenty/ in the folder fails SIP-CONTENT."""
    path, files = _bad(good_sip, tmp_path)
    files[f"{_folder(good_sip)}/readme.txt"] = b"ahoj"
    assert "SIP-CONTENT" in _validate(path, files).codes


def test_bom_in_mets(good_sip: Path, tmp_path: Path) -> None:
    """mets.xml starting with a UTF-8 BOM fails XML-BOM."""
    path, files = _bad(good_sip, tmp_path)
    key = f"{_folder(good_sip)}/mets.xml"
    files[key] = b"\xef\xbb\xbf" + files[key]
    assert "XML-BOM" in _validate(path, files).codes


def test_not_utf8(good_sip: Path, tmp_path: Path) -> None:
    """mets.xml in another encoding fails XML-ENCODING."""
    path, files = _bad(good_sip, tmp_path)
    key = f"{_folder(good_sip)}/mets.xml"
    root = etree.fromstring(files[key])
    files[key] = etree.tostring(root, xml_declaration=True, encoding="windows-1250")
    assert "XML-ENCODING" in _validate(path, files).codes


def test_not_well_formed(good_sip: Path, tmp_path: Path) -> None:
    """A truncated mets.xml fails XML-WELLFORMED and nothing raises."""
    path, files = _bad(good_sip, tmp_path)
    key = f"{_folder(good_sip)}/mets.xml"
    files[key] = files[key][: len(files[key]) // 2]
    assert "XML-WELLFORMED" in _validate(path, files).codes


def test_bad_zip_name(good_sip: Path, tmp_path: Path) -> None:
    """A ZIP name with characters outside A-Za-z0-9_- fails SIP-NAME."""
    path, files = _bad(good_sip, tmp_path, name="SIP Čachrov!.zip")
    report = _validate(path, files)
    assert "SIP-NAME" in report.codes
    assert report.sip_name == "SIP Čachrov!"


def test_too_long_zip_name(good_sip: Path, tmp_path: Path) -> None:
    """A ZIP name over 64 characters fails SIP-NAME."""
    path, files = _bad(good_sip, tmp_path, name=f"{'S' * 65}.zip")
    assert "SIP-NAME" in _validate(path, files).codes


def test_folder_name_differs_from_zip_name(good_sip: Path, tmp_path: Path) -> None:
    """A ZIP renamed so its folder no longer matches fails SIP-FOLDER-NAME."""
    path, files = _bad(good_sip, tmp_path, name="SIP_00509001_jiny_0.zip")
    report = _validate(path, files)
    assert "SIP-FOLDER-NAME" in report.codes
    assert "SIP-NAME" not in report.codes


def test_two_top_folders(good_sip: Path, tmp_path: Path) -> None:
    """A second top-level folder fails SIP-FOLDER."""
    path, files = _bad(good_sip, tmp_path)
    files["druha_slozka/mets.xml"] = b"<x/>"
    assert "SIP-FOLDER" in _validate(path, files).codes


def test_file_outside_folder(good_sip: Path, tmp_path: Path) -> None:
    """A file at the top level of the ZIP fails SIP-FOLDER."""
    path, files = _bad(good_sip, tmp_path)
    files["mets.xml"] = b"<x/>"
    assert "SIP-FOLDER" in _validate(path, files).codes


def test_missing_mets(good_sip: Path, tmp_path: Path) -> None:
    """A package without mets.xml fails SIP-METS-MISSING."""
    path, files = _bad(good_sip, tmp_path)
    del files[f"{_folder(good_sip)}/mets.xml"]
    report = _validate(path, files)
    assert "SIP-METS-MISSING" in report.codes


def test_schema_error_in_spis(good_sip: Path, tmp_path: Path) -> None:
    """Removing the spis's required Popis fails XSD-METS and XSD-NSESSS."""

    def change(root: etree._Element) -> None:
        popis = _first(root, "//nsesss:Spis/nsesss:EvidencniUdaje/nsesss:Popis")
        popis.getparent().remove(popis)

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert report.codes >= {"XSD-METS", "XSD-NSESSS"}
    assert any("Popis" in f.message for f in report.failures if f.code == "XSD-NSESSS")


def test_schema_error_in_transaction_log(good_sip: Path, tmp_path: Path) -> None:
    """Removing a log's required DatumCasOd fails XSD-TRP."""

    def change(root: etree._Element) -> None:
        element = _first(root, "//tp:TransLogInfo/tp:DatumCasOd")
        element.getparent().remove(element)

    assert "XSD-TRP" in _validate(*_bad(good_sip, tmp_path, change)).codes


def test_schema_error_in_mets_structure(good_sip: Path, tmp_path: Path) -> None:
    """Removing the required structMap fails XSD-METS."""

    def change(root: etree._Element) -> None:
        root.remove(_first(root, "/mets:mets/mets:structMap"))

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert "XSD-METS" in report.codes
    assert "STRUCT-DIV" in report.codes


def test_invalid_ico(good_sip: Path, tmp_path: Path) -> None:
    """An identifier with zdroj IČ and a wrong check digit fails ICO-CHECK."""

    def change(root: etree._Element) -> None:
        _first(root, "//nsesss:IdentifikatorOrganizace[@zdroj='IČ']").text = "00509002"

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert "ICO-CHECK" in report.codes
    assert "XSD-METS" not in report.codes


def test_opened_after_closed(good_sip: Path, tmp_path: Path) -> None:
    """A spis with DatumOtevreni after DatumUzavreni fails DATE-ORDER."""

    def change(root: etree._Element) -> None:
        _first(
            root, "//nsesss:Spis/nsesss:EvidencniUdaje/nsesss:Manipulace/nsesss:DatumOtevreni"
        ).text = "2024-01-01"

    assert "DATE-ORDER" in _validate(*_bad(good_sip, tmp_path, change)).codes


def test_not_a_zip(tmp_path: Path) -> None:
    """A file that is not a ZIP gives SIP-OPEN, not an exception."""
    path = tmp_path / "SIP_00509001_1_0.zip"
    path.write_bytes(b"PK\x03\x04 this is no zip at all")
    report = validate_sip(path)
    assert [f.code for f in report.failures] == ["SIP-OPEN"]
    assert not report.ok


def test_missing_path(tmp_path: Path) -> None:
    """A path that does not exist gives SIP-OPEN, not an exception."""
    report = validate_sip(tmp_path / "SIP_nic.zip")
    assert report.codes == {"SIP-OPEN"}


def test_komponenty_rules(good_sip: Path, tmp_path: Path) -> None:
    """Gaps in poradi, mixed druh and repeated verze fail KOMP-PORADI, KOMP-DRUH, KOMP-VERZE."""

    def change(root: etree._Element) -> None:
        dokumenty = root.xpath("//nsesss:Dokument", namespaces=NS)
        first = dokumenty[0].xpath(".//nsesss:Komponenta", namespaces=NS)
        first[1].set("poradi", "3")  # 1, 3: a gap.
        second = dokumenty[1].xpath(".//nsesss:Komponenta", namespaces=NS)
        second[1].set("druh", "jiný druh")  # poradi 1 now has two druhy.
        second[1].set("verze", "1")  # poradi 1 now repeats verze 1.

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert report.codes >= {"KOMP-PORADI", "KOMP-DRUH", "KOMP-VERZE"}


def test_mets_header_and_root_rules(good_sip: Path, tmp_path: Path) -> None:
    """Wrong LABEL, schemaLocation, missing OBJID and INDIVIDUAL agent each fail their rule."""

    def change(root: etree._Element) -> None:
        root.set("LABEL", "Balíček")
        del root.attrib["OBJID"]
        root.set(
            "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation",
            "http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd",
        )
        agent = _first(root, "//mets:agent[@TYPE='INDIVIDUAL']")
        agent.getparent().remove(agent)

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert report.codes >= {"METS-LABEL", "METS-OBJID", "METS-SCHEMALOCATION", "METS-AGENT"}


def test_broken_references(good_sip: Path, tmp_path: Path) -> None:
    """Dangling FILEID, DMDID and ADMID fail REF-FILEID, REF-DMDID and REF-ADMID."""

    def change(root: etree._Element) -> None:
        _first(root, "//mets:fptr").set("FILEID", "neni")
        _first(root, "//mets:file").set("DMDID", "dok-1")
        _first(root, "//mets:div").set("ADMID", "nikde")

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert report.codes >= {"REF-FILEID", "REF-DMDID", "REF-ADMID"}


def test_file_attributes(good_sip: Path, tmp_path: Path) -> None:
    """An MD5 checksum type and an href outside komponenty/ fail FILE-ATTR."""

    def change(root: etree._Element) -> None:
        files = root.xpath("//mets:file", namespaces=NS)
        files[0].set("CHECKSUMTYPE", "MD5")
        files[1][0].set("{http://www.w3.org/1999/xlink}href", "../etc/passwd")

    report = _validate(*_bad(good_sip, tmp_path, change))
    messages = [f.message for f in report.failures if f.code == "FILE-ATTR"]
    assert len(messages) == 2
    assert "FILE-UNREFERENCED" in report.codes


def test_empty_nazev_and_identifikator(good_sip: Path, tmp_path: Path) -> None:
    """An empty Nazev and an empty Identifikator fail EMPTY-NAZEV and EMPTY-IDENTIFIKATOR."""

    def change(root: etree._Element) -> None:
        _first(root, "//nsesss:Dokument//nsesss:Popis/nsesss:Nazev").text = " "
        _first(root, "//nsesss:Dokument//nsesss:Identifikace/nsesss:Identifikator").text = ""

    report = _validate(*_bad(good_sip, tmp_path, change))
    assert report.codes >= {"EMPTY-NAZEV", "EMPTY-IDENTIFIKATOR"}


def test_every_failure_is_listed(good_sip: Path, tmp_path: Path) -> None:
    """Independent defects are all reported, not just the first."""

    def change(root: etree._Element) -> None:
        _first(root, "//mets:file").set("CHECKSUM", "f" * 64)
        _first(root, "//nsesss:IdentifikatorOrganizace[@zdroj='IČ']").text = "12345678"

    path, files = _bad(good_sip, tmp_path, change, name="bad name.zip")
    files[f"{_folder(good_sip)}/komponenty/navic.bin"] = b"?"
    report = _validate(path, files)
    assert report.codes >= {
        "SIP-NAME",
        "SIP-FOLDER-NAME",
        "FILE-CHECKSUM",
        "ICO-CHECK",
        "FILE-UNREFERENCED",
    }


def test_format_report_lines() -> None:
    """format_report gives a Czech summary and one `CODE  location: message` line per failure."""
    report = ValidationReport(
        sip_name="SIP_x",
        sha256="",
        failures=[
            RuleFailure("FILE-SIZE", "SIZE je 3, soubor má 4 B", "mets.xml:10 mets:file"),
            RuleFailure("ICO-CHECK", "'1' není platné IČO", "mets.xml:20 nsesss:X"),
        ],
    )
    lines = format_report(report).splitlines()
    assert lines[0] == "SIP SIP_x: 2 chyby"
    assert lines[1] == "FILE-SIZE  mets.xml:10 mets:file: SIZE je 3, soubor má 4 B"
    assert re.fullmatch(r"ICO-CHECK  mets\.xml:20 nsesss:X: .*", lines[2])
    assert format_report(ValidationReport("SIP_x", "")) == "SIP SIP_x: v pořádku, žádná chyba"


def test_codes_are_documented() -> None:
    """Every rule code appears in the table of archive.validation.codes."""
    doc = codes_module.__doc__ or ""
    assert all(re.search(rf"^{re.escape(code)}\s", doc, re.MULTILINE) for code in ALL_CODES)
