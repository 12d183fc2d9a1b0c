"""The registry: snapshots in change-log order, closed/reopened, reconciliation, read-only."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from agent.errors import RegistryError
from agent.registry import RegistryReader
from protocol import (
    DokumentSnapshot,
    KomponentaSnapshot,
    RecordDeleted,
    SpisClosed,
    SpisReopened,
    SpisSnapshot,
)

SCHEMA = Path(__file__).resolve().parents[2] / "packaging" / "registry" / "schema.sql"
REGISTRY_KINDS = (
    SpisSnapshot,
    DokumentSnapshot,
    KomponentaSnapshot,
    RecordDeleted,
    SpisClosed,
    SpisReopened,
)


def make_registry(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SCHEMA.read_text())
    return db


def add_spis(db: sqlite3.Connection, spis_id: str, stav: str = "otevreny") -> None:
    db.execute(
        "INSERT INTO spis ("
        "id, spisova_znacka, nazev, spisovy_znak, skartacni_znak, skartacni_lhuta, "
        "datum_otevreni, datum_uzavreni, stav, zpracovatel) VALUES (?, ?, 'Stavební povolení', '2.4.3', 'A', 10, '2024-03-01', "
        "NULL, ?, 'Jana Nováková')",
        (spis_id, f"OVÚP/{spis_id}/24/Ka", stav),
    )


def registry_messages(reader) -> list:
    return [m for m in reader.messages if isinstance(m, REGISTRY_KINDS)]


async def test_registry_changes_arrive_in_change_log_order_with_closed_and_reopened(agent_env):
    """Snapshots carry source versions in log order; closing and reopening produce their events."""
    db = make_registry(agent_env.base / "essl.sqlite")
    add_spis(db, "S1")
    db.execute(
        "INSERT INTO dokument ("
        "id, spis_id, cislo_jednaci, nazev, puvod, datum, odesilatel_autor, poradi) VALUES ('D1', 'S1', 'OVÚP/8914/24/Ka', 'Žádost', "
        "'doruceny', '2024-03-02', 'Petr Svoboda', 1)"
    )
    db.execute(
        "INSERT INTO komponenta ("
        "id, dokument_id, poradi, verze, druh, forma_uchovani, soubor) VALUES ('K1', 'D1', 1, 1, 'hlavni', 'originál', "
        "'Žádosti/zadost.pdf')"
    )
    reader = await agent_env.reader()
    config = agent_env.write_config(registry={"path": str(agent_env.base / "essl.sqlite")})
    await agent_env.start(config)
    await agent_env.eventually(lambda: len(registry_messages(reader)) == 3)
    assert [type(m) for m in registry_messages(reader)] == [
        SpisSnapshot,
        DokumentSnapshot,
        KomponentaSnapshot,
    ]

    db.execute("UPDATE spis SET stav = 'uzavreny', datum_uzavreni = '2024-05-01' WHERE id = 'S1'")
    db.execute("UPDATE dokument SET nazev = 'Žádost o stavební povolení' WHERE id = 'D1'")
    db.execute("UPDATE spis SET stav = 'otevreny', datum_uzavreni = NULL WHERE id = 'S1'")
    add_spis(db, "S2", stav="uzavreny")
    db.execute("DELETE FROM komponenta WHERE id = 'K1'")
    await agent_env.eventually(
        lambda: any(isinstance(m, RecordDeleted) for m in registry_messages(reader))
    )
    later = registry_messages(reader)[3:]
    versions = [m.source_version for m in later]
    assert versions == sorted(versions)
    assert any(isinstance(m, SpisClosed) and m.spis_id == "S2" for m in later)  # first seen closed
    assert [m.record_id for m in later if isinstance(m, RecordDeleted)] == ["K1"]

    db.execute("UPDATE spis SET stav = 'uzavreny' WHERE id = 'S1'")
    await agent_env.eventually(
        lambda: any(isinstance(m, SpisClosed) and m.spis_id == "S1" for m in reader.messages)
    )
    db.execute("UPDATE spis SET stav = 'vyrizeny' WHERE id = 'S1'")
    await agent_env.eventually(
        lambda: any(isinstance(m, SpisReopened) and m.spis_id == "S1" for m in reader.messages)
    )
    closed = next(m for m in reader.messages if isinstance(m, SpisClosed) and m.spis_id == "S1")
    snapshot = next(
        m
        for m in reader.messages
        if isinstance(m, SpisSnapshot) and m.spis_id == "S1" and m.stav == "uzavreny"
    )
    assert closed.source_version == snapshot.source_version
    assert not reader.violations


async def test_reconciliation_repairs_changes_the_log_missed(agent_env):
    """A change made with the triggers off (or a pruned log) arrives through reconciliation."""
    db = make_registry(agent_env.base / "essl.sqlite")
    add_spis(db, "S1")
    reader = await agent_env.reader()
    config = agent_env.write_config(
        registry={"path": str(agent_env.base / "essl.sqlite"), "reconcile_interval_s": 0.5}
    )
    await agent_env.start(config)
    await agent_env.eventually(lambda: len(reader.of(SpisSnapshot)) == 1)
    db.execute("DROP TRIGGER spis_zmeny_u")
    db.execute("DROP TRIGGER spis_zmeny_d")
    db.execute("UPDATE spis SET nazev = 'Opraveno mimo log' WHERE id = 'S1'")
    add_spis(db, "S9")
    db.execute("DELETE FROM zmeny")
    await agent_env.eventually(
        lambda: any(m.nazev == "Opraveno mimo log" for m in reader.of(SpisSnapshot))
    )
    db.execute("DELETE FROM spis WHERE id = 'S9'")
    await agent_env.eventually(lambda: any(m.record_id == "S9" for m in reader.of(RecordDeleted)))


async def test_the_registry_is_read_only_and_never_blocks_the_essl(agent_env):
    """The eSSL keeps writing with no busy timeout while the agent polls; the agent writes nothing."""
    path = agent_env.base / "essl.sqlite"
    make_registry(path).close()
    reader = await agent_env.reader()
    await agent_env.start(
        agent_env.write_config(registry={"path": str(path), "poll_interval_s": 0.01})
    )
    errors: list[Exception] = []
    stop = threading.Event()

    def essl() -> int:
        db = sqlite3.connect(path, isolation_level=None, timeout=0)
        written = 0
        while not stop.is_set() and written < 300:
            try:
                add_spis(db, f"W{written}")
                written += 1
            except sqlite3.OperationalError as exc:
                errors.append(exc)
        db.close()
        return written

    writer = asyncio.create_task(asyncio.to_thread(essl))
    await agent_env.eventually(lambda: len(reader.of(SpisSnapshot)) == 300)
    stop.set()
    await writer
    assert errors == []
    zmeny = sqlite3.connect(path).execute("SELECT count(*) FROM zmeny").fetchone()[0]
    assert zmeny == 300


def test_the_reader_cannot_write_to_the_registry(tmp_path):
    """The registry connection is read-only: a write attempt fails and changes nothing."""
    path = tmp_path / "essl.sqlite"
    db = make_registry(path)
    add_spis(db, "S1")
    db.close()
    reader = RegistryReader(path)
    with pytest.raises(RegistryError, match="readonly"), reader._read() as connection:
        connection.all("DELETE FROM spis", ())
    assert reader.read_all().records["spis"][0]["id"] == "S1"
    assert reader.read_contract_problems() == []
