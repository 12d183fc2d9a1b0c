"""Package-level rules (dat1-dat3, kod1, wf1, ns1), safety (DOCTYPE, zip bombs), reports and profiles."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from archive.validation import (
    ALL_CODES,
    IMPLEMENTED,
    PROFILES,
    ExternalTools,
    RuleFailure,
    ValidationReport,
    format_report,
    report_json,
    validate_sip,
)
from archive.validation.rules_doc import render
from archive.validation.ruleset import SPISOVNA_EXCLUDED, national_rules, profile_codes
from testkit.nsesss_sip import SipSpec, build_sip, write_package

TODAY = date(2026, 11, 29)
ROOT = Path(__file__).resolve().parents[2]
Files = dict[str, bytes]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference package (skartační řízení variant)."""
    return build_sip(tmp_path_factory.mktemp("good"))


def _read(path: Path) -> Files:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write(path: Path, files: Files) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _with_mets(good: Path, tmp_path: Path, mets: bytes) -> Path:
    files = _read(good)
    files[f"{good.stem}/mets.xml"] = mets
    return _write(tmp_path / good.name, files)


def _mets(good: Path) -> bytes:
    return _read(good)[f"{good.stem}/mets.xml"]


def test_folder_package_passes(good: Path, tmp_path: Path) -> None:
    """An unpacked package folder is a SIP too (dat1) and passes like its ZIP."""
    with zipfile.ZipFile(good) as archive:
        archive.extractall(tmp_path)
    report = validate_sip(tmp_path / good.stem, "skartacni-rizeni-komponenty", today=TODAY)
    assert report.ok, format_report(report)


def test_dat1_not_a_zip(tmp_path: Path) -> None:
    """A file that is neither a ZIP nor a folder fails dat1, and the content rules are not applicable."""
    path = tmp_path / "SIP_x.zip"
    path.write_bytes(b"%PDF-1.7 not a zip")
    report = validate_sip(path, today=TODAY)
    assert report.codes == {"dat1"}
    statuses = {r.code: r.status for r in report.results}
    assert statuses["obs1"] == "not_applicable"


def test_dat1a_name(good: Path, tmp_path: Path) -> None:
    """A package name with diacritics fails dat1a (and dat2, as the folder inside differs)."""
    path = tmp_path / "SIP_Klášter.zip"
    path.write_bytes(good.read_bytes())
    assert {"dat1a", "dat2"} <= validate_sip(path, today=TODAY).codes


def test_dat2_folder_named_otherwise(good: Path, tmp_path: Path) -> None:
    """A ZIP whose one folder has another name fails dat2."""
    path = tmp_path / "SIP_jiny.zip"
    path.write_bytes(good.read_bytes())
    assert validate_sip(path, today=TODAY).codes == {"dat2"}


def test_dat3_extra_file(good: Path, tmp_path: Path) -> None:
    """A file beside mets.xml and komponenty fails dat3."""
    files = _read(good)
    files[f"{good.stem}/poznamka.txt"] = b"x"
    assert validate_sip(_write(tmp_path / good.name, files), today=TODAY).codes == {"dat3"}


def test_kod1_bom_and_invalid_utf8(good: Path, tmp_path: Path) -> None:
    """mets.xml starting with a BOM, or with bytes that are not UTF-8, fails kod1."""
    with_bom = validate_sip(_with_mets(good, tmp_path, b"\xef\xbb\xbf" + _mets(good)), today=TODAY)
    assert "kod1" in with_bom.codes
    broken = _mets(good).replace("Klášter".encode(), "Kl\xe1\x9aster".encode("latin-1"), 1)
    assert "kod1" in validate_sip(_with_mets(good, tmp_path, broken), today=TODAY).codes


def test_wf1_not_well_formed(good: Path, tmp_path: Path) -> None:
    """A truncated mets.xml fails wf1 with its line."""
    report = validate_sip(_with_mets(good, tmp_path, _mets(good)[:5000]), today=TODAY)
    assert report.codes == {"wf1"}
    assert report.failures[0].location.startswith("mets.xml:")


def test_ns1_root_is_not_mets(good: Path, tmp_path: Path) -> None:
    """A document whose root is not mets:mets fails ns1."""
    mets = b'<?xml version="1.0" encoding="UTF-8"?><Spis xmlns="http://www.mvcr.cz/nsesss/v4"/>'
    assert validate_sip(_with_mets(good, tmp_path, mets), today=TODAY).codes == {"ns1"}


