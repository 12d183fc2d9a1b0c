"""A hub that cannot open its database says so in one line and exits; SIGTERM works at start-up."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.hub import make_hub_config, write_hub_toml
from testkit.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
# Generous: the machine is shared; a hub that hangs never exits at all.
EXIT_WITHIN_S = 60


def _spawn(config_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "spisync.cli", "hub", "run", "--config", str(config_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the hub did not exit")
    return process.returncode, output.decode(errors="replace")


def _corrupt(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True)
    path = data_dir / "hub.sqlite"
    path.write_bytes(b"this is not a SQLite database\n" * 400)
    return path


def _directory(data_dir: Path) -> Path:
    path = data_dir / "hub.sqlite"
    path.mkdir(parents=True)
    return path


def _file_as_data_dir(data_dir: Path) -> Path:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.write_text("a file where the data folder should be\n")
    return data_dir


@pytest.mark.parametrize("damage", [_corrupt, _directory, _file_as_data_dir])
def test_an_unopenable_database_gives_one_clear_line_and_a_non_zero_exit(
    shared_broker, vhost, tmp_path, damage
):
    """A corrupt database, a folder in its place or a file as data_dir: one line with what, where and the fix, no traceback, a non-zero exit."""
    config = make_hub_config(shared_broker, vhost, tmp_path / "hub")
    where = damage(config.hub.data_path)
    process = _spawn(write_hub_toml(config, tmp_path / "HUB.toml"))
    code, output = _finish(process)
    assert code != 0
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "fix:" in line]
    assert len(lines) == 1, output
    assert str(where) in lines[0]


async def test_sigterm_ends_a_hub_waiting_for_a_locked_database(shared_broker, vhost, tmp_path):
    """A hub still starting (its database locked by another process) stops on SIGTERM with exit 0, not after the lock wait."""
    config = make_hub_config(shared_broker, vhost, tmp_path / "hub")
    config.hub.data_path.mkdir(parents=True)
    holder = sqlite3.connect(config.hub.data_path / "hub.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        process = _spawn(write_hub_toml(config, tmp_path / "HUB.toml"))

        async def opened() -> bool:
            # Event, not time: the hub has the database file open, so it is at that stage.
            fds = Path(f"/proc/{process.pid}/fd")
            targets = []
            for fd in fds.iterdir() if fds.exists() else []:
                try:
                    targets.append(str(fd.readlink()))
                except OSError:
                    continue
            return any(t.endswith("hub.sqlite") for t in targets)

        await wait_for(opened, timeout=EXIT_WITHIN_S, what="the hub to open its database")
        process.send_signal(signal.SIGTERM)
        code, output = await asyncio.to_thread(_finish, process)
        assert code == 0, output
        assert "Traceback" not in output
    finally:
        holder.rollback()
        holder.close()
