"""Spisovka 3 on the machine's MariaDB: initial load, changes, closing, deletions, refusal, read-only."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

import pytest

from agent.registry.db import open_database, parse_db_url
from agent.registry.spisovka import SpisovkaSource
from protocol import (
    DokumentSnapshot,
    KomponentaSnapshot,
    RecordDeleted,
    SpisClosed,
    SpisReopened,
    SpisSnapshot,
)
from testkit.spisovka import SpisovkaDb


@pytest.fixture
async def spisovka(tmp_path):
    """A Spisovka database (revision 1660) with a read-only user, dropped afterwards."""
    db = SpisovkaDb()
    db.password_file = await db.create(tmp_path)
    yield db
    await db.drop()


def spisovka_config(agent_env, db, *, plan: bool = False, **extra):
    """An AGENT.toml reading `db` as Spisovka, its files under the folder `dokumenty`."""
    config = agent_env.write_config(
        folders=[{"path": str(agent_env.folder), "name": "dokumenty"}],
        registry={
            "kind": "spisovka",
            "url": db.url(),
            "password_file": str(db.password_file),
            "files_folder": "dokumenty",
            "poll_interval_s": 0.2,
            **extra,
        },
    )
    if plan:
        with config.open("a", encoding="utf-8") as toml:
            toml.write(
                '\n[registry.spisovy_plan]\nidentifikator = "SP-2023"\n'
                'nazev = "Spisový a skartační plán Obce Testovací"\nplatnost_od = 2023-07-01\n'
            )
    return config


def versions_by_record(messages) -> dict[tuple[str, str], set[int]]:
    """Source versions each record was sent with."""
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for m in messages:
        if isinstance(m, SpisSnapshot):
            found[("spis", m.spis_id)].add(m.source_version)
        elif isinstance(m, DokumentSnapshot):
            found[("dokument", m.dokument_id)].add(m.source_version)
        elif isinstance(m, KomponentaSnapshot):
            found[("komponenta", m.komponenta_id)].add(m.source_version)
    return found


async def test_initial_load_maps_spisovka_to_the_contract(agent_env, spisovka):
    """Spisy, dokumenty with their order, senders and recipients, files, units, persons and events arrive mapped."""
    spis = await spisovka.add_spis("OVÚP/1/2024")
    received = await spisovka.add_dokument(spis, "OVÚP/10/2024", paper=True)
    await spisovka.add_subjekt(
        received, "O", ic="00255319", id_isds="g7wau5c", adresa_mesto="Čachrov"
    )
    await spisovka.add_file(received, "2024/01/sken.pdf")
    await spisovka.add_file(received, "2024/01/priloha.pdf", main=False)
    own = await spisovka.add_dokument(spis, "OVÚP/11/2024", vlastni=True)
    adresat = await spisovka.add_subjekt(
        own, "A", type="FO", nazev_subjektu=None, jmeno="Petr", prijmeni="Novák"
    )
    await spisovka.execute(
        "INSERT INTO dokument_odeslani (dokument_id, subjekt_id, datum_odeslani, date_created) "
        "VALUES (%s, %s, '2024-03-05 10:00:00', NOW())",
        own,
        adresat,
    )
    reader = await agent_env.reader()
    await agent_env.start(spisovka_config(agent_env, spisovka, plan=True))
    await agent_env.eventually(lambda: len(reader.of(KomponentaSnapshot)) == 2)

    [s] = reader.of(SpisSnapshot)
    # Spisovka records no spisový plán: the office's one comes from AGENT.toml.
    assert (s.spisovy_plan_identifikator, s.spisovy_plan_platnost_od) == (
        "SP-2023",
        date(2023, 7, 1),
    )
    assert (s.spisova_znacka, s.stav, s.spisovy_znak) == ("OVÚP/1/2024", "otevreny", "2.4.3")
    assert (s.zpracovatel, s.zpracovatel_utvar) == ("Ing. Jana Kovářová", "Stavební úřad")
    assert s.zpracovatel_pozice == "referentka stavebního úřadu"
    assert [e.typ for e in s.udalosti] == ["SpisZalozeni"]
    dokumenty = {d.dokument_id: d for d in reader.of(DokumentSnapshot)}
    first, second = dokumenty[str(received)], dokumenty[str(own)]
    assert (first.puvod, first.poradi, first.analogovy) == ("doruceny", 1, True)
    assert first.odesilatel_autor == "Stavby s.r.o."
    assert [(x.role, x.typ, x.ico, x.datova_schranka) for x in first.subjekty] == [
        ("odesilatel", "pravnicka_osoba", "00255319", "g7wau5c")
    ]
    assert (second.puvod, second.poradi, second.odesilatel_autor) == (
        "vlastni",
        2,
        "Ing. Jana Kovářová",
    )
    assert [(x.role, x.typ, x.nazev) for x in second.subjekty] == [
        ("adresat", "fyzicka_osoba", "Petr Novák")
    ]
    assert second.datum_odeslani is not None
    komponenty = sorted(reader.of(KomponentaSnapshot), key=lambda k: k.poradi)
    assert [(k.poradi, k.druh, k.forma_uchovani, k.soubor) for k in komponenty] == [
        (1, "hlavní dokument", "digitalizát", "2024/01/sken.pdf"),
        (2, "příloha", "digitalizát", "2024/01/priloha.pdf"),
    ]
    assert not reader.violations


async def test_changes_closing_and_deletions_arrive_once_each(agent_env, spisovka):
    """An edit arrives as one new version, a closing carries Spisovka's log time, and a removed file is found by reconciliation."""
    spis = await spisovka.add_spis("OVÚP/2/2024")
    dokument = await spisovka.add_dokument(spis, "OVÚP/20/2024")
    kept = await spisovka.add_file(dokument, "2024/02/a.pdf")
    removed = await spisovka.add_file(dokument, "2024/02/b.pdf", main=False)
    reader = await agent_env.reader()
    await agent_env.start(spisovka_config(agent_env, spisovka, reconcile_interval_s=1.0))
    await agent_env.eventually(lambda: len(reader.of(KomponentaSnapshot)) == 2)

    await spisovka.execute(
        "UPDATE dokument SET nazev = 'Žádost (doplněná)', date_modified = NOW() WHERE id = %s",
        dokument,
    )
    await agent_env.eventually(
        lambda: any(d.nazev == "Žádost (doplněná)" for d in reader.of(DokumentSnapshot))
    )
    closed_when = datetime(2024, 6, 30, 15, 5, 12)  # noqa: DTZ001 - Spisovka writes naive local time
    await spisovka.execute("UPDATE spis SET stav = 0 WHERE id = %s", spis)
    await spisovka.log("spis", spis, 47, closed_when)
    await agent_env.eventually(lambda: len(reader.of(SpisClosed)) == 1)
    [closed] = reader.of(SpisClosed)
    # Spisovka's naive times are Czech local time (CEST in June).
    assert closed.closed_at == datetime(2024, 6, 30, 13, 5, 12, tzinfo=UTC)
    assert closed.closed_by == "Ing. Jana Kovářová"

    # No timestamp and no log entry records this: only reconciliation can find it.
    await spisovka.execute("DELETE FROM dokument_to_file WHERE file_id = %s", removed)
    await agent_env.eventually(lambda: len(reader.of(RecordDeleted)) == 1)
    assert [(d.table, d.record_id) for d in reader.of(RecordDeleted)] == [
        ("komponenta", str(removed))
    ]
    versions = versions_by_record(reader.messages)
    assert len(versions[("dokument", str(dokument))]) == 2
    assert len(versions[("komponenta", str(kept))]) == 1
    assert not reader.violations


