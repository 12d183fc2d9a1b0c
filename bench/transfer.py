"""Benchmarks 1 and 2: moving a folder (many files, or one large file) to the hub's store.

The same tree, written once with random bytes, is moved three ways one after
another in the same run, each into a fresh folder:

- `rsync -a` to a local folder (no fsync, as rsync does by default);
- raw aio-pika (`bench.rawpika`): publisher confirms, the same chunk size as the
  agent's default, persistent messages to a quorum queue, a consumer process
  that writes to disk and fsyncs each file;
- spisync: `spisync agent run` (default settings) against `spisync hub run`
  (default settings, local blob store); timed from the agent's start until the
  hub's `files` query shows every file with its expected SHA-256, i.e. every
  version committed at the hub.

Each figure is MB/s (10^6 bytes per second) of file bytes moved. The order of
the three contenders rotates from one repetition to the next, and each starts
with the caches in the same state (`bench.env.settle_caches`: sync, then the
page cache dropped where allowed, so every contender reads the tree from disk).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.env import REPO, Bench, BrokerCpu, settle_caches, wait_until, write_random_tree
from bench.rawpika import declare_queue
from bench.results import BenchResult, Figure, Ratio, mb_per_s
from protocol import names

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from testkit.broker import SharedBroker

__all__ = ["initial_sync", "large_file", "rotated"]

_RAW_QUEUE = "bench.raw"
_AGENT_WINDOW = 16  # AgentSection.publish_window's default
_HUB_PREFETCH = 16  # HubSection.prefetch's default


def rotated(items: list[str], repetition: int) -> list[str]:
    """`items` rotated left by `repetition`: each contender takes each place in turn."""
    shift = repetition % len(items)
    return items[shift:] + items[:shift]


async def _rsync(src: Path, dst: Path) -> _Run:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec("rsync", "-a", f"{src}/", f"{dst}/")
    if await proc.wait() != 0:
        raise RuntimeError("rsync failed")
    return _Run(time.monotonic() - started)


@dataclass
class _Run:
    """One contender's run: wall seconds and CPU seconds by process."""

    seconds: float
    cpu: dict[str, float] = field(default_factory=dict)


