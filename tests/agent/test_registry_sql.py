"""The generic SQL adapter on the machine's PostgreSQL: views or queries named in AGENT.toml."""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from protocol import (
    DokumentSnapshot,
    KomponentaSnapshot,
    RecordDeleted,
    SpisClosed,
    SpisSnapshot,
)

_SCHEMA = """
CREATE TABLE essl_spis (id INTEGER PRIMARY KEY, znacka TEXT NOT NULL, vec TEXT NOT NULL,
  znak TEXT NOT NULL, stav TEXT NOT NULL, otevreno DATE NOT NULL, uzavreno DATE,
  referent TEXT NOT NULL, utvar TEXT, zmeneno TIMESTAMP NOT NULL DEFAULT now());
CREATE VIEW spisync_spis AS SELECT id, znacka AS spisova_znacka, vec AS nazev,
  znak AS spisovy_znak, 'A' AS skartacni_znak, 10 AS skartacni_lhuta,
  otevreno AS datum_otevreni, uzavreno AS datum_uzavreni, stav, referent AS zpracovatel,
  utvar AS zpracovatel_utvar, zmeneno FROM essl_spis;
CREATE TABLE dokument (id INTEGER PRIMARY KEY, spis_id INTEGER, cislo_jednaci TEXT NOT NULL,
  nazev TEXT NOT NULL, puvod TEXT NOT NULL, datum DATE NOT NULL,
  odesilatel_autor TEXT NOT NULL, poradi INTEGER NOT NULL,
  zmeneno TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE komponenta (id INTEGER PRIMARY KEY, dokument_id INTEGER NOT NULL,
  poradi INTEGER NOT NULL, verze INTEGER NOT NULL, druh TEXT NOT NULL,
  forma_uchovani TEXT NOT NULL, soubor TEXT NOT NULL, zmeneno TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE subjekt (id INTEGER PRIMARY KEY, dokument_id INTEGER NOT NULL, role TEXT NOT NULL,
  typ TEXT NOT NULL, nazev TEXT NOT NULL, ico TEXT, datova_schranka TEXT,
  zmeneno TIMESTAMP NOT NULL DEFAULT now());
CREATE TABLE udalost (tabulka TEXT NOT NULL, zaznam_id INTEGER NOT NULL,
  kdy TIMESTAMP NOT NULL, kdo TEXT, typ TEXT NOT NULL, popis TEXT);
INSERT INTO essl_spis (id, znacka, vec, znak, stav, otevreno, referent, utvar)
  VALUES (1, 'OÚ/1/2024', 'Kácení lípy', '1.2', 'otevreny', '2024-03-01', 'Jana Nová', 'Podatelna');
INSERT INTO dokument (id, spis_id, cislo_jednaci, nazev, puvod, datum, odesilatel_autor, poradi)
  VALUES (10, 1, 'OÚ/1/2024-1', 'Žádost', 'doruceny', '2024-03-01', 'Petr Novák', 1);
INSERT INTO subjekt (id, dokument_id, role, typ, nazev, ico, datova_schranka)
  VALUES (100, 10, 'odesilatel', 'pravnicka_osoba', 'Stavby s.r.o.', '00255319', 'g7wau5c');
INSERT INTO komponenta (id, dokument_id, poradi, verze, druh, forma_uchovani, soubor)
  VALUES (20, 10, 1, 1, 'hlavní dokument', 'originál', 'zadost.pdf'),
         (21, 10, 2, 1, 'příloha', 'originál', 'priloha.pdf');
INSERT INTO udalost (tabulka, zaznam_id, kdy, kdo, typ)
  VALUES ('spis', 1, '2024-03-01 09:00:00', 'Jana Nová', 'SpisZalozeni');
"""


@pytest.fixture
async def postgres_registry(tmp_path):
    """A PostgreSQL database shaped like some eSSL, and a read-only role; dropped afterwards."""
    tag = secrets.token_hex(4)
    name, role = f"spisync_t_{tag}", f"spisync_ro_{tag}"
    admin = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres")
    await admin.execute(f"CREATE DATABASE {name}")
    db = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database=name)
    await db.execute(_SCHEMA)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'heslo-{tag}'")
    await db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    password_file = tmp_path / "pg.password"
    password_file.write_text(f"heslo-{tag}\n")
    yield db, f"postgresql://{role}@127.0.0.1:5432/{name}", password_file
    await db.close()
    await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    await admin.execute(f"DROP ROLE {role}")
    await admin.close()


