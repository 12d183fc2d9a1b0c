"""`python -m bench`: run the benchmarks, print a table, write `bench/results/latest.{json,md}`.

    .venv/bin/python -m bench                 # the issue's full sizes (takes a while)
    .venv/bin/python -m bench --quick         # small sizes, for development and smoke tests
    .venv/bin/python -m bench --only latency  # one benchmark (repeatable); the others'
                                              # figures stay in latest.json from their last run
    .venv/bin/python -m bench --repeat 5      # each figure the median of 5 runs (default 3)

Every benchmark runs `--repeat` times; each figure is the median of the runs,
reported with min and max, and benchmarks with several contenders rotate their
order from one repetition to the next. This process, the raw aio-pika baseline
and every spisync role run on the same event loop (uvloop where installed, via
`spisync.runtime.run_main`). Every benchmark runs on its own fresh vhost of the machine's broker
(`SPISYNC_TEST_AMQP_URL` / `SPISYNC_TEST_MANAGEMENT_URL`, as the tests) and in its
own temp dir, bounded in time; a failed one is reported as such and the rest go on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from bench.closing import closing
from bench.console import console
from bench.env import Bench, settle_caches
from bench.fanin import fan_in
from bench.first_load import first_load
from bench.footprint import footprint
from bench.latency import latency
from bench.registry import registry
from bench.results import BenchResult, Report, kept_results, merge
from bench.slowlink import slow_links, slow_links_100, slow_links_day_100, slow_links_first_100
from bench.spisovka import spisovka
from bench.transfer import initial_sync, large_file
from bench.validate import validate
from spisync.logging import configure_logging
from spisync.runtime import run_main
from testkit.broker import SharedBroker

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    Benchmark = Callable[[SharedBroker, BenchResult, bool], Awaitable[None]]

BENCHMARKS: dict[str, tuple[str, Benchmark]] = {
    "initial_sync": ("1. initial sync of 2,000 x 256 KiB", initial_sync),
    "large_file": ("2. one large file of 1 GiB", large_file),
    "latency": ("3. file closed -> version committed at the hub, 200 files", latency),
    "registry": ("4. 10,000 registry changes -> committed at the hub", registry),
    "fan_in": ("5. fan-in: 100 simulated agents against one hub", fan_in),
    "footprint": ("6. idle agent with 10,000 and 100,000 files; rescan", footprint),
    "closing": ("7. closing a spis of 20 dokumenty x 3 komponenty -> archived", closing),
    "validate": ("8. validating a 2 GB SIP of 5,000 komponenty: time and peak memory", validate),
    "spisovka": ("9. Spisovka on MariaDB: 50,000 dokumenty -> hub; change latency", spisovka),
    "console": ("10. console overview of 1,000 obce: server render and /api/v1/obce", console),
    "slow_links": ("11. slow links: a day and a first sync, spisync vs rsync -a/-az", slow_links),
    "slow_links_100": ("11b. slow links as 11, on the 100 Mbit/s link only", slow_links_100),
    "slow_links_day_100": ("11c. the day of 11 on the 100 Mbit/s link only", slow_links_day_100),
    "slow_links_first_100": (
        "11d. the first sync of 11 on the 100 Mbit/s link only",
        slow_links_first_100,
    ),
    "first_load": ("12. first load of 100,000 files of 2 KiB -> committed at the hub", first_load),
}
# Hours at full sizes (5 GB at 10 Mbit/s per contender): run only when named.
ONLY_WHEN_NAMED = frozenset(
    {"slow_links", "slow_links_100", "slow_links_day_100", "slow_links_first_100"}
)
# Part of another benchmark: not run again when all run (`--quick`).
PARTS = frozenset({"slow_links_100", "slow_links_day_100", "slow_links_first_100"})

RESULTS = Path(__file__).resolve().parent / "results"
NOISE_NOTE = (
    "Measured on a shared machine: {cpus} CPUs, also running other engineers' test suites "
    "and the RabbitMQ node itself, so figures are noisy; ratios come from runs side by side "
    "in the same minute and are the steadier part."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (minutes, not hours)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        help="run only this benchmark (repeatable); the others keep their last results",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="repetitions of each benchmark (default 3)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each benchmark's temp dir (hub data; paths in latest.json)",
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="where latest.json and latest.md go"
    )
    return parser


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def _once(broker: SharedBroker, name: str, repetition: int, quick: bool) -> BenchResult:
    title, benchmark = BENCHMARKS[name]
    result = BenchResult(name=name, title=title, repetition=repetition, load_before=_load())
    kept_before = len(Bench.kept) if Bench.kept is not None else 0
    started = time.monotonic()
    try:
        await benchmark(broker, result, quick)
    except Exception as exc:
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    result.seconds = time.monotonic() - started
    result.load_after = _load()
    if Bench.kept is not None:
        result.kept = [str(path) for path in Bench.kept[kept_before:]]
    return result


async def run(
    names: list[str], quick: bool, results_dir: Path, repeat: int = 3, *, keep_others: bool = False
) -> Report:
    """Run the named benchmarks `repeat` times each; write and return the report.

    With `keep_others`, the results of benchmarks not named are kept from the
    `latest.json` already in `results_dir` (see `kept_results`).
    """
    broker = SharedBroker.from_environment()
    loop = type(asyncio.get_running_loop())
    report = Report(quick=quick, notes=[NOISE_NOTE.format(cpus=os.cpu_count())])
    if keep_others:
        report.results = kept_results(results_dir / "latest.json", set(names), quick=quick)
    report.environment_extra = {
        "event_loop": f"{loop.__module__}.{loop.__qualname__}",
        "repeat": repeat,
        "caches": await asyncio.to_thread(settle_caches),
        "load_average_at_start": _load(),
    }
    for name in names:
        print(f"-- {BENCHMARKS[name][0]}{' (quick)' if quick else ''}", flush=True)
        repetitions = []
        for repetition in range(repeat):
            await asyncio.to_thread(settle_caches)
            result = await _once(broker, name, repetition, quick)
            print(f"   {repetition + 1}/{repeat}: {result.status} in {result.seconds:.0f} s",
                  flush=True)  # fmt: skip
            repetitions.append(result)
        report.results.append(merge(repetitions))
        report.results.sort(key=lambda result: list(BENCHMARKS).index(result.name))
        report.write(results_dir)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run `python -m bench`; exit 1 if any benchmark failed."""
    args = _parser().parse_args(argv)
    # Cached: configured once, and in-process roles must not pay for filtered-out calls.
    configure_logging(
        "bench", level="warning", cache=True
    )  # provisioning logs would drown the table
    if args.only:
        names = [n for n in BENCHMARKS if n in args.only]
    else:
        names = [
            n for n in BENCHMARKS if n not in PARTS and (args.quick or n not in ONLY_WHEN_NAMED)
        ]
    if args.repeat < 1:
        print("--repeat: needs 1 or more repetitions (e.g. --repeat 3)", file=sys.stderr)
        return 2
    if args.keep:
        Bench.kept = []
    report = run_main(
        run(names, args.quick, args.results_dir, args.repeat, keep_others=bool(args.only))
    )
    print()
    print(report.table())
    json_path, md_path = report.write(args.results_dir)
    print(f"\nwritten: {json_path} and {md_path}")
    return 0 if all(r.status == "ok" for r in report.results) else 1


if __name__ == "__main__":
    sys.exit(main())
