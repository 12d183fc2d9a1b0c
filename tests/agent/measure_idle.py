"""Measure the agent's idle RSS and CPU with many watched files (not a test; run it by hand).

    .venv/bin/python tests/agent/measure_idle.py --files 10000 --seconds 60

The measurement lives in `bench/footprint.py` (benchmark 6 of `python -m bench`):
it provisions a fresh obec on a fresh vhost of the machine's broker, writes the
files, runs `spisync agent run` as a process with the default settings, waits
until the initial load is confirmed (outbox empty), samples the process's RSS
and CPU time over the idle period, and then times a rescan of the unchanged folder.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

# The repository on the path, so that `bench` and `tests` import when run as a script.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.footprint import measure
from testkit.broker import SharedBroker


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    found = await measure(SharedBroker.from_environment(), args.files, args.seconds)
    print(
        f"files={found.files} initial_load_s={found.initial_load_s:.1f} idle_s={found.idle_s:.0f} "
        f"rss_mib={found.rss_mib:.1f} peak_idle_rss_mib={found.peak_idle_rss_mib:.1f} "
        f"cpu_percent={found.cpu_percent:.2f} rescan_s={found.rescan_s:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