async def _raw_pika(
    env: Bench,
    src: Path,
    dst: Path,
    files: int,
    timeout: float,
    *,
    ack_before_sync: bool = False,
    verify: bool = False,
) -> _Run:
    await declare_queue(env.admin_url, _RAW_QUEUE)
    ready = env.base / "raw-ready"
    python = [sys.executable, "-m", "bench.rawpika"]
    common = ["--url", env.admin_url, "--queue", _RAW_QUEUE]
    consumer = await asyncio.create_subprocess_exec(
        *python, "consume", *common, "--out", str(dst), "--files", str(files),
        "--prefetch", str(_HUB_PREFETCH), "--ready", str(ready),
        *(["--ack-before-sync"] if ack_before_sync else []), *(["--verify"] if verify else []),
        cwd=REPO, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:

        async def consumer_ready() -> bool:
            if consumer.returncode is not None:
                raise RuntimeError("raw consumer exited early")
            return ready.exists()

        await wait_until(consumer_ready, timeout=30, interval=0.05, what="the raw consumer")
        broker = BrokerCpu(env.broker)
        broker.start()
        started = time.monotonic()
        publisher = await asyncio.create_subprocess_exec(
            *python, "publish", *common, "--src", str(src),
            "--chunk-size", str(names.DEFAULT_CHUNK_SIZE), "--window", str(_AGENT_WINDOW),
            *(["--verify"] if verify else []), cwd=REPO, stdout=subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(timeout):
            out, _ = await consumer.communicate()
            elapsed = time.monotonic() - started
            broker_cpu = broker.used()
            published, _ = await publisher.communicate()
            if publisher.returncode != 0 or consumer.returncode != 0:
                raise RuntimeError("raw aio-pika baseline failed")
        if not out.strip():
            raise RuntimeError("raw consumer reported nothing")
        consumer_cpu = float(out.split()[-1])
        publisher_cpu = float(published.split()[-1])
        return _Run(elapsed, {"publisher": publisher_cpu, "consumer": consumer_cpu, **broker_cpu})
    finally:
        if consumer.returncode is None:
            consumer.kill()
            await consumer.wait()


async def _spisync(
    env: Bench, src: Path, expected: dict[str, str], timeout: float, result: BenchResult
) -> _Run:
    ico = env.new_ico()
    url = await env.provision(ico)
    hub = await env.start_hub(ico)
    config = env.write_agent_config(ico, url, folder=src, log_level="warning")
    async with env.hub_view() as view:
        hub_cpu0 = hub.cpu_seconds()
        broker = BrokerCpu(env.broker)
        broker.start()
        started = time.monotonic()
        agent = env.start_agent(config)

        async def committed() -> bool:
            hub.alive()
            agent.alive()
            files = await view.files(ico)
            return len(files) >= len(expected) and all(
                files.get(path, {}).get("sha256") == sha for path, sha in expected.items()
            )

        await wait_until(committed, timeout=timeout, interval=0.2, what="every file at the hub")
        elapsed = time.monotonic() - started
        broker_cpu = broker.used()
        agent_cpu = agent.cpu_seconds()
        hub_cpu = hub.cpu_seconds() - hub_cpu0
    result.notes.append(
        f"spisync run: agent CPU {agent_cpu:.1f} s, hub CPU {hub_cpu:.1f} s "
        f"over {elapsed:.1f} s wall (agent start -> all committed; includes the agent's "
        "start-up; files unmodified for the quiet window are sent without waiting it out)"
    )
    agent.stop()
    hub.stop()
    return _Run(elapsed, {"agent": agent_cpu, "hub": hub_cpu, **broker_cpu})


async def _compare(
    broker: SharedBroker,
    result: BenchResult,
    *,
    count: int,
    size: int,
    timeout: float,
    aims: bool,
) -> None:
    async with Bench.create(broker, result.name) as env:
        src = env.base / "src"
        expected = await asyncio.to_thread(write_random_tree, src, count, size)
        total = count * size
        result.notes.append(f"{count:,} file(s) x {size:,} B = {total:,} B of random bytes")
        contenders: dict[str, Callable[[], Awaitable[_Run]]] = {
            "rsync": lambda: _rsync(src, env.base / "rsync-dst"),
            "raw": lambda: _raw_pika(env, src, env.base / "raw-dst", count, timeout),
            # The baseline before it waited for durability: how much the guarantee costs.
            "raw-unsynced": lambda: _raw_pika(
                env, src, env.base / "raw-unsynced-dst", count, timeout, ack_before_sync=True
            ),
            # The integrity check spisync makes (SHA-256 of chunks and files at both
            # ends): how much of the gap to the plain pipeline is the hashing alone.
            "raw-verified": lambda: _raw_pika(
                env, src, env.base / "raw-verified-dst", count, timeout, verify=True
            ),
            "spisync": lambda: _spisync(env, src, expected, timeout, result),
        }
        order = rotated(list(contenders), result.repetition)
        runs: dict[str, _Run] = {}
        for name in order:
            # Same caches for each: nothing of the previous contender left to write
            # back (it would slow this one's fsyncs), the tree read from disk.
            caches = await asyncio.to_thread(settle_caches)
            runs[name] = await contenders[name]()
        result.notes.append(f"order {' -> '.join(order)}; {caches}")
    ours = result.add(mb_per_s("spisync agent -> hub", total, runs["spisync"].seconds))
    rsync = result.add(mb_per_s("rsync -a (local)", total, runs["rsync"].seconds))
    raw = result.add(mb_per_s("raw aio-pika", total, runs["raw"].seconds))
    unsynced = result.add(
        mb_per_s(
            "raw aio-pika, acked before durable (weaker reference)",
            total,
            runs["raw-unsynced"].seconds,
        )
    )
    verified = result.add(
        mb_per_s(
            "raw aio-pika, SHA-256 of chunks and files checked (reference)",
            total,
            runs["raw-verified"].seconds,
        )
    )
    # Where the time goes (#15.3): CPU of each stage, for spisync and the raw pipeline alike.
    for contender in ("spisync", "raw", "raw-verified"):
        for stage, cpu in runs[contender].cpu.items():
            result.add(Figure(f"{contender} CPU: {stage}", round(cpu, 2), "s"))
    result.ratios += [
        Ratio("spisync / rsync", ours, rsync, aim=0.5 if aims else None),
        # Issue #15.3: the LAN ceiling, for many files and for one large file alike.
        Ratio("spisync / raw aio-pika", ours, raw, aim=0.9),
        Ratio("spisync / raw aio-pika acked before durable", ours, unsynced),
        Ratio("spisync / raw aio-pika with SHA-256 checked", ours, verified),
    ]


async def initial_sync(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Benchmark 1: 2,000 files x 256 KiB (quick: 40 files)."""
    await _compare(
        broker, result, count=40 if quick else 2000, size=256 * 1024, timeout=900, aims=True
    )


async def large_file(broker: SharedBroker, result: BenchResult, quick: bool) -> None:
    """Benchmark 2: one file of 1 GiB (quick: 16 MiB)."""
    size = (16 if quick else 1024) * 1024 * 1024
    await _compare(broker, result, count=1, size=size, timeout=900, aims=False)
