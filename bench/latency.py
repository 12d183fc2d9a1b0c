"""Benchmark 3: a file written and closed -> its version committed at the hub, p50 and p99.

`spisync hub run` and `spisync agent run` (default settings, so the agent's
2 s quiet window applies) run idle; then this process writes 200 files of
64 KiB at a steady 5 files per second into the watched folder, noting the
monotonic time each one is closed. A poller reads the hub's `files` query every
25 ms and notes when each path first shows its expected SHA-256. Latency is the
difference; the quiet window (a deliberate wait so that a file still being
written is not sent) is reported apart, and p50/p99 minus it beside.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from typing import TYPE_CHECKING

from bench.env import Bench, wait_until
from bench.results import BenchResult, Figure

if TYPE_CHECKING:
    from testkit.broker import SharedBroker

__all__ = ["latency", "percentile"]

_QUIET_WINDOW_S = 2.0  # AgentSection.quiet_window_s's default; the agent runs with it
_POLL_S = 0.025
_SIZE = 64 * 1024


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile `p` (0-100) of `values`."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


async def latency(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Write files at a steady rate; time each from close to committed at the hub."""
    count, rate = (20, 5.0) if quick else (200, 5.0)
    async with Bench.create(broker, result.name) as env:
        ico = env.new_ico()
        url = await env.provision(ico)
        hub = await env.start_hub(ico)
        folder = env.base / "dokumenty"
        folder.mkdir()
        (folder / "podatelna").mkdir()  # a new folder makes the agent rescan it: not measured here
        (folder / "warm-up.txt").write_bytes(b"warm-up")
        config = env.write_agent_config(ico, url, folder=folder, log_level="warning")
        agent = env.start_agent(config)
        closed: dict[str, float] = {}
        expected: dict[str, str] = {}
        seen: dict[str, float] = {}
        async with env.hub_view() as view:

            async def warm() -> bool:
                agent.alive()
                return "warm-up.txt" in await view.files(ico)

            await wait_until(warm, timeout=60, interval=0.2, what="the agent's first file")

            async def poll(stop: asyncio.Event) -> None:
                while not stop.is_set():
                    files = await view.files(ico)
                    now = time.monotonic()
                    for path, sha in expected.items():
                        if path not in seen and files.get(path, {}).get("sha256") == sha:
                            seen[path] = now
                    await asyncio.sleep(_POLL_S)

            stop = asyncio.Event()
            poller = asyncio.create_task(poll(stop))
            started = time.monotonic()
            for i in range(count):
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
                path = f"podatelna/sken-{i:04}.pdf"
                data = os.urandom(_SIZE)
                expected[path] = hashlib.sha256(data).hexdigest()
                with (folder / path).open("wb") as out:
                    out.write(data)
                closed[path] = time.monotonic()

            async def all_seen() -> bool:
                hub.alive()
                agent.alive()
                return len(seen) == count

            try:
                await wait_until(all_seen, timeout=120, interval=0.1, what="every file at the hub")
            finally:
                stop.set()
                await poller
    latencies = [seen[p] - closed[p] for p in closed]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    result.add(Figure("p50 close -> committed", round(p50, 3), "s"))
    result.add(Figure("p99 close -> committed", round(p99, 3), "s"))
    result.add(Figure("configured quiet window", _QUIET_WINDOW_S, "s", "agent default"))
    result.add(Figure("p50 minus quiet window", round(p50 - _QUIET_WINDOW_S, 3), "s"))
    result.add(Figure("p99 minus quiet window", round(p99 - _QUIET_WINDOW_S, 3), "s"))
    result.add(Figure("files", count, "files"))
    result.add(Figure("write rate", rate, "files/s"))
    result.notes.append(
        f"{count} files of {_SIZE // 1024} KiB at {rate:g}/s; the hub is polled every "
        f"{_POLL_S * 1000:.0f} ms (that, plus the query's own time, is the resolution). "
        "Besides the quiet window the agent's watcher groups inotify events for up to "
        "0.2 s (watchfiles debounce) before the window starts."
    )