async def test_a_spis_closed_and_reopened_within_one_poll_is_never_closed_at_the_hub(
    agent_env, spisovka
):
    """Closing and reopening committed together reach the hub as one snapshot with both events, not as a closing."""
    spis = await spisovka.add_spis("OVÚP/3/2024")
    reader = await agent_env.reader()
    await agent_env.start(spisovka_config(agent_env, spisovka))
    await agent_env.eventually(lambda: len(reader.of(SpisSnapshot)) == 1)
    await spisovka.execute("START TRANSACTION")
    await spisovka.execute("UPDATE spis SET stav = 0 WHERE id = %s", spis)
    await spisovka.log("spis", spis, 47)
    await spisovka.execute("UPDATE spis SET stav = 1 WHERE id = %s", spis)
    await spisovka.log("spis", spis, 46)
    await spisovka.execute("COMMIT")
    await agent_env.eventually(lambda: any(len(s.udalosti) == 3 for s in reader.of(SpisSnapshot)))
    latest = reader.of(SpisSnapshot)[-1]
    assert [e.typ for e in latest.udalosti] == ["SpisZalozeni", "SpisUzavreni", "SpisOtevreni"]
    assert latest.stav == "otevreny"
    assert reader.of(SpisClosed) == reader.of(SpisReopened) == []


async def test_an_unknown_revision_is_refused_with_a_clear_problem(agent_env, spisovka):
    """A Spisovka revision the adapter does not know is reported and nothing is read from it."""
    await spisovka.add_spis("OVÚP/4/2024")
    await spisovka.execute("UPDATE settings SET value = '9999' WHERE name = 'db_revision'")
    source = SpisovkaSource(
        open_database(parse_db_url(spisovka.url()), spisovka.password, query_timeout_s=10),
        table_prefix="",
        folder_prefix="",
    )
    with pytest.raises(Exception, match="revizi databáze 9999"):
        await source.everything()
    await source.close()
    reader = await agent_env.reader()
    await agent_env.start(spisovka_config(agent_env, spisovka))
    await agent_env.eventually(
        lambda: any(h.problem_kinds.get("registry_unreadable") for h in reader.heartbeats)
    )
    assert reader.of(SpisSnapshot) == []