def test_doctype_with_external_parameter_entity_is_refused_unresolved(
    good: Path, tmp_path: Path
) -> None:
    """A DOCTYPE declaring an external parameter entity is refused (spisync-doctype); the entity is never fetched."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        secret = tmp_path / "secret.txt"
        secret.write_text("TAJNE")
        doctype = (
            f'<!DOCTYPE mets:mets [<!ENTITY % remote SYSTEM "http://127.0.0.1:{port}/x.dtd"> '
            f'%remote; <!ENTITY local SYSTEM "{secret.as_uri()}">]>'
        ).encode()
        mets = _mets(good).replace(b"?>", b"?>" + doctype, 1)
        report = validate_sip(_with_mets(good, tmp_path, mets), today=TODAY)
        with pytest.raises(BlockingIOError):
            listener.accept()  # Nobody connected: the external entity was not fetched.
    assert report.codes == {"spisync-doctype"}
    assert "TAJNE" not in format_report(report)


def test_unsafe_entry_path(good: Path, tmp_path: Path) -> None:
    """A ZIP entry with '..' fails spisync-path."""
    files = _read(good)
    files[f"{good.stem}/../evil.txt"] = b"x"
    assert "spisync-path" in validate_sip(_write(tmp_path / good.name, files), today=TODAY).codes


_BOMB_SCRIPT = """
import json, resource, sys
from pathlib import Path
from archive.validation import validate_sip
report = validate_sip(Path(sys.argv[1]), "skartacni-rizeni-komponenty")
print(json.dumps({
    "codes": sorted(report.codes),
    "failures": [[f.code, f.message, f.location] for f in report.failures],
    # ru_maxrss keeps the parent's RSS across fork and exec (a long pytest run's);
    # VmHWM is this process's own peak.
    "maxrss_kib": next(
        (int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")),
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    ),
}))
"""


def _bomb_member(archive: zipfile.ZipFile, name: str, size: int, unit: bytes) -> None:
    """Write `size` bytes repeating `unit` deflated at the highest ratio, streaming."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    block = unit * (1024 * 1024 // len(unit))
    with archive.open(info, "w", force_zip64=True) as sink:
        for _ in range(size // len(block)):
            sink.write(block)


def _validate_in_subprocess(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _BOMB_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=True,
    )
    result = json.loads(done.stdout)
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def bomb(good: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~1 MiB ZIP: mets.xml inflating to 512 MiB of elements, and a komponenta inflating to 512 MiB declared as 31 bytes."""
    out = tmp_path_factory.mktemp("bomb") / good.name
    files = _read(good)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in files.items():
            if name.endswith(("mets.xml", "komponenty/1_1.pdf")):
                continue
            archive.writestr(name, data)
        head = _mets(good).split(b"<mets:metsHdr", 1)[0]
        info = zipfile.ZipInfo(f"{good.stem}/mets.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as sink:
            sink.write(head)
            block = b"<mets:x/>" * (1024 * 1024 // 9)
            for _ in range(512):
                sink.write(block)
        _bomb_member(archive, f"{good.stem}/komponenty/1_1.pdf", 512 * 1024 * 1024, b"\0")
    return out


def test_zip_bomb_stays_under_200_mb(bomb: Path) -> None:
    """A zip bomb is cut off (spisync-zip) with peak memory under 200 MB, measured in a subprocess."""
    assert bomb.stat().st_size < 4 * 1024 * 1024
    result = _validate_in_subprocess(bomb)
    assert "spisync-zip" in result["codes"]
    maxrss_kib = result["maxrss_kib"]
    assert isinstance(maxrss_kib, int)
    assert maxrss_kib < 200 * 1024, maxrss_kib


def test_komponenta_bigger_than_declared_is_not_read(good: Path, tmp_path: Path) -> None:
    """A komponenta whose ZIP size disagrees with SIZE fails kom1 and kom2 without being read (its broken CRC stays unnoticed)."""
    files = _read(good)
    target = f"{good.stem}/komponenty/1_1.pdf"
    path = tmp_path / good.name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            if name != target:
                archive.writestr(name, data)
        _bomb_member(archive, target, 64 * 1024 * 1024, b"\0")
        archive.getinfo(target).CRC ^= 0xFFFF  # Reading it to the end would fail the CRC check.
    report = validate_sip(path, "skartacni-rizeni-komponenty", today=TODAY)
    assert {"kom1", "kom2"} <= report.codes
    assert "spisync-zip" not in report.codes, format_report(report)


def test_komponenta_with_lying_zip_header_stops_at_declared_size(
    good: Path, tmp_path: Path
) -> None:
    """A ZIP header that claims the declared size for a longer member fails safely: reading stops there."""
    files = _read(good)
    target = f"{good.stem}/komponenty/1_1.pdf"
    data = files[target]
    path = tmp_path / good.name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            if name != target:
                archive.writestr(name, content)
        archive.writestr(target, data + b"X" * 4096)
        archive.getinfo(target).file_size = len(data)  # The central directory now lies.
    report = validate_sip(path, "skartacni-rizeni-komponenty", today=TODAY)
    assert not report.ok
    assert report.codes <= {"kom1", "kom2", "spisync-zip"}


def test_profiles_follow_the_national_rule_set() -> None:
    """The three national profiles take exactly the rules the adoc marks active; spisovna all but the documented exclusions."""
    rules = national_rules()
    assert len(rules) == 116
    assert profile_codes("prejimka") == {r.code for r in rules if "přejímka" in r.active}
    assert "obs2" not in profile_codes("prejimka")
    assert "kom1" not in profile_codes("skartacni-rizeni")
    assert profile_codes("spisovna") == {r.code for r in rules} - set(SPISOVNA_EXCLUDED)
    assert set(SPISOVNA_EXCLUDED) <= {r.code for r in rules}
    with pytest.raises(ValueError, match="unknown profile"):
        validate_sip(Path("x.zip"), "archiv")


def test_shipped_rule_set_is_the_national_one() -> None:
    """archive/validation's copy of the rule set is byte-identical to shared/nsesss (when present)."""
    for shared in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        source = shared / "nsesss" / "rules-NSESSS2024.adoc"
        if source.is_file():
            shipped = ROOT / "archive" / "validation" / "rules-NSESSS2024.adoc"
            assert shipped.read_bytes() == source.read_bytes()
            return
    pytest.fail("shared/nsesss/rules-NSESSS2024.adoc not found beside the repository")


def test_shipped_schemas_are_the_national_ones() -> None:
    """archive/schemas holds the schema revision of shared/nsesss/schema."""
    for shared in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        source = shared / "nsesss" / "schema"
        if source.is_dir():
            for file in source.iterdir():
                assert (ROOT / "archive" / "schemas" / file.name).read_bytes() == file.read_bytes()
            return
    pytest.fail("shared/nsesss/schema not found beside the repository")


def test_rules_md_is_generated_from_the_table() -> None:
    """archive/validation/RULES.md is what `python -m archive.validation.rules_doc` writes."""
    assert (ROOT / "archive" / "validation" / "RULES.md").read_text(encoding="utf-8") == render()


def test_every_profile_reports_every_rule(good: Path) -> None:
    """Each report has one result per national rule and own rule, with a known status."""
    for profile in PROFILES:
        report = validate_sip(good, profile, today=TODAY)
        assert [r.code for r in report.results][: len(national_rules())] == [
            r.code for r in national_rules()
        ]
        assert {r.code for r in report.results} == ALL_CODES
        assert {r.status for r in report.results} <= {
            "passed",
            "failed",
            "not_applicable",
            "not_implemented",
        }
        implemented = {r.code for r in report.results if r.status == "passed"}
        assert implemented <= IMPLEMENTED | {"spisync-error"}


def test_external_tools_plug_in(good: Path, tmp_path: Path) -> None:
    """vir1 and kom4 run the configured commands: exit 0 passes, 1 fails the rule, anything else fails spisync-error."""
    clean = ExternalTools(vir1="true {path}", kom4="true {path}")
    report = validate_sip(good, "skartacni-rizeni-komponenty", tools=clean, today=TODAY)
    statuses = {r.code: r.status for r in report.results}
    assert report.ok
    assert statuses["vir1"] == "passed"
    assert statuses["kom4"] == "passed"
    found = ExternalTools(vir1="false {path}", kom4="false {path}")
    assert {"vir1", "kom4"} <= validate_sip(good, "prejimka", tools=found, today=TODAY).codes
    broken = ExternalTools(vir1="no-such-scanner {path}")
    assert validate_sip(good, tools=broken, today=TODAY).codes == {"spisync-error"}


def test_report_formats() -> None:
    """format_report gives a Czech summary and `code  location: message` lines; report_json lists rules."""
    report = ValidationReport("SIP_x", "ab", "spisovna")
    assert format_report(report) == "SIP SIP_x (profil spisovna): v pořádku, žádná chyba"
    report.failures.append(RuleFailure("obs1", "Chybí identifikátor.", "mets.xml:2 /mets:mets"))
    lines = format_report(report).splitlines()
    assert lines == [
        "SIP SIP_x (profil spisovna): 1 chyba",
        "obs1  mets.xml:2 /mets:mets: Chybí identifikátor.",
    ]
    assert report_json(report)["failures"][0]["code"] == "obs1"


def test_spec_writes_large_packages_streaming(tmp_path: Path) -> None:
    """The fixture builder streams komponenty: a package of many komponenty is written and validates."""
    spec = SipSpec.small()
    spec.dokumenty = spec.dokumenty * 5
    path = write_package(tmp_path, spec)
    assert validate_sip(path, "skartacni-rizeni-komponenty", today=TODAY).ok


def test_damaged_komponenta_fails_integrity(good: Path, tmp_path: Path) -> None:
    """A komponenta whose stored bytes fail the ZIP's CRC fails kom2 (integrity) and spisync-zip."""
    files = _read(good)
    target = f"{good.stem}/komponenty/1_1.pdf"
    path = tmp_path / good.name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.getinfo(target).CRC ^= 0xFFFF
    report = validate_sip(path, "skartacni-rizeni-komponenty", today=TODAY)
    assert report.codes == {"kom2", "spisync-zip"}, format_report(report)
