"""The fault matrix's bounded form (`python -m bench.faults --quick`), run by CI with the suite.

It starts its own private RabbitMQ node and mounts small tmpfs filesystems, as
the full run does; only the numbers of rounds and fuzzed messages are smaller.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.faults import SCENARIOS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.faults
@pytest.mark.private_broker
@pytest.mark.timeout(1200)
def test_quick_fault_matrix_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    """Every scenario of the quick matrix ends with all files byte-identical at the hub, none lost, none applied twice."""
    run = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--quick", "--seed", "1",
         "--results-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=1180, check=False,
    )  # fmt: skip
    report = json.loads((tmp_path / "faults.json").read_text(encoding="utf-8"))
    rows = {row["name"]: row for row in report["scenarios"]}
    assert set(rows) == set(SCENARIOS), run.stdout[-3000:]
    for name, row in rows.items():
        assert row["status"] == "ok", f"{name}: {row['error']} {row['notes']}\n{run.stdout[-3000:]}"
        assert row["faults"] > 0, name
        assert row["expected"] > 0, name
        assert row["identical"] == row["expected"], name
        assert row["lost"] == 0, name
        assert row["applied_twice"] == 0, name
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "| kill -9 of the hub mid-batch |" in (tmp_path / "faults.md").read_text(
        encoding="utf-8"
    )