@pytest.mark.parametrize("revision", [1435, 1445, 1635])
async def test_older_revisions_are_read_from_their_own_layout(tmp_path, revision):
    """Revisions before 1440, 1450 and 1640 read the dokument's spis, order and file path where they kept them."""
    db = SpisovkaDb(revision)
    await db.create(tmp_path)
    try:
        spis = await db.add_spis("OVÚP/5/2024")
        first = await db.add_dokument(spis, "OVÚP/50/2024")
        second = await db.add_dokument(spis, "OVÚP/51/2024")
        if revision < 1440:
            await db.execute(
                "UPDATE dokument_to_spis SET poradi = 7 WHERE dokument_id = %s", second
            )
        await db.add_file(first, "2024/05/a.pdf")
        source = SpisovkaSource(
            open_database(parse_db_url(db.url()), db.password, query_timeout_s=10),
            table_prefix="",
            folder_prefix="",
        )
        assert await source.contract_problems() == []
        records = (await source.everything()).records
        await source.close()
    finally:
        await db.drop()
    poradi = {r["id"]: (r["spis_id"], r["poradi"]) for r in records["dokument"]}
    assert poradi[str(first)] == (str(spis), 1)
    assert poradi[str(second)] == (str(spis), 7 if revision < 1440 else 2)
    assert [k["soubor"] for k in records["komponenta"]] == ["2024/05/a.pdf"]


async def test_agent_check_verifies_the_read_only_login_and_warns_when_it_can_write(
    agent_env, spisovka
):
    """`agent check` passes a SELECT-only login, warns about one that may write, and fails one that cannot read."""
    from agent.check import check  # noqa: PLC0415 - the check's own imports are heavy

    config = spisovka_config(agent_env, spisovka)

    async def registry_findings():
        return [
            (f.ok, f.warning, f.detail)
            for f in await check(config)
            if f.what.startswith("registry")
        ]

    [(ok, warning, _)] = await registry_findings()
    assert (ok, warning) == (True, False)
    grantee = f"'{spisovka.user}'@'%'"
    await spisovka.execute(f"GRANT INSERT, UPDATE ON {spisovka.database}.* TO {grantee}")
    [first, second] = await registry_findings()
    assert first[:2] == (True, False)
    assert second[:2] == (True, True)
    assert "INSERT" in second[2]
    assert "UPDATE" in second[2]
    await spisovka.execute(f"REVOKE ALL PRIVILEGES ON {spisovka.database}.* FROM {grantee}")
    [(ok, _, detail)] = await registry_findings()
    assert not ok
    assert "settings" in detail or "denied" in detail


async def test_an_undecodable_spisovka_cell_refuses_only_its_record(spisovka):
    """A spis whose text is not UTF-8 (a column an old install left binary) is refused by field; the others read."""
    from agent.registry.contract import clean_row  # noqa: PLC0415 - only this test needs it

    await spisovka.execute("ALTER TABLE spis MODIFY popis VARBINARY(200) NOT NULL DEFAULT ''")
    bad = await spisovka.add_spis("OVÚP/9/2024", popis="x")
    good = await spisovka.add_spis("OVÚP/10/2024")
    await spisovka.execute("UPDATE spis SET popis = X'4BE163656EED' WHERE id = %s", bad)
    source = SpisovkaSource(
        open_database(parse_db_url(spisovka.url()), spisovka.password, query_timeout_s=10),
        table_prefix="",
        folder_prefix="",
    )
    rows = {r["id"]: r for r in (await source.everything()).records["spis"]}
    await source.close()
    refused = clean_row(rows[str(bad)])
    assert refused.row is None
    assert "pole nazev" in (refused.refused or "")
    assert clean_row(rows[str(good)]).row is not None


async def test_a_table_prefix_is_read_as_configured(spisovka):
    """With `table_prefix` the adapter reads the install's prefixed tables, and a wrong prefix is named in the error."""
    spis = await spisovka.add_spis("OVÚP/11/2024")
    await spisovka.add_dokument(spis, "OVÚP/110/2024")
    tables = [row[0] for row in await spisovka.fetch("SHOW TABLES")]
    for table in tables:
        await spisovka.execute(f"CREATE VIEW sp_{table} AS SELECT * FROM {table}")

    def source(prefix: str) -> SpisovkaSource:
        return SpisovkaSource(
            open_database(parse_db_url(spisovka.url()), spisovka.password, query_timeout_s=10),
            table_prefix=prefix,
            folder_prefix="",
        )

    prefixed = source("sp_")
    assert await prefixed.contract_problems() == []
    records = (await prefixed.everything()).records
    await prefixed.close()
    assert [r["spisova_znacka"] for r in records["spis"]] == ["OVÚP/11/2024"]
    wrong = source("xx_")
    with pytest.raises(Exception, match="table_prefix 'xx_' right"):
        await wrong.everything()
    await wrong.close()
