"""The `spisync` command and the exported broker definitions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spisync.broker import static_definitions
from spisync.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_exported_definitions_match_the_code() -> None:
    """packaging/rabbitmq/definitions.json is exactly what the code declares."""
    exported = json.loads((ROOT / "packaging/rabbitmq/definitions.json").read_text())
    assert exported == static_definitions("/")


def test_cli_lists_roles_and_refuses_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """`spisync` without arguments shows the roles; an unknown role exits 2 naming it."""
    assert main([]) == 2
    assert "agent" in capsys.readouterr().out
    assert main(["teleport"]) == 2
    assert "'teleport'" in capsys.readouterr().err


def test_console_script_runs_as_installed() -> None:
    """The installed `spisync` script answers --help."""
    script = Path(sys.executable).with_name("spisync")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "hub" in result.stdout


def test_provision_with_invalid_ico_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`spisync hub provision-agent` with a bad IČO prints it and exits 2 before touching the broker."""
    config = tmp_path / "HUB.toml"
    config.write_text(
        '[hub]\norp = "t"\ndata_dir = "d"\n[broker]\nurl = "amqp://u:p@127.0.0.1:1/"\n'
    )
    code = main(
        [
            "hub",
            "provision-agent",
            "--config",
            str(config),
            "--ico",
            "12345678",
            "--name",
            "X",
            "--out",
            str(tmp_path / "a.toml"),
        ]
    )
    assert code == 2
    assert "'12345678'" in capsys.readouterr().err
