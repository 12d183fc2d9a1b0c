"""The richer registry contract read from the reference schema, and input cleaned per record."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, date, datetime

import pytest

from agent.config import load_agent_config
from agent.registry import RegistryReader
from agent.registry.contract import clean_row, to_snapshot
from protocol import DokumentSnapshot, SpisClosed, SpisSnapshot
from spisync.errors import ConfigError
from tests.agent.test_registry import add_spis, make_registry


def _rich(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO spis (id, spisova_znacka, nazev, spisovy_znak, skartacni_znak, "
        "skartacni_lhuta, datum_otevreni, stav, zpracovatel, zpracovatel_utvar, "
        "zpracovatel_pozice, vyrizeni_zpusob, vyrizeni_datum, spisovy_plan_identifikator, "
        "spisovy_plan_platnost_od, skartacni_rezim_identifikator, spousteci_udalost, "
        "spousteci_udalost_datum) VALUES ('S1', 'OÚ/1/24', 'Kácení', '2.4', 'A', 10, "
        "'2024-03-01', 'uzavreny', 'Jana', 'Stavební úřad', 'referentka', "
        "'vyřízení dokumentem', '2024-05-02', 'SP-2023', '2023-07-01', 'A/10', "
        "'uzavření spisu', '2024-05-03')"
    )
    db.execute(
        "INSERT INTO dokument (id, spis_id, cislo_jednaci, nazev, puvod, datum, "
        "odesilatel_autor, poradi, analogovy, mnozstvi, ukladaci_jednotka, "
        "odesilatel_cislo_jednaci) VALUES ('D1', 'S1', 'OÚ/1/24-1', 'Žádost', 'doruceny', "
        "'2024-03-01', 'Petr', 1, 1, '2 listy', 'karton 12', 'ZAD-17')"
    )
    db.execute(
        "INSERT INTO subjekt (id, dokument_id, role, typ, nazev, ico, postovni_adresa, "
        "datova_schranka, email, cislo_jednaci) VALUES ('P1', 'D1', 'odesilatel', "
        "'pravnicka_osoba', 'Stavby s.r.o.', '00255319', 'Čachrov 1', 'g7wau5c', "
        "'a@b.cz', 'ZAD-17')"
    )
    db.execute(
        "INSERT INTO udalost (tabulka, zaznam_id, kdy, kdo, typ) VALUES "
        "('spis', 'S1', '2024-05-03T10:00:00', 'Jana', 'SpisUzavreni')"
    )


def test_reference_schema_rows_carry_the_archival_fields(tmp_path):
    """Útvar, vyřízení, retention, paper, subjects and events of the reference schema reach the snapshots."""
    db = make_registry(tmp_path / "essl.sqlite")
    _rich(db)
    records = RegistryReader(tmp_path / "essl.sqlite").read_all().records
    spis = to_snapshot("spis", records["spis"][0], 9, "00255319")
    assert isinstance(spis, SpisSnapshot)
    assert (spis.zpracovatel_utvar, spis.zpracovatel_pozice) == ("Stavební úřad", "referentka")
    assert spis.vyrizeni_datum == date(2024, 5, 2)
    assert spis.spisovy_plan_platnost_od == date(2023, 7, 1)
    assert spis.spousteci_udalost_datum == date(2024, 5, 3)
    # A time without an offset is Czech local time (CEST in May).
    assert spis.udalosti[0].kdy == datetime(2024, 5, 3, 8, 0, tzinfo=UTC)
    dokument = to_snapshot("dokument", records["dokument"][0], 9, "00255319")
    assert isinstance(dokument, DokumentSnapshot)
    assert (dokument.analogovy, dokument.ukladaci_jednotka) == (True, "karton 12")
    [sender] = dokument.subjekty
    assert (sender.typ, sender.ico, sender.datova_schranka) == (
        "pravnicka_osoba",
        "00255319",
        "g7wau5c",
    )


def test_a_new_event_or_subject_is_a_change_of_its_record(tmp_path):
    """An event logged for a spis and a subject added to a dokument put those records in the change log."""
    db = make_registry(tmp_path / "essl.sqlite")
    _rich(db)
    reader = RegistryReader(tmp_path / "essl.sqlite")
    cursor = int(reader.read_changes(0, 500).cursor)
    db.execute(
        "INSERT INTO udalost (tabulka, zaznam_id, kdy, typ) VALUES ('spis', 'S1', "
        "'2024-06-01T08:00:00+02:00', 'SpisOtevreni')"
    )
    db.execute(
        "INSERT INTO subjekt (id, dokument_id, role, typ, nazev) VALUES "
        "('P2', 'D1', 'adresat', 'fyzicka_osoba', 'Petr')"
    )
    changes = reader.read_changes(cursor, 500).changes
    assert [(c.table, c.record_id) for c in changes] == [("spis", "S1"), ("dokument", "D1")]
    assert [e["typ"] for e in changes[0].row["udalosti"]] == ["SpisUzavreni", "SpisOtevreni"]
    assert len(changes[1].row["subjekty"]) == 2


def test_a_registry_made_from_the_first_schema_is_still_read(tmp_path):
    """A registry without the optional columns and tables is read, its snapshots with defaults."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "CREATE TABLE spis (id TEXT PRIMARY KEY, spisova_znacka TEXT, nazev TEXT, "
        "spisovy_znak TEXT, skartacni_znak TEXT, skartacni_lhuta INTEGER, datum_otevreni TEXT, "
        "datum_uzavreni TEXT, stav TEXT, zpracovatel TEXT);"
        "CREATE TABLE dokument (id TEXT PRIMARY KEY, spis_id TEXT, cislo_jednaci TEXT, "
        "nazev TEXT, puvod TEXT, datum TEXT, odesilatel_autor TEXT, poradi INTEGER);"
        "CREATE TABLE komponenta (id TEXT PRIMARY KEY, dokument_id TEXT, poradi INTEGER, "
        "verze INTEGER, druh TEXT, forma_uchovani TEXT, soubor TEXT);"
        "CREATE TABLE zmeny (seq INTEGER PRIMARY KEY, tabulka TEXT, zaznam_id TEXT, operace TEXT);"
    )
    add_spis(db, "S1")
    reader = RegistryReader(path)
    assert reader.read_contract_problems() == []
    [row] = reader.read_all().records["spis"]
    assert "udalosti" not in row
    spis = to_snapshot("spis", row, 1, "00255319")
    assert isinstance(spis, SpisSnapshot)
    assert (spis.zpracovatel_utvar, spis.udalosti) == (None, ())


