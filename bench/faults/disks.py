"""Full disks: the hub's metadata disk, its blob disk, the agent's state disk.

Each is a real small filesystem (tmpfs) filled with zeros while the office keeps
writing. The scenario waits until the full disk is felt (the hub logs
`batch_deferred`; the agent's state cannot grow), gives the space back, and ends
when every file is at the hub byte-identical. Nothing may have reached the
dead-letter queue.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

from bench.env import wait_until
from bench.faults.world import log_count, settle
from testkit.disk import SmallDisk

if TYPE_CHECKING:
    from pathlib import Path

    from bench.faults.world import FaultWorld, Outcome, Scenario

__all__ = ["full_agent_state_disk", "full_blob_disk", "full_metadata_disk"]

# How long the agent runs on a full state disk before the space comes back.
_AGENT_FULL_S = 5.0


async def _full_hub_disk(
    world: FaultWorld, scenario: Scenario, outcome: Outcome, *, blobs_on_disk: bool
) -> None:
    async with world.scenario(outcome) as env:
        with SmallDisk(env.base / "small-disk") as disk:
            data_dir = env.base / "hub"
            data_dir.mkdir()
            if blobs_on_disk:
                (disk.mount / "blobs").mkdir()
                (data_dir / "blobs").symlink_to(disk.mount / "blobs")
                env.hub_config(data_dir=str(data_dir))
            else:
                # Only the metadata database is on the small disk; blobs stay where there is room.
                (data_dir / "blobs").mkdir()
                (disk.mount / "blobs").symlink_to(data_dir / "blobs")
                env.hub_config(data_dir=str(disk.mount))
            town = await world.town(env)
            hub = await env.start_hub(town.ico)
            town.start_agent()
            town.write(scenario.rng, 3)
            await settle(env, town, outcome, timeout=scenario.timeout_s, what="the first files")
            await asyncio.to_thread(disk.fill)
            deferred = log_count(hub, "batch_deferred")
            town.write(scenario.rng, 20, max_size=60_000)

            async def held() -> bool:
                hub.alive()
                return log_count(hub, "batch_deferred") >= deferred + 3

            await wait_until(held, timeout=scenario.timeout_s, interval=0.3, what="batches held")
            disk.free()
            outcome.faults += 1
            started = time.monotonic()
            await settle(
                env, town, outcome, timeout=scenario.timeout_s, what="files after space returned"
            )
            outcome.recovered(time.monotonic() - started)
            hub.alive()
            outcome.notes.append(f"{log_count(hub, 'batch_deferred') - deferred} batches deferred")
            # A dead letter here is a delivery the full disk made the hub give up on.
            outcome.lost += await world.dead_letters(env)


def _failures_logged(log: Path, offset: int) -> str:
    """The warning and error events logged since `offset`: whether the full disk was felt."""
    with log.open("rb") as lines:
        lines.seek(offset)
        events: dict[str, int] = {}
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("level") in {"warning", "error", "critical"}:
                event = str(record.get("event", ""))[:60]
                events[event] = events.get(event, 0) + 1
    if not events:
        return "the agent logged no warning or error while its disk was full"
    return "logged while full: " + ", ".join(f"{e} x{n}" for e, n in sorted(events.items()))


async def full_metadata_disk(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """The hub's metadata disk is full while files arrive: held, then all land once."""
    await _full_hub_disk(world, scenario, outcome, blobs_on_disk=False)


async def full_blob_disk(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """The hub's blob disk is full while files arrive: held, then all land once."""
    await _full_hub_disk(world, scenario, outcome, blobs_on_disk=True)


async def full_agent_state_disk(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """The agent's state disk is full while the office writes: after space returns all land.

    An agent that stops on the full disk is started again, as systemd would; the
    restarts are noted.
    """
    async with world.scenario(outcome) as env:
        with SmallDisk(env.base / "agent-disk", size_mib=32) as disk:
            town = await world.town(env)
            town.configure(state_dir=str(disk.mount / "state"))
            await env.start_hub(town.ico)
            agent = town.start_agent()
            town.write(scenario.rng, 3)
            await settle(env, town, outcome, timeout=scenario.timeout_s, what="the first files")
            await asyncio.to_thread(disk.fill)
            logged = agent.log_path.stat().st_size
            town.write(scenario.rng, 100, max_size=20_000)
            await asyncio.sleep(_AGENT_FULL_S)
            disk.free()
            outcome.notes.append(_failures_logged(agent.log_path, logged))
            outcome.faults += 1
            restarts = 0
            if agent.process.poll() is not None:
                restarts += 1
                outcome.notes.append(
                    f"agent stopped on the full disk (exit {agent.process.returncode})"
                )
                agent = town.start_agent()
            started = time.monotonic()
            await settle(
                env, town, outcome, timeout=scenario.timeout_s, what="files after space returned"
            )
            outcome.recovered(time.monotonic() - started)
            if agent.process.poll() is not None:
                outcome.notes.append(f"agent exited later (exit {agent.process.returncode})")
            outcome.notes.append(f"{restarts} restarts needed")