async def test_generic_sql_adapter_reads_views_and_queries_from_postgresql(
    agent_env, postgres_registry
):
    """A view and a query as the contract's tables: initial load, a change, a closing, and a deletion found by reconciliation."""
    db, url, password_file = postgres_registry
    config = agent_env.write_config(
        registry={
            "kind": "sql",
            "url": url,
            "password_file": str(password_file),
            "poll_interval_s": 0.2,
            "reconcile_interval_s": 1.0,
        }
    )
    with config.open("a", encoding="utf-8") as toml:
        toml.write(
            '\n[registry.queries]\nspis = "spisync_spis"\ndokument = "dokument"\n'
            'komponenta = "SELECT id, dokument_id, poradi, verze, druh, forma_uchovani, '
            'soubor, zmeneno FROM komponenta"\nsubjekt = "subjekt"\nudalost = "udalost"\n'
        )
    reader = await agent_env.reader()
    await agent_env.start(config)
    await agent_env.eventually(lambda: len(reader.of(KomponentaSnapshot)) == 2)
    [spis] = reader.of(SpisSnapshot)
    assert (spis.spisova_znacka, spis.zpracovatel_utvar) == ("OÚ/1/2024", "Podatelna")
    assert [e.typ for e in spis.udalosti] == ["SpisZalozeni"]
    [dokument] = reader.of(DokumentSnapshot)
    assert [(s.role, s.ico) for s in dokument.subjekty] == [("odesilatel", "00255319")]

    await db.execute("UPDATE dokument SET nazev = 'Žádost o kácení', zmeneno = now()")
    await agent_env.eventually(
        lambda: any(d.nazev == "Žádost o kácení" for d in reader.of(DokumentSnapshot))
    )
    await db.execute(
        "UPDATE essl_spis SET stav = 'uzavreny', uzavreno = '2024-05-01', zmeneno = now()"
    )
    await agent_env.eventually(lambda: len(reader.of(SpisClosed)) == 1)
    await db.execute("DELETE FROM komponenta WHERE id = 21")
    await agent_env.eventually(lambda: len(reader.of(RecordDeleted)) == 1)
    assert reader.of(RecordDeleted)[0].record_id == "21"
    assert len({k.source_version for k in reader.of(KomponentaSnapshot)}) == 1
    assert not reader.violations


async def test_generic_sql_adapter_reads_the_reference_schema_from_sqlite(agent_env):
    """The README's worked example: `kind = "sql"` over the reference schema's tables in SQLite."""
    from tests.agent.test_registry import add_spis, make_registry  # noqa: PLC0415 - its helpers

    path = agent_env.base / "essl.sqlite"
    db = make_registry(path)
    add_spis(db, "S1")
    db.execute(
        "INSERT INTO udalost (tabulka, zaznam_id, kdy, kdo, typ) VALUES "
        "('spis', 'S1', '2024-03-01T09:00:00+01:00', 'Jana', 'SpisZalozeni')"
    )
    config = agent_env.write_config(
        registry={"kind": "sql", "url": f"sqlite:///{path}", "reconcile_interval_s": 1.0}
    )
    with config.open("a", encoding="utf-8") as toml:
        toml.write(
            '\n[registry.queries]\nspis = "spis"\ndokument = "dokument"\n'
            'komponenta = "komponenta"\nsubjekt = "subjekt"\nudalost = "udalost"\n'
        )
    reader = await agent_env.reader()
    await agent_env.start(config)
    await agent_env.eventually(lambda: len(reader.of(SpisSnapshot)) == 1)
    [spis] = reader.of(SpisSnapshot)
    assert [e.kdo for e in spis.udalosti] == ["Jana"]
    db.execute("UPDATE spis SET stav = 'uzavreny', datum_uzavreni = '2024-05-01' WHERE id = 'S1'")
    await agent_env.eventually(lambda: len(reader.of(SpisClosed)) == 1)
    db.execute("DELETE FROM spis WHERE id = 'S1'")
    await agent_env.eventually(lambda: len(reader.of(RecordDeleted)) == 1)


