"""Benchmark 5: fan-in of many agents against one hub: the hub's capacity and CPU.

100 obce are provisioned at one `spisync hub run` (default settings). Each is
simulated by `testkit.hub.Agent`: a lightweight publisher that speaks the
real protocol as the obec's own broker user (its own connection, publisher
confirms, persistent, `mandatory`). Every agent sends its small files (4 KiB:
one chunk and its manifest, 2 messages) back to back, as fast as the broker
confirms them: the offered load is as high as the agents can make it, so the
rate at which the hub commits is its capacity, not a nominal rate. Capacity =
file versions committed at the hub (counted in its SQLite, `processed_messages`)
/ (first publish -> the last one committed); the publish rate beside it shows
whether the agents outran the hub (a backlog in the queues) or the other way
round. The hub's CPU is its user + system time over the same span (from
/proc). The simulated agents run in this process (on the same uvloop as the
roles) and share the 2 cores with the hub and the broker.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

from bench.env import Bench, wait_until
from bench.results import BenchResult, Figure
from testkit.hub import Agent

if TYPE_CHECKING:
    from testkit.broker import SharedBroker

__all__ = ["fan_in"]

_FILE = 4096
_MESSAGES_PER_FILE = 2


async def _provision(env: Bench, count: int) -> list[Agent]:
    limit = asyncio.Semaphore(8)

    async def one() -> Agent:
        async with limit:
            ico = env.new_ico()
            return Agent(ico=ico, url=await env.provision(ico), inbox=env.inbox(ico))

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _drive(agent: Agent, files: int) -> None:
    for i in range(files):
        await agent.send_file(f"podatelna/{i:05}.pdf", os.urandom(_FILE), chunk_size=_FILE)


async def fan_in(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Many simulated agents publishing as fast as they can: the hub's capacity and CPU."""
    agents_n, files = (10, 20) if quick else (100, 30)
    async with Bench.create(broker, result.name) as env:
        agents = await _provision(env, agents_n)
        hub = await env.start_hub(*(a.ico for a in agents), timeout=180)
        try:
            await asyncio.gather(*(a.connect() for a in agents))
            cpu0 = hub.cpu_seconds()
            started = time.monotonic()
            await asyncio.gather(*(_drive(agent, files) for agent in agents))
            published = time.monotonic()

            def committed_files() -> int:
                return sum(env.committed_messages(a.ico).get("file_version", 0) for a in agents)

            async def committed() -> bool:
                hub.alive()
                return committed_files() >= agents_n * files

            await wait_until(committed, timeout=600, interval=0.2, what="every file at the hub")
            elapsed = time.monotonic() - started
            cpu = hub.cpu_seconds() - cpu0
            rss = hub.rss_kib()
            versions = committed_files()
        finally:
            await asyncio.gather(*(a.close() for a in agents), return_exceptions=True)
    messages = versions * _MESSAGES_PER_FILE
    result.add(Figure("simulated agents", agents_n, "agents"))
    result.add(Figure("file versions committed at the hub", versions, "files"))
    result.add(
        Figure("publish rate (agents, confirmed)", round(messages / (published - started), 1),
               "msgs/s")
    )  # fmt: skip
    result.add(Figure("hub capacity (first publish -> last committed)",
                      round(messages / elapsed, 1), "msgs/s"))  # fmt: skip
    result.add(Figure("hub capacity, file versions", round(versions / elapsed, 1), "files/s"))
    result.add(
        Figure("drain after the last publish", round(elapsed - (published - started), 2), "s")
    )
    result.add(Figure("hub CPU", round(cpu / elapsed * 100, 1), "% of one core"))
    result.add(Figure("hub CPU per 1,000 messages", round(cpu / messages * 1000, 3), "s"))
    result.add(Figure("hub RSS at the end", round(rss / 1024, 1), "MiB"))
    result.notes.append(
        f"{agents_n} agents x {files} files of {_FILE} B ({_MESSAGES_PER_FILE} messages each: "
        "chunk + manifest), sent back to back with confirms; file versions counted in the "
        "hub's processed_messages table."
    )
