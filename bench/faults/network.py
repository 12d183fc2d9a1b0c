"""The broker node restarted and the agent's link cut (testkit.proxy), during transfer and idle.

During transfer the fault comes a random moment after the office wrote files;
the scenario ends when all of them are at the hub byte-identical. While idle,
the fault comes once everything has landed and nothing changes: the agent must
reconnect by itself (no local change wakes it), which is waited for, and only
then does the office write one more file, which must land.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from bench.env import wait_until
from bench.faults.world import settle

if TYPE_CHECKING:
    from bench.faults.world import FaultWorld, Outcome, Scenario

__all__ = ["broker_restart_idle", "broker_restart_transfer", "link_cut_idle", "link_cut_transfer"]

# Broker restarts are slow (a node start is 10-30 s on a busy machine): a few suffice.
_MAX_NODE_RESTARTS = 3


async def _transfer(world: FaultWorld, scenario: Scenario, outcome: Outcome, *, cut: bool) -> None:
    async with world.scenario(outcome) as env:
        town = await world.town(env, proxied=cut)
        await env.start_hub(town.ico)
        town.start_agent()
        rounds = scenario.rounds if cut else min(scenario.rounds, _MAX_NODE_RESTARTS)
        for _ in range(rounds):
            town.write(scenario.rng, scenario.rng.randrange(5, 15))
            await asyncio.sleep(scenario.rng.uniform(0.2, 1.5))
            if cut:
                assert town.proxy is not None
                town.proxy.cut()
            else:
                await world.restart_node()
            outcome.faults += 1
            started = time.monotonic()
            await settle(
                env, town, outcome, timeout=scenario.timeout_s, what="files after the fault"
            )
            outcome.recovered(time.monotonic() - started)
        if town.proxy is not None:
            await town.proxy.close()


async def _idle(world: FaultWorld, scenario: Scenario, outcome: Outcome, *, cut: bool) -> None:
    async with world.scenario(outcome) as env:
        town = await world.town(env, proxied=cut)
        await env.start_hub(town.ico)
        town.start_agent()
        town.write(scenario.rng, 5)
        await settle(env, town, outcome, timeout=scenario.timeout_s, what="the first files")
        rounds = scenario.rounds if cut else min(scenario.rounds, _MAX_NODE_RESTARTS)
        for number in range(rounds):
            await wait_until(
                lambda: world.agent_connected(env, town),
                timeout=scenario.timeout_s,
                interval=0.3,
                what="the agent connected",
            )
            accepted = 0
            if town.proxy is not None:
                accepted = town.proxy.stats.accepted
                # Every other cut is silent (a NAT that drops the link): only heartbeats tell.
                town.proxy.cut(silent=number % 2 == 1)
            else:
                await world.restart_node()

            async def reconnected(before: int = accepted) -> bool:
                if town.proxy is not None:
                    return town.proxy.stats.accepted > before and town.proxy.connections > 0
                return await world.agent_connected(env, town)

            outcome.faults += 1
            started = time.monotonic()
            await wait_until(
                reconnected,
                timeout=scenario.timeout_s,
                interval=0.2,
                what="the idle agent to reconnect by itself",
            )
            reconnect_s = time.monotonic() - started
            town.write(scenario.rng, 1)
            await settle(
                env, town, outcome, timeout=scenario.timeout_s, what="the file after the fault"
            )
            outcome.recovered(time.monotonic() - started)
            outcome.notes.append(f"reconnected after {reconnect_s:.1f} s")
        if town.proxy is not None:
            await town.proxy.close()


async def broker_restart_transfer(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """Restart the broker node while files are being sent; all land once."""
    await _transfer(world, scenario, outcome, cut=False)


async def broker_restart_idle(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """Restart the broker node while the agent is idle; it reconnects by itself."""
    await _idle(world, scenario, outcome, cut=False)


async def link_cut_transfer(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """Cut the agent's TCP link while files are being sent; all land once."""
    await _transfer(world, scenario, outcome, cut=True)


async def link_cut_idle(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """Cut the idle agent's TCP link (reset, then silent); it reconnects by itself."""
    await _idle(world, scenario, outcome, cut=True)