def test_bad_cells_refuse_or_clean_only_their_own_record(tmp_path):
    """A non-UTF-8 cell or an absurd size refuses its record naming the field; control characters are removed and named; the other records read fine."""
    db = make_registry(tmp_path / "essl.sqlite")
    for spis_id in ("S1", "S2", "S3", "S4"):
        add_spis(db, spis_id)
    db.execute("UPDATE spis SET nazev = CAST(X'4BE163656EED' AS TEXT) WHERE id = 'S1'")
    db.execute("UPDATE spis SET zpracovatel = 'Jana\x01\x1bNová\ufffe' WHERE id = 'S2'")
    db.execute("UPDATE spis SET nazev = ? WHERE id = 'S3'", ("x" * 100_000,))
    rows = {r["id"]: r for r in RegistryReader(tmp_path / "essl.sqlite").read_all().records["spis"]}
    undecodable = clean_row(rows["S1"])
    assert undecodable.row is None
    assert "pole nazev" in (undecodable.refused or "")
    controls = clean_row(rows["S2"])
    assert controls.row is not None
    assert controls.row["zpracovatel"] == "JanaNová"
    assert controls.cleaned == ["pole zpracovatel: odstraněny řídicí znaky (3)"]
    oversized = clean_row(rows["S3"])
    assert oversized.row is None
    assert "pole nazev: 100000 znaků" in (oversized.refused or "")
    assert clean_row(rows["S4"]) == clean_row(rows["S4"])
    assert clean_row(rows["S4"]).refused is None


