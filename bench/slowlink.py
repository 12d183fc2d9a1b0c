"""Benchmark 11: slow, far links (the town hall's line to its ORP), spisync against rsync.

Every contender pushes through the same throttling proxy (`testkit.proxy`,
asyncio, in this process: each direction's bandwidth shared by all connections,
half the round-trip delay each way), which counts the bytes on the wire:

- spisync: `spisync agent run` -> proxy -> broker; the hub sits beside the
  broker (as at the ORP). Timed from the agent's start until the hub's `files`
  query shows every file with the SHA-256 it has on disk (committed, durable).
- `rsync -a` and `rsync -az`: the same tree -> proxy -> an rsync daemon this
  benchmark starts on 127.0.0.1 (`rsync --daemon --no-detach`). rsync writes
  without fsync (its default), so it promises less than spisync does.

Links: 10 Mbit/s with 30 ms RTT and 100 Mbit/s with 10 ms RTT. Workloads: a
town hall's day (300 new scans of 200 KiB-5 MiB and 100 edited office
documents; yesterday's tree is at the receiver before the clock starts) and a
first sync of 5 GB of mixed files; `--quick` scales both down. Per contender:
wall time, bytes on the wire (both directions), and link utilisation (bytes
sent towards the receiver / (wall time x link capacity)), also while sending
(over the span from the first upstream byte to the last, without start-up and
tail). Finally the agent's
`bandwidth_limit_bytes_per_s` is checked on the fast link: the steady rate on
the wire (from 10 % to 90 % of the bytes) against the limit.

At full sizes this takes hours (5 GB at 10 Mbit/s is over an hour per
contender), so it runs only when named: `--only slow_links`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import shutil
import sqlite3
import subprocess
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bench.env import Bench, settle_caches, wait_until
from bench.results import BenchResult, Figure, Ratio, mb_per_s
from bench.transfer import rotated
from bench.workloads import day_trees, mixed_tree, tree_digests
from testkit.broker import free_port
from testkit.proxy import ProxyStats, TcpProxy

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from testkit.broker import SharedBroker

__all__ = ["slow_links", "slow_links_100", "slow_links_day_100", "slow_links_first_100"]

MB = 1_000_000
LINKS = {"10 Mbit/s, 30 ms": (10_000_000 / 8, 0.030), "100 Mbit/s, 10 ms": (100_000_000 / 8, 0.010)}
CONTENDERS = ("spisync", "rsync -a", "rsync -az")
_TIMEOUT = 6 * 3600


def _broker_port(env: Bench) -> int:
    return urlsplit(env.admin_url).port or 5672


@contextlib.asynccontextmanager
async def _rsync_daemon(base: Path) -> AsyncIterator[tuple[int, Path]]:
    """An rsync daemon on 127.0.0.1 with one writable module `bench`; yields (port, its dir)."""
    module = base / "rsync-module"
    module.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = [
        f"port = {port}",
        "address = 127.0.0.1",
        "use chroot = false",
        f"lock file = {base / 'rsyncd.lock'}",
        f"log file = {base / 'rsyncd.log'}",
        "[bench]",
        f"path = {module}",
        "read only = false",
    ]
    if os.geteuid() == 0:  # as root the daemon would otherwise write as `nobody`
        lines += ["uid = 0", "gid = 0"]
    config = base / "rsyncd.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    daemon = subprocess.Popen(["rsync", "--daemon", "--no-detach", f"--config={config}"])
    try:

        async def listening() -> bool:
            if daemon.poll() is not None:
                raise RuntimeError(f"rsync daemon exited: {(base / 'rsyncd.log').read_text()}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return True
            return False

        await wait_until(listening, timeout=30, interval=0.1, what="the rsync daemon")
        yield port, module
    finally:
        daemon.terminate()
        await asyncio.to_thread(daemon.wait, 10)


async def _local_copy(src: Path, dst: Path) -> None:
    """Make `dst` an exact copy of `src` (untimed set-up, no proxy)."""
    dst.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec("rsync", "-a", "--delete", f"{src}/", f"{dst}/")
    if await proc.wait() != 0:
        raise RuntimeError("local rsync set-up failed")


class _Run:
    """One contender's run through a fresh proxy: wall time and the proxy's counts."""

    def __init__(self, target_port: int, link: tuple[float, float]) -> None:
        rate, rtt = link
        self.proxy = TcpProxy("127.0.0.1", target_port, bandwidth_bytes_per_s=rate, delay_s=rtt)
        self.rate = rate
        self.seconds = 0.0
        self._at_end: ProxyStats | None = None

    def ended(self, started: float) -> None:
        """The run is done: its wall time, and the proxy's counts as they are now.

        What passes afterwards (an agent's heartbeat, its goodbye to the broker as
        it stops) is not part of the transfer.
        """
        self.seconds = time.monotonic() - started
        self._at_end = dataclasses.replace(self.proxy.stats)

    @property
    def stats(self) -> ProxyStats:
        return self._at_end or self.proxy.stats

    @property
    def upstream(self) -> int:
        return self.stats.upstream_bytes

    @property
    def wire(self) -> int:
        return self.stats.upstream_bytes + self.stats.downstream_bytes

    @property
    def utilisation(self) -> float:
        """Upstream bytes over what the link could carry in the whole wall time, %."""
        return self.upstream / (self.seconds * self.rate) * 100 if self.seconds else 0.0

    @property
    def utilisation_sending(self) -> float:
        """The same over the time from the first upstream byte to the last, %.

        Leaves out the start-up (a process starting, connecting, scanning) and the
        tail after the last byte (commits, receipts), which the wall time includes.
        """
        stats = self.stats
        span = stats.upstream_ended - stats.upstream_started
        return self.upstream / (span * self.rate) * 100 if span > 0 else 0.0


async def _rsync(run: _Run, src: Path, flags: str) -> None:
    await run.proxy.start()
    try:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            "rsync", flags, f"{src}/", f"rsync://127.0.0.1:{run.proxy.port}/bench/"
        )
        if await proc.wait() != 0:
            raise RuntimeError(f"rsync {flags} through the proxy failed")
        run.ended(started)
    finally:
        await run.proxy.close()


async def _spisync(
    env: Bench,
    run: _Run,
    today: Path,
    yesterday: Path | None,
    **agent_settings: object,
) -> None:
    """Sync `today` through the proxy into a fresh obec; `yesterday` first, directly, untimed."""
    ico = env.new_ico()
    url = await env.provision(ico)
    folder = env.base / "folders" / ico
    hub = await env.start_hub(ico)
    try:
        async with env.hub_view() as view:

            async def synced(expected: dict[str, str]) -> None:
                async def committed() -> bool:
                    hub.alive()
                    files = await view.files(ico)
                    return all(files.get(p, {}).get("sha256") == s for p, s in expected.items())

                await wait_until(committed, timeout=_TIMEOUT, interval=0.2, what="the hub")

            if yesterday is not None:
                await _local_copy(yesterday, folder)
                config = env.write_agent_config(ico, url, folder=folder, log_level="warning")
                agent = env.start_agent(config, name=f"agent-{ico}-yesterday")
                morning = await asyncio.to_thread(tree_digests, folder)
                await synced(morning)
                await _receipted(config.parent / "state" / "state.sqlite", morning)
                agent.stop()
            await _local_copy(today, folder)
            expected = await asyncio.to_thread(tree_digests, folder)
            await asyncio.to_thread(settle_caches)
            await run.proxy.start()
            config = env.write_agent_config(
                ico, run.proxy.url_for(url), folder=folder, log_level="warning", **agent_settings
            )
            started = time.monotonic()
            agent = env.start_agent(config, name=f"agent-{ico}")
            await synced(expected)
            run.ended(started)
            # In a thread: this loop runs the proxy, which must pass the agent's goodbye
            # (else it waits out its shutdown budget for the broker's answer).
            await asyncio.to_thread(agent.stop)
    finally:
        hub.stop()
        await run.proxy.close()


async def _receipted(state: Path, expected: dict[str, str]) -> None:
    """Wait until the agent recorded the hub's receipts of `expected` (its `held` table).

    An agent that ran through the night has them; one stopped the moment the hub
    committed might not, and would then send again what the hub holds.
    """
    wanted = set(expected.values())

    def held() -> bool:
        with contextlib.closing(sqlite3.connect(f"{state.as_uri()}?mode=ro", uri=True)) as db:
            return wanted <= {str(row[0]) for row in db.execute("SELECT sha256 FROM held")}

    async def check() -> bool:
        return await asyncio.to_thread(held)

    await wait_until(check, timeout=_TIMEOUT, interval=0.2, what="the agent's receipts")


async def _scenario(
    env: Bench,
    result: BenchResult,
    *,
    label: str,
    link: tuple[float, float],
    today: Path,
    yesterday: Path | None,
    moved: int,
) -> None:
    """Run the three contenders (order rotated) on one link and one workload; record figures."""
    runs: dict[str, _Run] = {}
    async with _rsync_daemon(env.base / "rsyncd") as (rsync_port, module):
        for name in rotated(list(CONTENDERS), result.repetition):
            if name == "spisync":
                runs[name] = _Run(_broker_port(env), link)
                await _spisync(env, runs[name], today, yesterday)
                continue
            runs[name] = _Run(rsync_port, link)
            await asyncio.to_thread(shutil.rmtree, module, ignore_errors=True)
            if yesterday is not None:
                await _local_copy(yesterday, module)
            else:
                module.mkdir()
            await asyncio.to_thread(settle_caches)
            await _rsync(runs[name], today, "-a" if name == "rsync -a" else "-az")
    for name, run in runs.items():
        result.add(Figure(f"{label}: {name} wall time", round(run.seconds, 2), "s"))
        result.add(Figure(f"{label}: {name} bytes on the wire", run.wire, "B", "both directions"))
        utilisation = result.add(
            Figure(f"{label}: {name} link utilisation", round(run.utilisation, 1), "%")
        )
        if name == "spisync":
            result.aims[utilisation.name] = (">=", 90.0)
        result.add(
            Figure(
                f"{label}: {name} link utilisation while sending",
                round(run.utilisation_sending, 1),
                "%",
                "first upstream byte -> last",
            )
        )
    speed = {name: mb_per_s(f"{label}: {name}", moved, run.seconds) for name, run in runs.items()}
    result.ratios += [
        Ratio(f"{label}: spisync / {name} (speed)", speed["spisync"], speed[name], aim=1.0)
        for name in ("rsync -a", "rsync -az")
    ]


async def _bandwidth_limit(env: Bench, result: BenchResult, tree: Path, limit: int) -> None:
    """The agent's `bandwidth_limit_bytes_per_s` on the fast link: the steady rate on the wire."""
    run = _Run(_broker_port(env), LINKS["100 Mbit/s, 10 ms"])
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            samples.append((time.monotonic(), run.upstream))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    try:
        await _spisync(env, run, tree, None, bandwidth_limit_bytes_per_s=limit)
    finally:
        sampler.cancel()
    total = run.upstream
    t10 = next(t for t, n in samples if n >= total * 0.1)
    n10 = next(n for _, n in samples if n >= total * 0.1)
    t90, n90 = next((t, n) for t, n in samples if n >= total * 0.9)
    rate = (n90 - n10) / (t90 - t10)
    deviation = result.add(
        Figure("bandwidth limit: deviation of the steady rate", round(abs(rate / limit - 1) * 100,
               2), "%", f"limit {limit:,} B/s, steady rate on the wire {rate:,.0f} B/s")
    )  # fmt: skip
    result.aims[deviation.name] = ("<", 5.0)
    result.add(Figure("bandwidth limit: steady rate on the wire", round(rate / MB, 3), "MB/s"))


