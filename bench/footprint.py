"""Benchmark 6: the idle agent's footprint with 10,000 and 100,000 watched files; a full rescan.

For each size, a fresh obec is provisioned and its folder filled with files of
2 KiB (500 per sub-folder). `spisync agent run` starts as its own process with
the default settings; once the initial load is done (every file indexed in
`state.sqlite` and the outbox empty, i.e. everything confirmed by the broker;
no hub runs, the obec's queue just fills), and after 5 s to settle, its RSS
(`VmRSS`) and CPU time are sampled from /proc over the idle period (60 s).

Then the agent is stopped and a rescan of the unchanged folder is timed: the
agent's own `FolderWatcher.scan_all` (what its periodic rescan calls: one
`stat` per file, compared with the index in `state.sqlite`) run in this process
on the agent's state; it must find nothing changed.

`tests/agent/measure_idle.py` calls `measure()` from here.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.config import DEFAULT_IGNORE_PATTERNS, FolderConfig
from agent.kept_content import KeptContent
from agent.problems import Problems
from agent.scanner import Folder, IgnoreRules
from agent.state import State
from agent.tracker import Tracker
from agent.watcher import FolderWatcher
from bench.env import Bench, wait_until
from bench.results import BenchResult, Figure

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.broker import SharedBroker

__all__ = ["IdleFootprint", "footprint", "measure", "rescan_seconds"]

_SETTLE_S = 5.0


@dataclass(frozen=True)
class IdleFootprint:
    """What one idle measurement found."""

    files: int
    initial_load_s: float
    idle_s: float
    rss_mib: float
    peak_idle_rss_mib: float
    cpu_percent: float
    rescan_s: float


def _write_files(folder: Path, count: int) -> None:
    for i in range(count):
        sub = folder / f"rok-{i // 500:03}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"dokument-{i:06}.pdf").write_bytes(os.urandom(2048))


def _loaded(state: Path, files: int) -> bool:
    """Every file indexed and every outbox row confirmed."""
    try:
        with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
            indexed = int(db.execute("SELECT count(*) FROM files").fetchone()[0])
            pending = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.Error:
        return False
    return indexed == files and pending == 0


async def rescan_seconds(state_path: Path, folder_path: Path, ico: str) -> float:
    """Time the agent's full rescan of `folder_path` against its index; it must find no change."""
    state = await State.open(state_path)
    try:
        problems = Problems()
        folder = Folder(
            FolderConfig(path=str(folder_path)), "", IgnoreRules(DEFAULT_IGNORE_PATTERNS)
        )
        watcher = FolderWatcher(
            folders=[folder],
            state=state,
            tracker=Tracker(
                state=state,
                problems=problems,
                ico=ico,
                chunk_size=1024 * 1024,
                mass_delete_threshold=0.3,
                mass_delete_min_files=5,
                kept=KeptContent(),
            ),
            problems=problems,
            quiet_window_s=2.0,
            rescan_interval_s=3600.0,
            on_recorded=lambda: None,
        )
        started = time.monotonic()
        await watcher.scan_all()
        elapsed = time.monotonic() - started
        changed = len(watcher._pending)  # noqa: SLF001 - what the scan would send next
        if changed:
            raise RuntimeError(f"the rescan of an unchanged folder found {changed} changes")
        return elapsed
    finally:
        await state.close()


async def measure(broker: SharedBroker, files: int, idle_s: float) -> IdleFootprint:
    """Run an agent with `files` watched files; measure it idle, then time a rescan."""
    async with Bench.create(broker, f"footprint-{files}") as env:
        ico = env.new_ico()
        url = await env.provision(ico)
        folder = env.base / "spisovna"
        await asyncio.to_thread(_write_files, folder, files)
        config = env.write_agent_config(ico, url, folder=folder, log_level="warning")
        state_path = config.parent / "state" / "state.sqlite"
        started = time.monotonic()
        agent = env.start_agent(config)

        async def loaded() -> bool:
            agent.alive()
            return await asyncio.to_thread(_loaded, state_path, files)

        await wait_until(loaded, timeout=1800, interval=0.5, what="the initial load")
        initial_load = time.monotonic() - started
        await asyncio.sleep(_SETTLE_S)
        cpu0, t0 = agent.cpu_seconds(), time.monotonic()
        peak = 0
        while time.monotonic() - t0 < idle_s:
            peak = max(peak, agent.rss_kib())
            await asyncio.sleep(1)
        cpu = (agent.cpu_seconds() - cpu0) / (time.monotonic() - t0) * 100
        rss = agent.rss_kib()
        await asyncio.to_thread(agent.stop)
        rescan = await rescan_seconds(state_path, folder, ico)
    return IdleFootprint(
        files=files,
        initial_load_s=initial_load,
        idle_s=idle_s,
        rss_mib=rss / 1024,
        peak_idle_rss_mib=max(peak, rss) / 1024,
        cpu_percent=cpu,
        rescan_s=rescan,
    )


async def footprint(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Benchmark 6 at 10,000 and 100,000 files (quick: 500 and 2,000, 5 s idle)."""
    sizes, idle_s = ((500, 2000), 5.0) if quick else ((10_000, 100_000), 60.0)
    for files in sizes:
        found = await measure(broker, files, idle_s)
        label = f"{files:,} files"
        rss = result.add(Figure(f"idle RSS, {label}", round(found.rss_mib, 1), "MiB"))
        result.add(Figure(f"peak idle RSS, {label}", round(found.peak_idle_rss_mib, 1), "MiB"))
        cpu = result.add(Figure(f"idle CPU, {label}", round(found.cpu_percent, 2), "%"))
        scan = result.add(Figure(f"rescan of unchanged, {label}", round(found.rescan_s, 2), "s"))
        result.add(Figure(f"initial load, {label}", round(found.initial_load_s, 1), "s"))
        result.aims[rss.name] = ("<", 80 / 1.048576)  # 80 MB
        result.aims[cpu.name] = ("<", 1.0)
        if files >= 100_000:
            result.aims[scan.name] = ("<", 10.0)
    result.notes.append(
        f"idle measured over {idle_s:.0f} s after the initial load and {_SETTLE_S:.0f} s "
        "to settle; "
        "CPU in % of one core; the aim 80 MB is 76.3 MiB; files of 2 KiB; initial load = agent "
        "start until every file is confirmed by the broker (no hub consuming)."
    )
