"""Smoke test of `python -m bench --quick`: it runs and reports every figure with its unit.

Times are never asserted: only that the benchmarks ran and that the report says
what each number is (a unit) and what each ratio compares (both sides).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from bench.results import BenchResult, Figure, Ratio, Report, kept_results

REPO = Path(__file__).resolve().parents[2]


def _run_bench(shared_broker, tmp_path: Path, *args: str) -> dict:
    env = os.environ | {
        "SPISYNC_TEST_AMQP_URL": shared_broker.amqp_base + "/",
        "SPISYNC_TEST_MANAGEMENT_URL": shared_broker.management_url,
    }
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", *args, "--results-dir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=880, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))


def _hub_db(kept: str) -> sqlite3.Connection:
    return sqlite3.connect(f"{(Path(kept) / 'hub' / 'hub.sqlite').as_uri()}?mode=ro", uri=True)


@pytest.mark.timeout(900)
def test_quick_benchmarks_report_medians_with_spread_and_rotate_contenders(
    shared_broker, tmp_path: Path
) -> None:
    """With --repeat 2 every figure and ratio carries both runs, min and max, the contenders' order rotates, and the loop, caches and load are stated."""
    report = _run_bench(shared_broker, tmp_path, "--only", "initial_sync", "--repeat", "2")
    environment = report["environment"]
    assert environment["event_loop"].startswith("uvloop")
    assert environment["repeat"] == 2
    assert "sync" in environment["caches"]
    assert len(environment["load_average_at_start"]) == 3
    (bench,) = report["benchmarks"]
    assert bench["status"] == "ok", bench["error"]
    assert len(bench["load_before"]) == len(bench["load_after"]) == 3
    for figure in bench["figures"]:
        assert figure["unit"], figure
        assert len(figure["runs"]) == 2, figure
        assert figure["min"] <= figure["value"] <= figure["max"], figure
    ratios = {r["name"]: r for r in bench["ratios"]}
    assert set(ratios) == {
        "spisync / rsync",
        "spisync / raw aio-pika",
        "spisync / raw aio-pika acked before durable",
        "spisync / raw aio-pika with SHA-256 checked",
    }
    for ratio in ratios.values():
        assert len(ratio["runs"]) == 2, ratio
        assert ratio["value"] == pytest.approx(statistics.median(ratio["runs"]), abs=2e-3)
        for side in ("ours", "theirs"):
            assert ratio[side]["unit"] == "MB/s", ratio
            assert ratio[side]["value"] > 0, ratio
    cpu = {f["name"]: f for f in bench["figures"] if " CPU: " in f["name"]}
    # Where the time goes (#15.3): every stage of both pipelines, each run measured.
    for stage in (
        "spisync CPU: agent",
        "spisync CPU: hub",
        "raw CPU: publisher",
        "raw CPU: consumer",
        "raw-verified CPU: publisher",
        "raw-verified CPU: consumer",
    ):
        assert cpu[stage]["unit"] == "s", cpu
        assert all(run > 0 for run in cpu[stage]["runs"]), cpu[stage]
    orders = [n.split(";")[0] for n in bench["notes"] if "order " in n]
    assert orders == [
        "repetition 1: order rsync -> raw -> raw-unsynced -> raw-verified -> spisync",
        "repetition 2: order raw -> raw-unsynced -> raw-verified -> spisync -> rsync",
    ]
    assert "| spisync / rsync |" in (tmp_path / "latest.md").read_text(encoding="utf-8")


def test_results_of_benchmarks_not_rerun_are_kept_with_their_run_time(tmp_path: Path) -> None:
    """`--only X` rewrites X's figures; the other benchmarks' results come back unchanged from the last latest.json, each with its own run time."""

    def result(name: str, value: float) -> BenchResult:
        ours = Figure("ours", value, "MB/s", runs=(value - 1, value, value + 1))
        theirs = Figure("theirs", 2 * value, "MB/s")
        bench = BenchResult(name=name, title=name, figures=[ours, theirs], notes=["n"])
        bench.ratios.append(Ratio("ours / theirs", ours, theirs, aim=0.9))
        bench.aims["ours"] = (">=", 5.0)
        return bench

    earlier = Report(quick=False, results=[result("initial_sync", 10.0), result("latency", 3.0)])
    earlier.write(tmp_path)
    (kept,) = kept_results(tmp_path / "latest.json", {"initial_sync"}, quick=False)
    assert kept.as_dict() == earlier.results[1].as_dict()
    assert kept.meets(kept.figures[0]) is False
    assert kept_results(tmp_path / "latest.json", {"initial_sync"}, quick=True) == []
    assert kept_results(tmp_path / "missing.json", set(), quick=False) == []


