"""Smoke test of `python -m bench --quick`: it runs and reports every figure with its unit.

Times are never asserted: only that the benchmarks ran and that the report says
what each number is (a unit) and what each ratio compares (both sides).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_quick_benchmarks_report_units_and_both_sides(shared_broker, tmp_path: Path) -> None:
    """The quick initial sync and registry benchmarks write JSON with units and ratio sides, and a markdown table."""
    env = os.environ | {
        "SPISYNC_TEST_AMQP_URL": shared_broker.amqp_base + "/",
        "SPISYNC_TEST_MANAGEMENT_URL": shared_broker.management_url,
    }
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "initial_sync", "--only", "registry",
         "--results-dir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=580, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    benchmarks = {b["name"]: b for b in report["benchmarks"]}
    assert set(benchmarks) == {"initial_sync", "registry"}
    for bench in benchmarks.values():
        assert bench["status"] == "ok", bench["error"]
        assert bench["figures"]
        for figure in bench["figures"]:
            assert isinstance(figure["value"], int | float), figure
            assert figure["unit"], figure
    ratios = benchmarks["initial_sync"]["ratios"]
    assert {r["name"] for r in ratios} == {"spisync / rsync", "spisync / raw aio-pika"}
    for ratio in ratios:
        for side in ("ours", "theirs"):
            assert ratio[side]["unit"] == "MB/s", ratio
            assert ratio[side]["value"] > 0, ratio
        assert ratio["value"] == pytest.approx(
            ratio["ours"]["value"] / ratio["theirs"]["value"], abs=1e-3
        )
    assert "| spisync / rsync |" in (tmp_path / "latest.md").read_text(encoding="utf-8")


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
