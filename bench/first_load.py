"""Benchmark: an agent's first sync of many small files into the hub (issue #15.4).

100,000 files of 2 KiB (quick: 2,000) of random bytes, in folders of 100, are
in the agent's folder before it starts; `spisync agent run` (default settings)
against `spisync hub run` (default settings, local blob store) on the machine's
broker. Timed from the agent's start until the hub has committed a version of
every file, counted in the hub's own `file_versions` table; then every file's
SHA-256 at the hub is compared with the one written, so a run counts only
content that really arrived. CPU of agent, hub and broker over the same span
says where the time goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.env import Bench, BrokerCpu, settle_caches, wait_until, write_random_tree
from bench.results import Figure

if TYPE_CHECKING:
    from bench.results import BenchResult
    from testkit.broker import SharedBroker

__all__ = ["first_load"]

_SIZE = 2048
_AIM_S = 60.0  # issue #15.4, for 100,000 files


def _versions(hub_db: Path, ico: str) -> int:
    """File versions the hub committed for `ico` (read-only, beside the running hub)."""
    with contextlib.closing(sqlite3.connect(f"{hub_db.as_uri()}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT count(*) FROM file_versions WHERE ico = ? AND deleted = 0", (ico,)
        ).fetchone()
    return int(row[0])


async def first_load(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Time the first sync of `count` small files, agent start -> every version committed."""
    count = 2000 if quick else 100_000
    async with Bench.create(broker, result.name) as env:
        src = env.base / "src"
        expected = await asyncio.to_thread(write_random_tree, src, count, _SIZE)
        result.notes.append(
            f"{count:,} files x {_SIZE:,} B of random bytes, 100 per folder; "
            f"{await asyncio.to_thread(settle_caches)}"
        )
        ico = env.new_ico()
        url = await env.provision(ico)
        hub = await env.start_hub(ico)
        hub_db = Path(env.hub_config().hub.data_dir) / "hub.sqlite"
        config = env.write_agent_config(ico, url, folder=src, log_level="warning")
        hub_cpu0 = hub.cpu_seconds()
        broker_cpu = BrokerCpu(broker)
        broker_cpu.start()
        started = time.monotonic()
        agent = env.start_agent(config)

        async def all_committed() -> bool:
            hub.alive()
            agent.alive()
            return await asyncio.to_thread(_versions, hub_db, ico) >= count

        await wait_until(all_committed, timeout=1800, interval=0.25, what="every version")
        elapsed = time.monotonic() - started
        cpu = {"agent": agent.cpu_seconds(), "hub": hub.cpu_seconds() - hub_cpu0}
        cpu |= broker_cpu.used()
        async with env.hub_view() as view:
            files = await view.files(ico)
        wrong = [p for p, sha in expected.items() if files.get(p, {}).get("sha256") != sha]
        if wrong:
            raise RuntimeError(f"{len(wrong)} file(s) at the hub differ, e.g. {wrong[0]}")
    time_figure = result.add(Figure("agent start -> every file committed", round(elapsed, 1), "s"))
    if not quick:
        result.aims[time_figure.name] = ("<", _AIM_S)
    result.add(Figure("files committed at the hub", len(files), "files"))
    result.add(Figure("files per second", round(count / elapsed, 1), "files/s"))
    for stage, seconds in cpu.items():
        result.add(Figure(f"CPU: {stage}", round(seconds, 1), "s"))
        result.add(Figure(f"CPU per file: {stage}", round(seconds / count * 1000, 3), "ms"))
