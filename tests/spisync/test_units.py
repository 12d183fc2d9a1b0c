"""The systemd units: notify with a watchdog, no restart on a config error, exposure <= 3.0, valid."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "packaging/systemd").glob("*.service"))


def test_every_role_has_a_unit() -> None:
    """There is a unit for the agent, the hub and the archive."""
    assert [u.name for u in UNITS] == [
        "spisync-agent.service",
        "spisync-archive.service",
        "spisync-hub.service",
    ]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_notifies_pings_and_does_not_restart_on_config_errors(unit: Path) -> None:
    """Type=notify with a watchdog, and exit code 78 (a config error) is not restarted."""
    text = unit.read_text()
    assert "\nType=notify\n" in text
    assert re.search(r"\nWatchdogSec=\d+\n", text)
    assert "\nRestartPreventExitStatus=78\n" in text
    assert "\nExecStart=/opt/spisync/current/bin/spisync " in text


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_exposure_is_at_most_3(unit: Path) -> None:
    """`systemd-analyze security` rates every unit's exposure at 3.0 or less."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 3.0, result.stdout


def test_agent_reads_everything_and_writes_only_its_state() -> None:
    """The agent's unit keeps watched folders readable (also under /home) and writes only its state."""
    text = (ROOT / "packaging/systemd/spisync-agent.service").read_text()
    assert "\nProtectSystem=strict\n" in text
    assert "\nProtectHome=read-only\n" in text
    assert re.findall(r"\nReadWritePaths=(.*)\n", text) == ["/var/lib/spisync-agent"]
    assert "InaccessiblePaths" not in text


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_verifies_clean(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong with the unit in a root where spisync is installed."""
    root = tmp_path / "root"
    executable = root / "opt/spisync/current/bin/spisync"
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    result = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}", unit.name],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout + result.stderr == ""
