"""Profile an initial sync: py-spy attached to the agent and the hub while a tree moves.

    .venv/bin/pip install py-spy
    .venv/bin/python -m bench.profile_sync --files 200 --out /tmp/profile

Same set-up as benchmark 1 (`bench/transfer.py`), smaller by default. py-spy
samples each process (`--format raw`: collapsed stacks, one line per stack with
its sample count) from the agent's start until every file is committed at the
hub; the top functions by own and by total samples are printed per process.
With `--gil` only the thread holding the GIL is sampled: where Python spends
CPU, without the threads that wait (hashing, SQLite, fsync) in the picture.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.env import Bench, wait_until, write_random_tree
from spisync.runtime import run_main
from testkit.broker import SharedBroker

__all__ = ["main", "summarise"]


def summarise(collapsed: Path, top: int = 25) -> str:
    """The functions with the most own and total samples in a py-spy `raw` profile."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{collapsed.name}: {samples} samples", "  own:"]
    lines += [f"    {c / samples:6.1%}  {f}" for f, c in own.most_common(top)]
    lines += ["  total:"]
    lines += [f"    {c / samples:6.1%}  {f}" for f, c in total.most_common(top)]
    return "\n".join(lines)


def _spy(pid: int, out: Path, *, gil: bool) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    # --gil samples only the thread holding the GIL: Python CPU, not threads waiting.
    only_gil = ["--gil"] if gil else []
    return subprocess.Popen(
        [spy, "record", "-p", str(pid), "-o", str(out), "--format", "raw", "-r", "100", *only_gil],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _run(files: int, size: int, out: Path, prefetch: int, window: int, *, gil: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    async with Bench.create(SharedBroker.from_environment(), "profile") as env:
        src = env.base / "src"
        expected = await asyncio.to_thread(write_random_tree, src, files, size)
        ico = env.new_ico()
        url = await env.provision(ico)
        env.hub_config(prefetch=prefetch)
        hub = await env.start_hub(ico)
        config = env.write_agent_config(
            ico, url, folder=src, log_level="warning", publish_window=window
        )
        async with env.hub_view() as view:
            agent = env.start_agent(config)
            spies = [
                _spy(agent.pid, out / "agent.txt", gil=gil),
                _spy(hub.pid, out / "hub.txt", gil=gil),
            ]
            started = time.monotonic()

            async def committed() -> bool:
                files_at_hub = await view.files(ico)
                return all(files_at_hub.get(p, {}).get("sha256") == s for p, s in expected.items())

            await wait_until(committed, timeout=900, interval=0.2, what="every file at the hub")
            elapsed = time.monotonic() - started
            cpu = {"agent": agent.cpu_seconds(), "hub": hub.cpu_seconds()}
        for spy in spies:
            spy.send_signal(2)  # SIGINT: py-spy writes its profile and exits
            spy.wait(30)
    print(
        f"{files} x {size} B in {elapsed:.1f} s ({files * size / elapsed / 1e6:.1f} MB/s), "
        f"hub prefetch {prefetch}, agent publish_window {window}, CPU s {cpu}"
    )
    for name in ("agent.txt", "hub.txt"):
        print(summarise(out / name))


def main(argv: list[str] | None = None) -> int:
    """Run the profile."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile_sync")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=256 * 1024)
    parser.add_argument("--out", type=Path, default=Path("/tmp/spisync-profile"))
    parser.add_argument("--hub-prefetch", type=int, default=16, help="[hub] prefetch")
    parser.add_argument("--agent-window", type=int, default=16, help="[agent] publish_window")
    parser.add_argument("--gil", action="store_true", help="sample only the GIL holder (CPU)")
    args = parser.parse_args(argv)
    run_main(
        _run(args.files, args.size, args.out, args.hub_prefetch, args.agent_window, gil=args.gil)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
