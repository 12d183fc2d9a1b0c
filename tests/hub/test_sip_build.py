"""Building the NSESSS SIP of a closed spis (hub.sip)."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, BinaryIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from archive.validation import format_report, validate_sip
from hub.sip import (
    ComponentMismatchError,
    Dokument,
    InvalidSpisError,
    Komponenta,
    Obec,
    SipBuildError,
    Spis,
    Subjekt,
    Udalost,
    build_mets,
    component_file_name,
    sip_name,
    write_sip,
)
from hub.sip.package import CHUNK_SIZE

if TYPE_CHECKING:
    from pathlib import Path

CET = timezone(timedelta(hours=1))
CREATED = datetime(2024, 7, 1, 9, 30, tzinfo=CET)
OBEC = Obec(ico="00255319", name="Městys Čachrov")
NS = {
    "mets": "http://www.loc.gov/METS/",
    "nsesss": "http://www.mvcr.cz/nsesss/v4",
    "xlink": "http://www.w3.org/1999/xlink",
}
SIP_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Store:
    """Component bytes on disk, opened like the hub's store opens them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths: dict[str, Path] = {}

    def add(self, komponenta_id: str, data: bytes) -> tuple[int, str]:
        path = self.root / f"blob-{komponenta_id}"
        path.write_bytes(data)
        self.paths[komponenta_id] = path
        return len(data), hashlib.sha256(data).hexdigest()

    def open(self, komponenta: Komponenta) -> BinaryIO:
        return self.paths[komponenta.id].open("rb")


def _komponenta(
    store: Store, kid: str, poradi: int, name: str, data: bytes, **kw: object
) -> Komponenta:
    size, sha = store.add(kid, data)
    fields: dict[str, object] = {
        "id": kid,
        "poradi": poradi,
        "verze": 1,
        "druh": "hlavní dokument" if poradi == 1 else "příloha",
        "forma_uchovani": "originál",
        "file_name": name,
        "mime_type": "application/pdf",
        "size": size,
        "sha256": sha,
        "created": datetime(2024, 3, 4, 10, 15, tzinfo=CET),
    }
    fields.update(kw)
    return Komponenta(**fields)  # type: ignore[arg-type]


