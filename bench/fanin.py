"""Benchmark 5: fan-in of many agents against one hub: sustained messages/s and the hub's CPU.

100 obce are provisioned at one `spisync hub run` (default settings). Each is
simulated by `testkit.hub.Agent`: a lightweight publisher that speaks the
real protocol as the obec's own broker user (its own connection, publisher
confirms, persistent, `mandatory`). Every agent sends one small file (4 KiB:
one chunk and its manifest, 2 messages) per second, phase-shifted so that the
load is steady, for 60 s. Sustained rate = messages sent / (first publish ->
every file committed at the hub); the hub's CPU is its user + system time over
the same span (from /proc), in % of one core. The simulated agents run in this
process and share the 2 cores with the hub and the broker.
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
            return Agent(ico=ico, url=await env.provision(ico))

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _drive(agent: Agent, files: int, period: float, phase: float, start: float) -> None:
    for i in range(files):
        await asyncio.sleep(max(0.0, start + phase + i * period - time.monotonic()))
        await agent.send_file(f"podatelna/{i:05}.pdf", os.urandom(_FILE), chunk_size=_FILE)


async def fan_in(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Steady small changes from many simulated agents; rate and hub CPU."""
    agents_n, seconds, period = (10, 10, 1.0) if quick else (100, 60, 1.0)
    files = int(seconds / period)
    async with Bench.create(broker, result.name) as env:
        agents = await _provision(env, agents_n)
        hub = await env.start_hub(*(a.ico for a in agents), timeout=180)
        try:
            await asyncio.gather(*(a.connect() for a in agents))
            cpu0 = hub.cpu_seconds()
            started = time.monotonic()
            await asyncio.gather(
                *(
                    _drive(agent, files, period, period * n / agents_n, started)
                    for n, agent in enumerate(agents)
                )
            )
            published = time.monotonic()
            async with env.hub_view() as view:
                left = {a.ico for a in agents}

                async def committed() -> bool:
                    hub.alive()
                    for ico in list(left):
                        if len(await view.files(ico)) == files:
                            left.discard(ico)
                    return not left

                await wait_until(committed, timeout=300, interval=0.2, what="every file at the hub")
            elapsed = time.monotonic() - started
            cpu = hub.cpu_seconds() - cpu0
            rss = hub.rss_kib()
        finally:
            await asyncio.gather(*(a.close() for a in agents), return_exceptions=True)
    messages = agents_n * files * _MESSAGES_PER_FILE
    result.add(Figure("simulated agents", agents_n, "agents"))
    result.add(Figure("offered rate", round(messages / seconds, 1), "msgs/s"))
    result.add(Figure("sustained rate (sent -> committed)", round(messages / elapsed, 1), "msgs/s"))
    result.add(
        Figure("drain after the last publish", round(elapsed - (published - started), 2), "s")
    )
    result.add(Figure("hub CPU", round(cpu / elapsed * 100, 1), "% of one core"))
    result.add(Figure("hub CPU per 1,000 messages", round(cpu / messages * 1000, 3), "s"))
    result.add(Figure("hub RSS at the end", round(rss / 1024, 1), "MiB"))
    result.notes.append(
        f"{agents_n} agents x {files} files of {_FILE} B ({_MESSAGES_PER_FILE} messages each) "
        f"over {seconds} s; the hub counts as committed when its `files` query shows every file."
    )