async def slow_links(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """A town hall's day and a first sync over two slow links, spisync against rsync."""
    await _slow_links(broker, result, quick, links=tuple(LINKS))


async def slow_links_100(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """As `slow_links` on the 100 Mbit/s link only: the full sizes in hours less than both."""
    await _slow_links(broker, result, quick, links=("100 Mbit/s, 10 ms",))


async def slow_links_day_100(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Only the day of `slow_links` on the 100 Mbit/s link: full sizes in minutes."""
    await _slow_links(broker, result, quick, links=("100 Mbit/s, 10 ms",), first_sync=False)


async def slow_links_first_100(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Only the first sync of `slow_links` on the 100 Mbit/s link (no day, no bandwidth limit)."""
    await _slow_links(broker, result, quick, links=("100 Mbit/s, 10 ms",), day=False)


async def _slow_links(
    broker: SharedBroker,
    result: BenchResult,
    quick: bool,
    *,
    links: tuple[str, ...],
    day: bool = True,
    first_sync: bool = True,
) -> None:
    """The day and the first sync on each link, and the bandwidth limit (with both)."""
    scans, documents, max_scan = (10, 5, 1024 * 1024) if quick else (300, 100, 5 * 1024 * 1024)
    # Seeded: every repetition moves the same trees (sizes, compressible share).
    rng = random.Random(15)
    async with Bench.create(broker, result.name) as env:
        # Written even for the first sync alone: the mixed tree comes from the same rng after it.
        trees = await asyncio.to_thread(day_trees, env.base / "day", scans, documents, max_scan,
                                        rng)  # fmt: skip
        if day:
            _day_notes(result, scans, documents, max_scan, trees.changed_bytes)
            for link_name in links:
                await _scenario(env, result, label=f"day, {link_name}", link=LINKS[link_name],
                                today=trees.today, yesterday=trees.yesterday,
                                moved=trees.changed_bytes)  # fmt: skip
        if not first_sync:
            return
        mixed = env.base / "mixed"
        mixed_bytes = await asyncio.to_thread(mixed_tree, mixed, 16 * MB if quick else 5_000 * MB,
                                              rng)  # fmt: skip
        result.notes.append(
            f"first sync: {mixed_bytes:,} B of mixed files (1 in 4 compressible text)."
        )
        result.add(Figure("first sync: bytes in the tree", mixed_bytes, "B"))
        for link_name in links:
            await _scenario(env, result, label=f"first sync, {link_name}", link=LINKS[link_name],
                            today=mixed, yesterday=None, moved=mixed_bytes)  # fmt: skip
        if day:
            limit = 1_000_000 if quick else 2_000_000
            await _bandwidth_limit(env, result, trees.today / "podatelna", limit)


def _day_notes(
    result: BenchResult, scans: int, documents: int, max_scan: int, changed: int
) -> None:
    result.notes.append(
        f"day: {scans} new scans (200 KiB-{max_scan // 1024:,} KiB) and {documents} office "
        f"documents edited (a quarter rewritten, 4 KiB appended), {changed:,} B changed. "
        "Speed ratios: changed bytes / wall time, spisync over rsync; rsync does not fsync."
    )
    result.add(Figure("day: bytes changed", changed, "B"))