def make_spis(store: Store) -> Spis:
    """A realistic closed spis: 3 dokumenty with 1-3 komponenty each."""
    zadost = Dokument(
        id="1001",
        cislo_jednaci="OVÚP/8914/24/Ka",
        nazev="Žádost o stavební povolení, rodinný dům",
        puvod="doruceny",
        datum=date(2024, 3, 4),
        odesilatel_autor="Petr Dvořák",
        poradi=1,
        subjekty=(
            Subjekt(
                role="odesilatel",
                typ="fyzicka_osoba",
                nazev="Petr Dvořák",
                postovni_adresa="Čachrov 12, 340 22 Čachrov",
                email="petr.dvorak@example.cz",
            ),
        ),
        udalosti=(
            Udalost(datetime(2024, 3, 4, 8, 41, tzinfo=CET), "DokumentZalozeni", "Eva Malá"),
        ),
        komponenty=(
            _komponenta(store, "5001", 1, "Žádost.pdf", b"%PDF-1.7 zadost " * 500),
            _komponenta(store, "5002", 2, "Situační výkres (1).pdf", b"%PDF-1.7 vykres " * 300),
            _komponenta(
                store,
                "5003",
                3,
                "foto ..\\..\\etc.jpg",
                b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40,
                mime_type="image/jpeg",
            ),
        ),
    )
    vyzva = Dokument(
        id="1002",
        cislo_jednaci="OVÚP/9120/24/Ka",
        nazev="Výzva k doplnění žádosti",
        puvod="vlastni",
        datum=date(2024, 3, 20),
        odesilatel_autor="Jana Nováková",
        poradi=2,
        komponenty=(
            _komponenta(
                store,
                "5004",
                1,
                "výzva.txt",
                "koncept výzvy".encode(),
                verze=1,
                forma_uchovani="koncept",
                mime_type="text/plain",
            ),
            _komponenta(store, "5005", 1, "výzva.pdf", b"%PDF-1.7 vyzva", verze=2),
        ),
    )
    rozhodnuti = Dokument(
        id="1003",
        cislo_jednaci="OVÚP/11002/24/Ka",
        nazev="Rozhodnutí, stavební povolení",
        puvod="vlastni",
        datum=date(2024, 6, 12),
        odesilatel_autor="Jana Nováková",
        poradi=3,
        komponenty=(_komponenta(store, "5006", 1, "Rozhodnutí.pdf", b"%PDF-1.7 rozhodnuti"),),
    )
    return Spis(
        id="4711",
        spisova_znacka="OVÚP/5536/24/Ka",
        nazev="Stavební povolení, Čachrov č. p. 12",
        spisovy_znak="2.4.3.3",
        skartacni_znak="A",
        skartacni_lhuta=10,
        datum_otevreni=date(2024, 3, 4),
        datum_uzavreni=date(2024, 6, 30),
        zpracovatel="Jana Nováková",
        dokumenty=(rozhodnuti, zadost, vyzva),
        zpracovatel_utvar="Stavební úřad",
        zpracovatel_pozice="referentka stavebního úřadu",
        spisovy_plan_identifikator="SP-2024",
        spisovy_plan_nazev="Spisový a skartační plán městyse Čachrov",
        spisovy_plan_platnost_od=date(2024, 1, 1),
        vecna_skupina_nazev="Stavební povolení",
        vecne_skupiny=(("2", "Správa území"), ("2.4", "Stavební řád"), ("2.4.3", "Povolování")),
        skartacni_rezim_identifikator="A/10",
        skartacni_rezim_nazev="Stavební povolení, A 10",
        spousteci_udalost="uzavření spisu",
        closed_at=datetime(2024, 6, 30, 14, 5, tzinfo=CET),
        closed_by="Jana Nováková",
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    root = tmp_path / "store"
    root.mkdir()
    return Store(root)


def _build(spis: Spis, store: Store, out_dir: Path, closing_seq: int = 1):
    out_dir.mkdir(exist_ok=True)
    return write_sip(
        spis,
        OBEC,
        orp_name="Klatovy",
        closing_seq=closing_seq,
        open_component=store.open,
        out_dir=out_dir,
        created=CREATED,
    )


def test_built_sip_validates_against_official_schemas(store: Store, tmp_path: Path) -> None:
    """A SIP built from a realistic spis passes every archive rule, XSDs included."""
    built = _build(make_spis(store), store, tmp_path / "out")
    report = validate_sip(built.path)
    assert report.failures == [], format_report(report)
    assert report.ok
    assert report.sip_name == built.name
    assert report.sha256 == built.sha256


def test_built_sip_metadata_matches_the_file(store: Store, tmp_path: Path) -> None:
    """BuiltSip reports the real path, size and SHA-256 of the written ZIP."""
    built = _build(make_spis(store), store, tmp_path / "out")
    data = built.path.read_bytes()
    assert built.path == tmp_path / "out" / f"{built.name}.zip"
    assert built.size == len(data)
    assert built.sha256 == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [built.path.name]


def test_zip_layout_is_one_folder_with_mets_and_komponenty(store: Store, tmp_path: Path) -> None:
    """The ZIP holds one folder named like it, with mets.xml and the 6 komponenty."""
    built = _build(make_spis(store), store, tmp_path / "out")
    with zipfile.ZipFile(built.path) as archive:
        names = archive.namelist()
        stamps = {info.date_time for info in archive.infolist()}
    assert {n.split("/", 1)[0] for n in names} == {built.name}
    files = [n for n in names if not n.endswith("/")]
    assert f"{built.name}/mets.xml" in files
    assert len([n for n in files if n.startswith(f"{built.name}/komponenty/")]) == 6
    assert stamps == {(2024, 7, 1, 9, 30, 0)}


def test_rebuild_gives_identical_bytes(store: Store, tmp_path: Path) -> None:
    """Building the same closing twice gives byte-identical ZIPs."""
    spis = make_spis(store)
    first = _build(spis, store, tmp_path / "a")
    second = _build(spis, store, tmp_path / "b")
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()


def test_component_with_wrong_bytes_raises_naming_it(store: Store, tmp_path: Path) -> None:
    """A komponenta whose bytes do not match its SHA-256 stops the build and names it."""
    spis = make_spis(store)
    store.paths["5002"].write_bytes(b"%PDF-1.7 VYKRES " * 300)  # Same size, other bytes.
    out = tmp_path / "out"
    with pytest.raises(ComponentMismatchError, match="komponenta 5002") as caught:
        _build(spis, store, out)
    assert caught.value.komponenta_id == "5002"
    assert isinstance(caught.value, SipBuildError)
    assert list(out.iterdir()) == []


def test_component_with_wrong_size_raises_naming_it(store: Store, tmp_path: Path) -> None:
    """A komponenta longer than its recorded size stops the build and names it."""
    spis = make_spis(store)
    store.paths["5006"].write_bytes(b"%PDF-1.7 rozhodnuti and more")
    with pytest.raises(ComponentMismatchError, match=r"komponenta 5006.*bytes"):
        _build(spis, store, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_components_are_read_in_chunks(store: Store, tmp_path: Path) -> None:
    """write_sip never asks a component stream for everything at once."""
    big = b"x" * (3 * CHUNK_SIZE + 17)
    spis = make_spis(store)
    size, sha = store.add("5006", big)
    dokumenty = tuple(
        replace(d, komponenty=(replace(d.komponenty[0], size=size, sha256=sha),))
        if d.id == "1003"
        else d
        for d in spis.dokumenty
    )
    requests: list[int] = []

    class Recording(io.BufferedReader):
        def read(self, n: int | None = -1, /) -> bytes:
            requests.append(-1 if n is None else n)
            return super().read(n)

    def open_component(komponenta: Komponenta) -> BinaryIO:
        return Recording(io.FileIO(store.paths[komponenta.id]))

    (tmp_path / "out").mkdir()
    write_sip(
        replace(spis, dokumenty=dokumenty),
        OBEC,
        orp_name="Klatovy",
        closing_seq=1,
        open_component=open_component,
        out_dir=tmp_path / "out",
        created=CREATED,
    )
    assert requests
    assert all(0 < n <= CHUNK_SIZE for n in requests)


def test_mets_embeds_vecne_skupiny_chain_and_plan(store: Store) -> None:
    """The spis's Trideni nests věcné skupiny 2.4.3.3 → 2 and then the registry's spisový plán."""
    data = build_mets(
        make_spis(store), OBEC, orp_name="Klatovy", sip_id="SIP_test", created=CREATED
    )
    assert not data.startswith(b"\xef\xbb\xbf")
    root = etree.fromstring(data)
    chain = root.xpath(
        "//nsesss:Spis/nsesss:EvidencniUdaje/nsesss:Trideni"
        "//nsesss:VecnaSkupina/nsesss:EvidencniUdaje/nsesss:Trideni/nsesss:PlneUrcenySpisovyZnak/text()",
        namespaces=NS,
    )
    assert chain == ["2.4.3.3", "2.4.3", "2.4", "2"]
    nazvy = root.xpath(
        "//nsesss:VecnaSkupina/nsesss:EvidencniUdaje/nsesss:Popis/nsesss:Nazev/text()",
        namespaces=NS,
    )
    assert nazvy == ["Stavební povolení", "Povolování", "Stavební řád", "Správa území"]
    plan = root.xpath("//nsesss:SpisovyPlan/nsesss:Nazev/text()", namespaces=NS)
    assert plan == ["Spisový a skartační plán městyse Čachrov"]
    assert root.get("OBJID") == "SIP_test"
    assert root.xpath("//mets:agent[@TYPE='ORGANIZATION']/mets:name/text()", namespaces=NS) == [
        "Městys Čachrov"
    ]


def test_file_entries_point_at_safe_component_names(store: Store) -> None:
    """Each mets:file has SHA-256 metadata and an href to a safe, unique name in komponenty/."""
    root = etree.fromstring(
        build_mets(make_spis(store), OBEC, orp_name="Klatovy", sip_id="SIP_t", created=CREATED)
    )
    files = root.findall(".//mets:file", NS)
    hrefs = [f.find("mets:FLocat", NS).get(f"{{{NS['xlink']}}}href") for f in files]
    assert len(hrefs) == len(set(hrefs)) == 6
    assert all(re.fullmatch(r"komponenty/[A-Za-z0-9][A-Za-z0-9._-]*", h) for h in hrefs)
    assert "komponenty/1_3_v1_etc.jpg" in hrefs
    assert {f.get("CHECKSUMTYPE") for f in files} == {"SHA-256"}


def test_component_file_name_is_prefixed_and_ascii(store: Store) -> None:
    """component_file_name folds diacritics and prefixes dokument/komponenta pořadí and verze."""
    spis = make_spis(store)
    vyzva = next(d for d in spis.dokumenty if d.id == "1002")
    assert component_file_name(vyzva, vyzva.komponenty[1]) == "2_1_v2_vyzva.pdf"


def test_invalid_spis_is_refused_before_writing(store: Store, tmp_path: Path) -> None:
    """A spis opened after it was closed is refused with InvalidSpisError and no file."""
    spis = replace(make_spis(store), datum_otevreni=date(2024, 7, 1))
    with pytest.raises(InvalidSpisError, match="datum_otevreni"):
        _build(spis, store, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_sip_name_keeps_clean_ids() -> None:
    """A short clean spis id appears verbatim; the closing sequence distinguishes closings."""
    assert sip_name("00255319", "4711", 1) == "SIP_00255319_4711_1"
    assert sip_name("00255319", "4711", 2) != sip_name("00255319", "4711", 1)


def test_sip_name_hashes_unsafe_ids_apart() -> None:
    """Ids that fold to the same text still get different names."""
    first = sip_name("00255319", "OVÚP/5536/24", 0)
    second = sip_name("00255319", "OVUP-5536-24", 0)
    assert first != second
    assert first.startswith("SIP_00255319_OVUP-5536-24-")


def test_sip_name_rejects_negative_closing_seq() -> None:
    """A negative closing sequence is a build error."""
    with pytest.raises(SipBuildError):
        sip_name("00255319", "1", -1)


@given(spis_id=st.text(), closing_seq=st.integers(min_value=0, max_value=10**9))
def test_sip_name_is_always_valid_and_stable(spis_id: str, closing_seq: int) -> None:
    """For any unicode spis id the name matches [A-Za-z0-9_-]{1,64} and is deterministic."""
    name = sip_name("00509001", spis_id, closing_seq)
    assert SIP_NAME_RE.fullmatch(name)
    assert len(name) <= 64
    assert name == sip_name("00509001", spis_id, closing_seq)


@given(first=st.text(min_size=1), second=st.text(min_size=1))
def test_sip_name_distinguishes_spis_ids(first: str, second: str) -> None:
    """Different spis ids give different SIP names."""
    if first != second:
        assert sip_name("00509001", first, 1) != sip_name("00509001", second, 1)
