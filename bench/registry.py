"""Benchmark 4: registry changes -> committed at the hub, in changes per second.

An eSSL registry from the reference schema (`packaging/registry/schema.sql`,
whose triggers fill the change log) is watched by `spisync agent run` (default
settings: the change log is polled every 2 s) against `spisync hub run`. Once a
warm-up spis has reached the hub, this process commits, in one transaction,
10,000 changes: 2,000 spisy, each with one dokument and two komponenty (8,000
inserts), then an update of every spis's `nazev` (2,000).

What is counted is what moved: registry messages committed at the hub, counted
in the hub's SQLite (`processed_messages`), not change-log rows. An insert and a
later rename of the same spis in one transaction are one change to send (the
spis's latest snapshot), so 10,000 change-log rows are 8,000 messages. The clock
runs from the commit until the hub has committed a message for every record of
the registry (counted in the registry itself) and shows every spis renamed.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

from bench.env import REPO, Bench, wait_until
from bench.results import BenchResult, Figure

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.broker import SharedBroker

__all__ = ["registry"]

_REGISTRY_KINDS = ("spis", "dokument", "komponenta", "record_deleted")

SCHEMA = REPO / "packaging" / "registry" / "schema.sql"
_SPIS = (
    "INSERT INTO spis ("
    "id, spisova_znacka, nazev, spisovy_znak, skartacni_znak, skartacni_lhuta, "
    "datum_otevreni, datum_uzavreni, stav, zpracovatel) "
    "VALUES "
    "(?, ?, ?, '1.2', 'V', 5, '2026-01-05', NULL, 'otevreny', 'Jana Nováková')"
)


def _write_changes(path: Path, spisy: int) -> int:
    """Commit the changes in one transaction; return how many change-log rows they made."""
    with sqlite3.connect(path, isolation_level=None) as db:
        before = db.execute("SELECT count(*) FROM zmeny").fetchone()[0]
        db.execute("BEGIN")
        for i in range(spisy):
            db.execute(_SPIS, (f"S{i}", f"OÚ/{i}/2026", f"Žádost {i}"))
            db.execute(
                "INSERT INTO dokument ("
                "id, spis_id, cislo_jednaci, nazev, puvod, datum, odesilatel_autor, poradi) "
                "VALUES (?, ?, ?, 'Podání', 'doruceny', '2026-01-05', "
                "'Petr Dvořák', 1)",
                (f"D{i}", f"S{i}", f"OÚ/{i}/2026-1"),
            )
            for k in (1, 2):
                db.execute(
                    "INSERT INTO komponenta ("
                    "id, dokument_id, poradi, verze, druh, forma_uchovani, soubor) "
                    "VALUES (?, ?, ?, 1, 'příloha', 'originál', ?)",
                    (f"K{i}-{k}", f"D{i}", k, f"podani/{i}-{k}.pdf"),
                )
        db.executemany(
            "UPDATE spis SET nazev = ? WHERE id = ?",
            [(f"Žádost {i} (doplněno)", f"S{i}") for i in range(spisy)],
        )
        db.execute("COMMIT")
        return int(db.execute("SELECT count(*) FROM zmeny").fetchone()[0] - before)


def _records(path: Path) -> int:
    """Records in the registry (spisy, dokumenty, komponenty): each needs one message."""
    with sqlite3.connect(path) as db:
        return sum(
            int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("spis", "dokument", "komponenta")
        )


async def registry(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Commit a burst of registry changes; time them until all are committed at the hub."""
    spisy = 50 if quick else 2000
    async with Bench.create(broker, result.name) as env:
        ico = env.new_ico()
        url = await env.provision(ico)
        hub = await env.start_hub(ico)
        essl = env.base / "essl.sqlite"
        with sqlite3.connect(essl) as db:
            db.executescript(SCHEMA.read_text(encoding="utf-8"))
            db.execute(_SPIS, ("W", "OÚ/W/2026", "Zahřátí"))
        config = env.write_agent_config(ico, url, registry=essl, log_level="warning")
        agent = env.start_agent(config)
        async with env.hub_view() as view:

            async def warm() -> bool:
                agent.alive()
                return any(s["id"] == "W" for s in await view.spisy(ico))

            await wait_until(warm, timeout=60, interval=0.2, what="the warm-up spis at the hub")
            before = _registry_messages(env, ico)
            rows = _write_changes(essl, spisy)
            started = time.monotonic()
            records = _records(essl)

            async def committed() -> bool:
                hub.alive()
                agent.alive()
                if _registry_messages(env, ico) < records:
                    return False
                rows = await view.spisy(ico)
                done = sum(1 for s in rows if str(s["nazev"]).endswith("(doplněno)"))
                return done == spisy

            await wait_until(committed, timeout=600, interval=0.5, what="every change at the hub")
            elapsed = time.monotonic() - started
            moved = _registry_messages(env, ico) - before
    result.add(Figure("change-log rows written", rows, "rows"))
    result.add(Figure("registry messages committed at the hub", moved, "messages"))
    result.add(Figure("time", round(elapsed, 2), "s"))
    result.add(Figure("registry messages/s", round(moved / elapsed, 1), "messages/s", "end to end"))
    result.notes.append(
        f"{rows:,} change-log rows committed at once: {spisy:,} spisy + {spisy:,} dokumenty "
        f"+ {2 * spisy:,} komponenty inserted, then {spisy:,} spisy renamed; messages are "
        "counted in the hub's processed_messages table; the hub is polled every 0.5 s and the "
        "agent polls the change log every 2 s (its default), so up to 2.5 s of the time is polling."
    )


def _registry_messages(env: Bench, ico: str) -> int:
    counts = env.committed_messages(ico)
    return sum(counts.get(kind, 0) for kind in _REGISTRY_KINDS)
