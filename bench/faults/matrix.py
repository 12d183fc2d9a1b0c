"""The scenarios in order, how big each runs, and the table they fill.

The full run does what issue #9 names (at least 20 kills of each role, 100,000
fuzzed messages); `--quick` is the bounded form CI runs. Every scenario has its
own vhost and temp dir on the run's private node; one that fails is reported as
such (with its counts so far) and the rest go on.
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bench.faults.attacks import (
    corrupt_chunks,
    duplicates_reordered,
    forged_sender,
    fuzz,
    mass_deletion,
)
from bench.faults.disks import full_agent_state_disk, full_blob_disk, full_metadata_disk
from bench.faults.kills import kill_agent, kill_archive, kill_hub
from bench.faults.network import (
    broker_restart_idle,
    broker_restart_transfer,
    link_cut_idle,
    link_cut_transfer,
)
from bench.faults.world import FaultWorld, Outcome, Scenario

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    Run = Callable[[FaultWorld, Scenario, Outcome], Awaitable[None]]

__all__ = ["SCENARIOS", "run_matrix", "write_report"]

SCENARIOS: dict[str, tuple[str, Run]] = {
    "kill_agent": ("kill -9 of the agent mid-transfer", kill_agent),
    "kill_hub": ("kill -9 of the hub mid-batch", kill_hub),
    "kill_archive": ("kill -9 of the archive while a SIP is taken", kill_archive),
    "broker_restart_transfer": ("broker node restart during transfer", broker_restart_transfer),
    "broker_restart_idle": ("broker node restart while the agent is idle", broker_restart_idle),
    "link_cut_transfer": ("agent's link cut during transfer", link_cut_transfer),
    "link_cut_idle": ("agent's link cut while idle (reset, silent)", link_cut_idle),
    "full_metadata_disk": ("hub's metadata disk full", full_metadata_disk),
    "full_blob_disk": ("hub's blob disk full", full_blob_disk),
    "full_agent_state_disk": ("agent's state disk full", full_agent_state_disk),
    "fuzz": ("fuzzed messages from a valid obec", fuzz),
    "forged_sender": ("forged senders (envelope, user_id, routing key)", forged_sender),
    "duplicates_reordered": ("duplicated and reordered deliveries", duplicates_reordered),
    "corrupt_chunks": ("corrupt chunks", corrupt_chunks),
    "mass_deletion": ("mass deletion (paused, not propagated)", mass_deletion),
}

# Kill scenarios take rounds; the rest scale their own counts from these.
FULL = {"rounds": 20, "fuzz_messages": 100_000, "timeout_s": 180.0}
QUICK = {"rounds": 2, "fuzz_messages": 1_000, "timeout_s": 120.0}


def scenario_size(name: str, *, quick: bool, repetitions: int | None) -> tuple[int, int, float]:
    """Rounds, fuzz messages and timeout for scenario `name`."""
    size = QUICK if quick else FULL
    rounds = int(repetitions if repetitions is not None else size["rounds"])
    if repetitions is None and name in {"link_cut_transfer", "link_cut_idle"}:
        # Idle rounds alternate a reset and a silent cut (a heartbeat's wait each).
        rounds = min(rounds, 2 if quick else 6)
    if repetitions is None and quick and name in {"kill_archive", "broker_restart_idle"}:
        rounds = 1
    if repetitions is None and quick and name == "broker_restart_transfer":
        rounds = 1
    return rounds, int(size["fuzz_messages"]), float(size["timeout_s"])


async def run_matrix(
    names: list[str], *, seed: int, quick: bool, repetitions: int | None
) -> list[Outcome]:
    """Run the named scenarios on one private node; return their outcomes."""
    outcomes = []
    async with FaultWorld.start() as world:
        for name in names:
            title, run = SCENARIOS[name]
            rounds, fuzz_messages, timeout_s = scenario_size(
                name, quick=quick, repetitions=repetitions
            )
            # A stream per scenario from the seed: one scenario's draws never shift another's.
            rng = random.Random(f"{seed}:{name}")
            outcome = Outcome(name=name)
            print(f"faults: {name}: {title} ...", flush=True)
            started = time.monotonic()
            try:
                await run(world, Scenario(rng, rounds, fuzz_messages, timeout_s), outcome)
            except Exception as exc:
                outcome.status = "failed"
                outcome.error = f"{type(exc).__name__}: {exc}"
                print(traceback.format_exc(), flush=True)
            outcome.notes.append(f"scenario took {time.monotonic() - started:.0f} s")
            if outcome.status == "ok" and (outcome.lost or outcome.applied_twice):
                outcome.status = "failed"
            print(
                f"faults: {name}: {outcome.status} faults={outcome.faults} "
                f"expected={outcome.expected} identical={outcome.identical} lost={outcome.lost} "
                f"twice={outcome.applied_twice} recover={outcome.recover_s} s {outcome.error}",
                flush=True,
            )
            outcomes.append(outcome)
    return outcomes


def write_report(
    outcomes: list[Outcome], results_dir: Path, *, seed: int, quick: bool, command: str
) -> None:
    """Write `faults.json` and `faults.md` (the table) into `results_dir`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": command,
        "seed": seed,
        "quick": quick,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, shared with other test suites",
    }
    report = meta | {"scenarios": [asdict(o) for o in outcomes]}
    (results_dir / "faults.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    lines = [
        "# Fault matrix",
        "",
        f"`{command}`, seed {seed}, {meta['finished_at']}; {meta['machine']}.",
        "",
        (
            "| scenario | faults | files expected | at the hub byte-identical | lost "
            "| applied twice | time to recover (s, max) | status |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        title = SCENARIOS[o.name][0]
        status = o.status if not o.error else f"{o.status}: {o.error[:200]}"
        lines.append(
            f"| {title} | {o.faults:,} | {o.expected} | {o.identical} | {o.lost} | "
            f"{o.applied_twice} | {o.recover_s} | {status} |"
        )
    lines += ["", "Notes:", ""]
    lines += [f"- {SCENARIOS[o.name][0]}: {'; '.join(o.notes)}" for o in outcomes]
    lines += [
        "",
        (
            "Faults: kills, node restarts, cuts, filled disks, or messages sent. Time to recover: "
            "from the end of the fault until every expected file was at the hub byte-identical "
            "(largest over rounds). Applied twice: a version recorded again for the same path and "
            "content right after itself, or a package stored twice at the archive."
        ),
    ]
    (results_dir / "faults.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
