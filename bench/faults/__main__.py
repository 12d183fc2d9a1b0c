"""`python -m bench.faults`: run the fault matrix, print it, write `bench/results/faults.{json,md}`.

    .venv/bin/python -m bench.faults           # full: >= 20 kills per role, 100,000 fuzzed messages
    .venv/bin/python -m bench.faults --quick   # bounded (what CI runs through `pytest -m faults`)
    .venv/bin/python -m bench.faults --only kill_hub --seed 7 --repetitions 5

Needs root for the full-disk scenarios (it mounts small tmpfs filesystems) and
RabbitMQ's binaries (it starts a private node; the machine's broker is never touched).
Exit 1 when any scenario failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sys
from pathlib import Path

from bench.faults.matrix import SCENARIOS, run_matrix, write_report
from spisync.logging import configure_logging

RESULTS = Path(__file__).resolve().parents[1] / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="the bounded form (a few minutes)")
    parser.add_argument(
        "--seed", type=int, default=9, help="seed of every random choice (default 9)"
    )
    parser.add_argument(
        "--repetitions", type=int, default=None, help="rounds per scenario (default 20, --quick 2)"
    )
    parser.add_argument(
        "--only", action="append", choices=list(SCENARIOS), help="run only this scenario"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="where faults.json and faults.md go"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the matrix; 0 when every scenario held, 1 otherwise."""
    args = _parser().parse_args(argv)
    configure_logging("bench", level="warning", cache=True)
    # The private node's readiness probe fails until it is up; aiormq logs each try as an error.
    logging.getLogger("aiormq").setLevel(logging.CRITICAL)
    names = args.only or list(SCENARIOS)
    outcomes = asyncio.run(
        run_matrix(names, seed=args.seed, quick=args.quick, repetitions=args.repetitions)
    )
    given = argv if argv is not None else sys.argv[1:]
    command = f"python -m bench.faults {shlex.join(given)}".strip()
    write_report(outcomes, args.results_dir, seed=args.seed, quick=args.quick, command=command)
    print((args.results_dir / "faults.md").read_text(encoding="utf-8"))
    return 0 if all(o.status == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