async def test_agent_check_warns_when_the_postgresql_login_can_write(agent_env, postgres_registry):
    """`agent check` passes a SELECT-only PostgreSQL role and warns once it may also write."""
    from agent.check import check  # noqa: PLC0415 - the check's own imports are heavy

    db, url, password_file = postgres_registry
    config = agent_env.write_config(
        registry={"kind": "sql", "url": url, "password_file": str(password_file)}
    )
    with config.open("a", encoding="utf-8") as toml:
        toml.write(
            '\n[registry.queries]\nspis = "spisync_spis"\ndokument = "dokument"\n'
            'komponenta = "komponenta"\n'
        )

    async def registry_findings():
        return [(f.ok, f.warning, f.detail) for f in await check(config) if "postgresql" in f.what]

    [(ok, warning, _)] = await registry_findings()
    assert (ok, warning) == (True, False)
    role = url.split("//")[1].split("@")[0]
    await db.execute(f"GRANT INSERT ON dokument TO {role}")
    [first, second] = await registry_findings()
    assert first[:2] == (True, False)
    assert second[:2] == (True, True)
    assert "INSERT" in second[2]


async def test_the_spisovka_views_example_reads_through_the_generic_adapter_on_mariadb(tmp_path):
    """packaging/registry/spisovka-views.sql over Spisovka's tables gives contract rows on MariaDB, and a change is found incrementally."""
    from pathlib import Path  # noqa: PLC0415 - only this test

    from agent.config import SqlQueries  # noqa: PLC0415 - as above
    from agent.registry.contract import clean_row, to_snapshot  # noqa: PLC0415 - as above
    from agent.registry.db import open_database, parse_db_url  # noqa: PLC0415 - as above
    from agent.registry.sql import SqlSource  # noqa: PLC0415 - as above
    from testkit.spisovka import SpisovkaDb  # noqa: PLC0415 - as above

    db = SpisovkaDb()
    await db.create(tmp_path)
    views = f"{db.database}_v"
    try:
        spis = await db.add_spis("OVÚP/1/2025", popis="Kácení lípy")
        dokument = await db.add_dokument(spis, "OVÚP/10/2025")
        await db.add_file(dokument, "2025/01/a.pdf")
        await db.execute(f"CREATE DATABASE {views}")
        sql = Path(__file__).resolve().parents[2] / "packaging/registry/spisovka-views.sql"
        text = sql.read_text(encoding="utf-8").replace("spisync_views.", f"{views}.")
        text = text.replace("spisovka.", f"{db.database}.")
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
        for statement in filter(str.strip, body.split(";")):
            await db.execute(statement)
        await db.execute(f"GRANT SELECT ON {views}.* TO '{db.user}'@'%'")
        source = SqlSource(
            open_database(
                parse_db_url(f"mysql://{db.user}@127.0.0.1:3306/{views}"),
                db.password,
                query_timeout_s=10,
            ),
            SqlQueries(spis="spis", dokument="dokument", komponenta="komponenta"),
            folder_prefix="",
        )
        assert await source.contract_problems() == []
        snapshot = await source.everything()
        snapshots = {
            table: [to_snapshot(table, clean_row(r).row, 1, "00255319") for r in rows]
            for table, rows in snapshot.records.items()
        }
        [s] = snapshots["spis"]
        assert (s.spisova_znacka, s.nazev, s.stav) == ("OVÚP/1/2025", "Kácení lípy", "otevreny")
        assert [d.poradi for d in snapshots["dokument"]] == [1]
        assert [k.soubor for k in snapshots["komponenta"]] == ["2025/01/a.pdf"]
        await db.execute(
            "UPDATE spis SET popis = 'Kácení dvou lip', date_modified = NOW() + INTERVAL 1 MINUTE "
            "WHERE id = %s",
            spis,
        )
        batch = await source.changes_after(snapshot.cursor)
        # Rows written within the overlap come again too; the fingerprints drop them later.
        assert [c.row["nazev"] for c in batch.changes if c.table == "spis" and c.row] == [
            "Kácení dvou lip"
        ]
        await source.close()
    finally:
        await db.execute(f"DROP DATABASE IF EXISTS {views}")
        await db.drop()
