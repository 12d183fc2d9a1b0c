"""`kill -9` of the agent, the hub and the archive at random points, round after round.

Each round the office writes new files (and changes an earlier one), the victim
is killed with SIGKILL after a random delay (seeded) while the transfer runs,
started again, and the round ends when every file the office ever wrote is at
the hub byte-identical. The archive rounds close a spis instead and end when the
hub shows it `archived`; a package the archive stored twice counts as applied twice.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bench.env import wait_until
from bench.faults.world import log_count, settle
from bench.registry import SCHEMA
from demo.obce import Registry, fake_scan

if TYPE_CHECKING:
    from bench.env import Bench, Service
    from bench.faults.world import FaultWorld, Outcome, Scenario, Town

__all__ = ["kill_agent", "kill_archive", "kill_hub"]

# What a restarted archive logs when a kill interrupted its work on a SIP.
_RESUMED = ("stale_staging_removed", "sip_redelivered", "stored_package_adopted")


def _kill(service: Service) -> None:
    service.process.kill()
    service.process.wait(30)


async def _rounds(world: FaultWorld, scenario: Scenario, outcome: Outcome, victim: str) -> None:
    async with world.scenario(outcome) as env:
        town = await world.town(env)
        hub = await env.start_hub(town.ico)
        town.start_agent()
        town.write(scenario.rng, 5)
        await settle(env, town, outcome, timeout=scenario.timeout_s, what="the first files")
        for _ in range(scenario.rounds):
            town.write(scenario.rng, scenario.rng.randrange(2, 8))
            await asyncio.sleep(scenario.rng.uniform(0.0, 1.5))
            if victim == "agent":
                assert town.agent is not None
                _kill(town.agent)
                town.start_agent()
            else:
                _kill(hub)
                hub = await env.start_hub(town.ico)
            outcome.faults += 1
            started = time.monotonic()
            await settle(
                env,
                town,
                outcome,
                timeout=scenario.timeout_s,
                what=f"files after kill {outcome.faults}",
            )
            outcome.recovered(time.monotonic() - started)


async def kill_agent(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """SIGKILL the agent mid-transfer, start it again; everything lands once."""
    await _rounds(world, scenario, outcome, "agent")


async def kill_hub(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """SIGKILL the hub mid-batch, start it again; everything lands once."""
    await _rounds(world, scenario, outcome, "hub")


def _open_spis(office: Registry, town: Town, number: int) -> str:
    today = datetime.now(UTC).date()
    spis_id = office.open_spis(
        znacka=f"OÚ/{number}/2026",
        nazev=f"Žádost {number}",
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
    dokument = office.add_dokument(
        spis_id,
        cj=f"OÚ/{number}/2026-1",
        nazev="Žádost",
        puvod="vlastni",
        datum=today,
        kdo="Petr Dvořák",
        poradi=1,
        archival={
            "zpracovatel": "Marie Nováková",
            "zpracovatel_utvar": "Stavební úřad",
            "zpracovatel_pozice": "referentka",
        },
    )
    soubor = f"spis-{number}/zadost.pdf"
    # 6 MB, so that staging, validating and storing it take a moment to be killed in.
    data = fake_scan(f"{town.ico}-{number}", 100)
    path = town.folder / soubor
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    town.expected[soubor] = data
    office.add_komponenta(dokument, soubor=soubor, poradi=1)
    return spis_id


def _stored_packages(env: Bench, ico: str) -> int:
    folder = env.base / "archive" / ico
    return len(list(folder.glob("*.zip"))) if folder.exists() else 0


async def kill_archive(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """SIGKILL the archive while it takes a spis's SIP; each spis is archived, once."""
    async with world.scenario(outcome) as env:
        town = await world.town(env)
        await env.start_hub(town.ico)
        archive_toml = env.base / "ARCHIVE.toml"
        archive_toml.write_text(
            f'[archive]\ndata_dir = "{env.base / "archive"}"\n\n'
            f'[broker]\nurl = "{env.admin_url}"\n',
            encoding="utf-8",
        )
        archive = env.start("archive", "archive", "run", "--config", str(archive_toml))
        office = Registry(env.base / "essl.sqlite", SCHEMA)
        town.configure(registry=env.base / "essl.sqlite")
        town.start_agent()
        staging = env.base / "archive" / "staging"
        closed: list[str] = []
        rows: dict[str, str] = {}
        midway = 0
        async with env.hub_view() as view:

            async def states() -> dict[str, str]:
                return {row["id"]: row["state"] for row in await view.spisy(town.ico)}

            try:
                for number in range(1, scenario.rounds + 1):
                    spis_id = _open_spis(office, town, number)
                    office.close_spis(spis_id, datetime.now(UTC).date(), "Marie Nováková")
                    closed.append(spis_id)

                    async def arriving(spis: str = spis_id) -> bool:
                        if any(staging.glob("*/*")):
                            return True
                        return (await states()).get(spis) == "archived"

                    # The kill lands while the archive stages, validates or stores the SIP:
                    # a random moment after its first chunk is on the archive's disk.
                    await wait_until(
                        arriving, timeout=scenario.timeout_s, interval=0.01, what="SIP arriving"
                    )
                    await asyncio.sleep(scenario.rng.uniform(0.0, 0.1))
                    _kill(archive)
                    if (await states()).get(spis_id) != "archived":
                        midway += 1
                    archive = env.start("archive", "archive", "run", "--config", str(archive_toml))
                    outcome.faults += 1
                    started = time.monotonic()

                    async def archived(current: Service = archive) -> bool:
                        current.alive()
                        found = await states()
                        return all(found.get(spis) == "archived" for spis in closed)

                    await wait_until(
                        archived,
                        timeout=scenario.timeout_s,
                        interval=0.3,
                        what="every closed spis archived",
                    )
                    outcome.recovered(time.monotonic() - started)
            finally:
                rows = await states()
                # Counted in spisy: once archived, the hub lets its copy of the content go.
                outcome.expected = len(closed)
                outcome.identical = sum(rows.get(spis) == "archived" for spis in closed)
                outcome.lost = outcome.expected - outcome.identical
                outcome.applied_twice = max(0, _stored_packages(env, town.ico) - len(closed))
                outcome.notes.append(
                    f"counted in spisy closed and archived; {midway} of {outcome.faults} kills "
                    "came before the archive's confirm reached the hub; the archive's log: "
                    + ", ".join(f"{event} x{log_count(archive, event)}" for event in _RESUMED)
                )