async def test_an_undecodable_cell_holds_back_only_its_record(agent_env):
    """With one non-UTF-8 cell in the registry the other records still flow, the problem names the record and field, and fixing the row sends it."""
    path = agent_env.base / "essl.sqlite"
    db = make_registry(path)
    add_spis(db, "BAD")
    db.execute("UPDATE spis SET nazev = CAST(X'4BE163656EED' AS TEXT) WHERE id = 'BAD'")
    add_spis(db, "GOOD")
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(registry={"path": str(path)}))
    await agent_env.eventually(lambda: [m.spis_id for m in reader.of(SpisSnapshot)] == ["GOOD"])
    await agent_env.eventually(
        lambda: any(h.problem_kinds.get("registry_invalid_record") == 1 for h in reader.heartbeats)
    )
    add_spis(db, "LATER")
    db.execute("UPDATE spis SET nazev = 'Kácení', stav = 'uzavreny' WHERE id = 'BAD'")
    await agent_env.eventually(lambda: len(reader.of(SpisClosed)) == 1)
    assert sorted(m.spis_id for m in reader.of(SpisSnapshot)) == ["BAD", "GOOD", "LATER"]
    assert not reader.violations


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        ('kind = "spisovka"', "url: kind = 'spisovka' needs url"),
        (
            'kind = "spisovka"\nurl = "postgresql://ro@db:5432/essl"\npassword_file = "/p"',
            "Spisovka runs on MariaDB/MySQL",
        ),
        ('kind = "spisovka"\nurl = "mysql://ro:secret@db:3306/s"', "password_file, not in the url"),
        ('kind = "spisovka"\nurl = "mysql://ro@db:3306/s"', "password_file: the database user"),
        ('kind = "sql"\nurl = "sqlite:///tmp/x.sqlite"', "queries: kind = 'sql' needs"),
        (
            (
                'kind = "spisovka"\nurl = "mysql://ro@db:3306/s"\npassword_file = "/p"\n'
                'files_folder = "nic"'
            ),
            "files_folder 'nic' is not one of the",
        ),
        ('kind = "spisovka"\ntable_prefix = "x; DROP"', "table_prefix"),
    ],
)
def test_registry_settings_are_checked_with_the_key_named(tmp_path, registry, message):
    """Each kind's missing or wrong setting is one error naming the key and what to do."""
    base = tmp_path / "AGENT.toml"
    base.write_text(
        '[agent]\nico = "00509001"\nname = "Obec Vlkava"\nstate_dir = "/tmp/s"\n\n'
        '[broker]\nurl = "amqp://u:p@127.0.0.1:5672/v"\n\n'
        f'[[folders]]\npath = "/srv/spisovna"\nname = "spisovna"\n\n[registry]\n{registry}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_agent_config(base)


async def test_a_large_reconciliation_is_queued_in_parts_and_sent_once(agent_env, monkeypatch):
    """A reconciliation larger than one part queues every record once, in parts, spisy first."""
    monkeypatch.setattr("agent.registry.sync._RECONCILE_CHUNK", 3)
    db = make_registry(agent_env.base / "essl.sqlite")
    for n in range(10):
        add_spis(db, f"S{n}")
    reader = await agent_env.reader()
    await agent_env.start(
        agent_env.write_config(registry={"path": str(agent_env.base / "essl.sqlite")})
    )
    await agent_env.eventually(lambda: len(reader.of(SpisSnapshot)) >= 10)
    assert sorted(m.spis_id for m in reader.of(SpisSnapshot)) == [f"S{n}" for n in range(10)]


@pytest.mark.parametrize(
    ("stored", "root", "expected"),
    [
        ("2024/01/sken.pdf", "/srv/spisovka/files", "2024/01/sken.pdf"),
        ("/2024/01/sken.pdf", None, "2024/01/sken.pdf"),
        ("/srv/spisovka/files/2024/01/sken.pdf", "/srv/spisovka/files/", "2024/01/sken.pdf"),
        ("D:\\spisovka\\files\\2024\\a.pdf", "D:\\spisovka\\files", "2024/a.pdf"),
    ],
)
def test_spisovka_file_paths_are_taken_relative_to_the_files_folder(stored, root, expected):
    """A stored path, relative or absolute under the files folder, becomes the path under that folder."""
    from agent.registry.spisovka_map import stored_path  # noqa: PLC0415 - only this test

    assert stored_path(stored, root) == expected