@pytest.mark.timeout(900)
def test_quick_benchmarks_count_what_the_hub_committed(
    shared_broker, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Registry messages and fan-in file versions reported equal the rows found in the hub's own SQLite, not the registry's change-log rows."""
    report = _run_bench(
        shared_broker, tmp_path, "--only", "registry", "--only", "fan_in", "--repeat", "1",
        "--keep",
    )  # fmt: skip
    benchmarks = {b["name"]: b for b in report["benchmarks"]}
    for bench in benchmarks.values():
        for kept in bench["kept"]:
            request.addfinalizer(lambda kept=kept: shutil.rmtree(kept, ignore_errors=True))
    registry = benchmarks["registry"]
    assert registry["status"] == "ok", registry["error"]
    figures = {f["name"]: f["value"] for f in registry["figures"]}
    (kept,) = registry["kept"]
    with contextlib.closing(_hub_db(kept)) as db:
        # Records at the hub, without the warm-up spis written before the clock started.
        records = sum(
            db.execute(f"SELECT count(*) FROM {table} WHERE id != 'W'").fetchone()[0]
            for table in ("spisy", "dokumenty", "komponenty")
        )
        messages = db.execute(
            "SELECT count(*) FROM processed_messages "
            "WHERE kind IN ('spis', 'dokument', 'komponenta', 'record_deleted')"
        ).fetchone()[0]
    assert figures["registry messages committed at the hub"] == records == messages - 1
    # 50 spisy x (spis + dokument + 2 komponenty) inserted, then 50 renames in the same transaction.
    assert figures["change-log rows written"] == 250
    assert records == 200
    fan_in = benchmarks["fan_in"]
    assert fan_in["status"] == "ok", fan_in["error"]
    figures = {f["name"]: f["value"] for f in fan_in["figures"]}
    (kept,) = fan_in["kept"]
    with contextlib.closing(_hub_db(kept)) as db:
        versions = db.execute("SELECT count(*) FROM file_versions").fetchone()[0]
    assert figures["file versions committed at the hub"] == versions == 10 * 20


@pytest.mark.timeout(900)
def test_quick_slow_links_count_the_bytes_on_the_wire_for_every_contender(
    shared_broker, tmp_path: Path
) -> None:
    """Through the throttling proxy `rsync -a` puts at least the tree's bytes on the wire for the first sync, spisync and `rsync -az` less (both compress its text files), and the bandwidth limit is checked."""
    report = _run_bench(shared_broker, tmp_path, "--only", "slow_links", "--repeat", "1")
    (bench,) = report["benchmarks"]
    assert bench["status"] == "ok", bench["error"]
    figures = {f["name"]: f for f in bench["figures"]}
    tree = figures["first sync: bytes in the tree"]["value"]
    for link in ("10 Mbit/s, 30 ms", "100 Mbit/s, 10 ms"):
        assert figures[f"first sync, {link}: rsync -a bytes on the wire"]["value"] >= tree
        for contender in ("spisync", "rsync -az"):
            compressed = figures[f"first sync, {link}: {contender} bytes on the wire"]["value"]
            assert 0 < compressed < tree
        for contender in ("spisync", "rsync -a", "rsync -az"):
            assert figures[f"day, {link}: {contender} wall time"]["value"] > 0
            # Sending spans only part of the wall time: its utilisation is the higher.
            over_wall = figures[f"day, {link}: {contender} link utilisation"]["value"]
            sending = figures[f"day, {link}: {contender} link utilisation while sending"]
            assert sending["value"] >= over_wall > 0
    assert "meets_aim" in figures["bandwidth limit: deviation of the steady rate"]
    assert {r["name"] for r in bench["ratios"]} >= {
        "day, 10 Mbit/s, 30 ms: spisync / rsync -a (speed)",
        "first sync, 100 Mbit/s, 10 ms: spisync / rsync -az (speed)",
    }


def test_bench_imports_nothing_from_the_tests_or_the_dev_tools() -> None:
    """Every bench module imports with pytest, hypothesis and the tests package made unimportable (a clone without the dev extra)."""
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / "bench").rglob("*.py")
        if "results" not in p.relative_to(REPO).parts
    )
    code = (
        "import sys, importlib\n"
        "for name in ('pytest', '_pytest', 'hypothesis', 'tests', 'moto', 'playwright'):\n"
        "    sys.modules[name] = None\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.timeout(600)
def test_quick_validate_benchmark_reports_time_and_peak_memory(
    shared_broker, tmp_path: Path
) -> None:
    """`--only validate` writes the package, validates it and reports the validator's peak RSS and time against reading."""
    env = os.environ | {
        "SPISYNC_TEST_AMQP_URL": shared_broker.amqp_base + "/",
        "SPISYNC_TEST_MANAGEMENT_URL": shared_broker.management_url,
    }
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "validate",
         "--results-dir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=580, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    (bench,) = report["benchmarks"]
    assert bench["status"] == "ok", bench["error"]
    figures = {f["name"]: f for f in bench["figures"]}
    assert figures["komponenty"]["value"] == 500
    assert figures["validator peak RSS"]["unit"] == "MiB"
    assert figures["validator peak RSS"]["value"] > 0
    (ratio,) = bench["ratios"]
    assert ratio["ours"]["unit"] == ratio["theirs"]["unit"] == "s"


@pytest.mark.timeout(600)
def test_quick_spisovka_benchmark_loads_the_registry_and_times_changes(
    shared_broker, tmp_path: Path
) -> None:
    """`--only spisovka` loads a small Spisovka registry from MariaDB into the hub and reports load time and change latency."""
    env = os.environ | {
        "SPISYNC_TEST_AMQP_URL": shared_broker.amqp_base + "/",
        "SPISYNC_TEST_MANAGEMENT_URL": shared_broker.management_url,
    }
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "spisovka",
         "--results-dir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=580, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    (bench,) = report["benchmarks"]
    assert bench["status"] == "ok", bench["error"]
    figures = {f["name"]: f for f in bench["figures"]}
    assert figures["spisy"]["value"] == 200
    assert figures["initial load to the hub"]["unit"] == "s"
    assert figures["change -> hub, median"]["value"] > 0
