"""Benchmark 8: Spisovka on MariaDB -> hub: initial load, then change-to-hub latency.

A Spisovka 3 database (revision 1660, the tables and columns the adapter
reads, from `testkit.spisovka`) on the machine's MariaDB holds 10,000 spisy of
5 dokumenty each (50,000 dokumenty), each dokument with one file, a sender
and a log entry. `spisync agent run` reads it with `[registry] kind =
"spisovka"` and default settings (poll every 2 s) against `spisync hub run`.

- initial load: from the agent's start until the hub has committed every
  spis, dokument and komponenta (its processed-message count);
- latency: then, one at a time, a spis's věc is changed in Spisovka (as
  Spisovka does: `popis` and `date_modified`, committed) and the clock runs
  until the hub's snapshot of that spis carries it.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bench.env import Bench, wait_until
from bench.results import BenchResult, Figure
from testkit.spisovka import SpisovkaDb

if TYPE_CHECKING:
    from testkit.broker import SharedBroker

__all__ = ["spisovka"]

_PER_SPIS = 5
_CHANGES = 10
_POLL_S = 2.0  # the agent's default poll interval


async def _load(db: SpisovkaDb, spisy: int) -> None:
    """Fill Spisovka with `spisy` spisy of `_PER_SPIS` dokumenty, in bulk."""
    start = datetime(2025, 1, 6, 8, 0)  # noqa: DTZ001 - Spisovka writes naive local time
    base = 1000
    await db.executemany(
        "INSERT INTO spis (id, parent_id, typ, nazev, popis, stav, spisovy_znak_id, "
        "spousteci_udalost_id, orgjednotka_id, skartacni_znak, skartacni_lhuta, datum_otevreni, "
        "date_created, user_created) VALUES (%s, 1, 'S', %s, %s, 1, 1, 3, 1, 'A', 10, %s, %s, 1)",
        [(base + i, f"OVÚP/{i}/2025", f"Stavební řízení {i}", start, start) for i in range(spisy)],
    )
    await db.executemany(
        "INSERT INTO subjekt (id, type, ic, nazev_subjektu, adresa_mesto, id_isds, date_created) "
        "VALUES (%s, 'PO', '00255319', %s, 'Čachrov', 'g7wau5c', %s)",
        [(base + i, f"Stavebník {i} s.r.o.", start) for i in range(spisy)],
    )
    dokumenty = [
        (i, k, base * 10 + i * _PER_SPIS + k) for i in range(spisy) for k in range(_PER_SPIS)
    ]
    moment = [start + timedelta(minutes=k) for k in range(_PER_SPIS)]
    await db.executemany(
        "INSERT INTO dokument (id, dokument_typ_id, spis_id, jid, nazev, cislo_jednaci, stav, "
        "datum_vzniku, date_created, owner_user_id, owner_orgunit_id, zpusob_doruceni_id, "
        "pocet_listu, pocet_priloh) VALUES (%s, 1, %s, %s, 'Žádost', %s, 1, %s, %s, 1, 1, 5, 2, 1)",
        [
            (d, base + i, f"OVUP{d}", f"OVÚP/{i}-{k}/2025", moment[k], moment[k])
            for i, k, d in dokumenty
        ],
    )
    await db.executemany(
        "INSERT INTO dokument_to_subjekt (dokument_id, subjekt_id, typ) VALUES (%s, %s, 'O')",
        [(d, base + i) for i, _, d in dokumenty],
    )
    await db.executemany(
        "INSERT INTO file (id, typ, nazev, mime_type, real_name, storage_path, date_created, "
        "size) VALUES (%s, 1, 'sken.pdf', 'application/pdf', 'sken.pdf', %s, %s, 180000)",
        [(d, f"2025/{i}/{d}.pdf", moment[k]) for i, k, d in dokumenty],
    )
    await db.executemany(
        "INSERT INTO dokument_to_file (dokument_id, file_id) VALUES (%s, %s)",
        [(d, d) for _, _, d in dokumenty],
    )
    await db.executemany(
        "INSERT INTO log_spis (spis_id, user_id, typ, date) VALUES (%s, 1, 41, %s)",
        [(base + i, start) for i in range(spisy)],
    )
    await db.executemany(
        "INSERT INTO log_dokument (dokument_id, user_id, typ, date) VALUES (%s, 1, 11, %s)",
        [(d, moment[k]) for _, k, d in dokumenty],
    )


async def spisovka(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Load a Spisovka registry into the hub; then time single changes to the hub."""
    spisy = 200 if quick else 10_000
    expected = spisy + 2 * spisy * _PER_SPIS  # spisy, dokumenty, komponenty
    async with Bench.create(broker, result.name) as env:
        db = SpisovkaDb()
        password_file = await db.create(env.base)
        try:
            load_started = time.monotonic()
            await db.execute("START TRANSACTION")
            await _load(db, spisy)
            await db.execute("COMMIT")
            result.add(
                Figure("rows written to MariaDB", round(time.monotonic() - load_started, 1), "s")
            )
            ico = env.new_ico()
            url = await env.provision(ico)
            await env.start_hub(ico)
            files = env.base / "spisovka-files"
            files.mkdir()
            config = env.write_agent_config(ico, url, log_level="warning")
            with config.open("a", encoding="utf-8") as toml:
                toml.write(
                    f'\n[[folders]]\npath = "{files}"\nname = "spisovna"\n\n[registry]\n'
                    f'kind = "spisovka"\nurl = "{db.url()}"\n'
                    f'password_file = "{password_file}"\nfiles_folder = "spisovna"\n'
                )
            started = time.monotonic()
            agent = env.start_agent(config)
            async with env.hub_view() as view:

                async def loaded() -> bool:
                    agent.alive()
                    return await view.store.processed_messages(ico) >= expected

                await wait_until(loaded, timeout=3600, interval=1.0, what="the whole registry")
                initial = time.monotonic() - started
                latencies = []
                for n in range(_CHANGES):
                    # A change lands anywhere within a poll interval, not just after a poll.
                    await asyncio.sleep(random.uniform(0, _POLL_S))
                    spis_id = str(1000 + n)
                    text = f"Stavební řízení {n} (změna {n})"
                    await db.execute(
                        "UPDATE spis SET popis = %s, date_modified = NOW() WHERE id = %s",
                        text,
                        int(spis_id),
                    )
                    changed = time.monotonic()

                    async def arrived(spis_id: str = spis_id, text: str = text) -> bool:
                        detail = await view.store.spis_detail(ico, spis_id)
                        return detail is not None and detail.snapshot.nazev == text

                    await wait_until(
                        arrived, timeout=120, interval=0.02, what="a change at the hub"
                    )
                    latencies.append(time.monotonic() - changed)
        finally:
            await db.drop()
    result.add(Figure("spisy", spisy, "spisy"))
    result.add(Figure("dokumenty (each with one komponenta)", spisy * _PER_SPIS, "dokumenty"))
    result.add(Figure("initial load to the hub", round(initial, 1), "s"))
    result.add(
        Figure("records committed at the hub per s", round(expected / initial, 1), "records/s")
    )
    result.add(Figure("change -> hub, median", round(statistics.median(latencies), 2), "s"))
    result.add(Figure("change -> hub, max", round(max(latencies), 2), "s"))
    result.notes.append(
        f"{_CHANGES} changes, each at a random moment within a poll interval, at the default "
        "poll interval (2 s): a change waits on average half an interval for the next poll, "
        "then one poll's read; the hub is read every 20 ms."
    )
