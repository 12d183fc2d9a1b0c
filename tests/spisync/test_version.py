"""`spisync --version` and the version each role logs when it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from spisync.cli import main
from testkit.broker import free_port


def test_version_flag_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`spisync --version` prints the version pip installed and exits 0."""
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"spisync {metadata.version('spisync')}"


def test_hub_logs_its_version_as_its_first_line(tmp_path: Path) -> None:
    """`spisync hub run` logs `hub_starting` with the installed version before anything else."""
    config = tmp_path / "HUB.toml"
    config.write_text(
        f'[hub]\norp = "t"\ndata_dir = "{tmp_path / "d"}"\n'
        f'[broker]\nurl = "amqp://u:p@127.0.0.1:{free_port()}/"\n',
        encoding="utf-8",
    )
    script = Path(sys.executable).with_name("spisync")
    with subprocess.Popen(
        [str(script), "hub", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            first = json.loads(process.stdout.readline())
        finally:
            process.kill()
    assert first["event"] == "hub_starting"
    assert first["version"] == metadata.version("spisync")
