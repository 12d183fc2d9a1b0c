"""Benchmark 7: closing a spis of 20 dokumenty x 3 komponenty -> SIP accepted at the archive.

`spisync hub run`, `spisync archive run` and `spisync agent run` (default
settings) run as processes on one vhost. The office writes 60 files (fake PDF
scans of about 120 KB, as the demo's) and registers them in its eSSL registry
(the demo's `Registry` on the reference schema) as one spis with 20 dokumenty of
3 komponenty each. Once the hub holds the spis open with no content missing,
the spis is closed in the registry; the clock runs from that commit until the
hub's `spisy` query shows the spis `archived` (the hub built the SIP, forwarded
it, and the archive validated, stored and confirmed it). `spisync hub spisy
--json` is run once at the end to confirm the state as an operator sees it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bench.env import REPO, Bench, wait_until
from bench.registry import SCHEMA
from bench.results import BenchResult, Figure
from demo.obce import Registry, fake_scan

if TYPE_CHECKING:
    from testkit.broker import SharedBroker

__all__ = ["closing"]

_DOKUMENTY = 20
_KOMPONENTY = 3


def _spis(rows: list[dict[str, Any]], spis_id: str) -> dict[str, Any] | None:
    return next((s for s in rows if s["id"] == spis_id), None)


async def _cli_state(hub_toml: str, ico: str, spis_id: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "spisync.cli", "hub", "spisy",
        "--config", hub_toml, "--ico", ico, "--json",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"spisync hub spisy failed: {err.decode(errors='replace')[-500:]}")
    spis = _spis(json.loads(out), spis_id)
    return "missing" if spis is None else str(spis["state"])


async def closing(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Close a complete spis; time until it is archived."""
    dokumenty = 3 if quick else _DOKUMENTY
    async with Bench.create(broker, result.name) as env:
        ico = env.new_ico()
        url = await env.provision(ico)
        hub = await env.start_hub(ico)
        archive_toml = env.base / "ARCHIVE.toml"
        archive_toml.write_text(
            f'[archive]\ndata_dir = "{env.base / "archive"}"\n\n'
            f'[broker]\nurl = "{env.admin_url}"\n',
            encoding="utf-8",
        )
        archive = env.start("archive", "archive", "run", "--config", str(archive_toml))
        folder = env.base / "dokumenty"
        folder.mkdir()
        essl = env.base / "essl.sqlite"
        office = Registry(essl, SCHEMA)
        today = datetime.now(UTC).date()
        spis_id = office.open_spis(
            znacka="OÚ/77/2026",
            nazev="Stavební povolení, rodinný dům",
            znak="3.2.1",
            skartace=("A", 10),
            opened=today,
            clerk="Marie Nováková",
            archival={
                "zpracovatel_utvar": "Stavební úřad",
                "zpracovatel_pozice": "referentka",
                "spisovy_plan_identifikator": "SSP-2026",
                "spisovy_plan_nazev": "Spisový a skartační plán",
                "spisovy_plan_platnost_od": "2026-01-01",
                "vecna_skupina_nazev": "Stavební řízení",
                "skartacni_rezim_identifikator": "A/10",
                "skartacni_rezim_nazev": "Stavební řízení, A 10",
                "spousteci_udalost": "uzavření spisu",
            },
        )
        total = 0
        for d in range(1, dokumenty + 1):
            dokument = office.add_dokument(
                spis_id,
                cj=f"OÚ/77/2026-{d}",
                nazev=f"Dokument {d}",
                puvod="doruceny" if d % 2 else "vlastni",
                datum=today,
                kdo="Petr Dvořák",
                poradi=d,
                archival={
                    "zpracovatel": "Marie Nováková",
                    "zpracovatel_utvar": "Stavební úřad",
                    "zpracovatel_pozice": "referentka",
                },
            )
            if d % 2:
                office.add_subjekt(
                    dokument,
                    role="odesilatel",
                    typ="fyzicka_osoba",
                    nazev="Petr Dvořák",
                    postovni_adresa="Náves 1, Klatovy",
                    email="petr.dvorak@example.cz",
                )
            for k in range(1, _KOMPONENTY + 1):
                soubor = f"spis-77/dokument-{d:02}-{k}.pdf"
                data = fake_scan(f"{ico}-{d}-{k}", 2)
                (folder / soubor).parent.mkdir(exist_ok=True)
                (folder / soubor).write_bytes(data)
                total += len(data)
                office.add_komponenta(dokument, soubor=soubor, poradi=k)
        config = env.write_agent_config(ico, url, folder=folder, registry=essl, log_level="warning")
        agent = env.start_agent(config)
        async with env.hub_view() as view:

            async def ready() -> bool:
                for service in (hub, archive, agent):
                    service.alive()
                spis = _spis(await view.spisy(ico), spis_id)
                files = await view.files(ico)
                return bool(spis and not spis["missing"]) and len(files) == dokumenty * 3

            await wait_until(ready, timeout=300, interval=0.3, what="the open spis complete at hub")
            office.close_spis(spis_id, today, "Marie Nováková")
            started = time.monotonic()
            states: dict[str, float] = {}

            async def archived() -> bool:
                for service in (hub, archive, agent):
                    service.alive()
                spis = _spis(await view.spisy(ico), spis_id)
                state = "missing" if spis is None else str(spis["state"])
                states.setdefault(state, time.monotonic() - started)
                return state == "archived"

            try:
                await wait_until(archived, timeout=300, interval=0.2, what="the spis archived")
            except Exception:
                spis = _spis(await view.spisy(ico), spis_id)
                result.notes.append(f"states seen: {states}; last row at the hub: {spis}")
                raise
            elapsed = time.monotonic() - started
        cli_state = await _cli_state(str(env.base / "HUB.toml"), ico, spis_id)
        if cli_state != "archived":
            raise RuntimeError(f"`spisync hub spisy --json` shows {cli_state!r}, not 'archived'")
    result.add(Figure("close -> archived", round(elapsed, 2), "s"))
    for state, at in states.items():
        if state not in {"open", "archived"}:
            result.add(Figure(f"close -> first seen {state}", round(at, 2), "s"))
    result.add(Figure("komponenty", dokumenty * _KOMPONENTY, "files"))
    result.add(Figure("content in the SIP", round(total / 1_000_000, 2), "MB"))
    result.notes.append(
        f"1 spis, {dokumenty} dokumenty x {_KOMPONENTY} komponenty; the clock starts when the "
        "spis is closed in the registry, so it includes the agent's registry poll (2 s default) "
        "and the hub polled every 0.2 s."
    )
