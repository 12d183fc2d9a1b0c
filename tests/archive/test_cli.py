"""`spisync archive validate` and the configuration errors of `spisync archive run`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from archive.cli import main
from archive.config import load_archive_config
from spisync import cli as spisync_cli
from spisync.errors import EXIT_CONFIG
from tests.archive.hub_double import with_wrong_checksum

if TYPE_CHECKING:
    from pathlib import Path

    from tests.archive.hub_double import Sip


def test_validate_good_package_exits_0(sip: Sip, capsys: pytest.CaptureFixture[str]) -> None:
    """`spisync archive validate` on a valid SIP prints that it is fine and exits 0."""
    assert spisync_cli.main(["archive", "validate", str(sip.path)]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [
        f"SIP {sip.name} (profil spisovna): v pořádku, žádná chyba",
        "Neověřeno (chybí externí nástroj): vir1, kom4",
    ]


def test_validate_bad_package_exits_1_listing_rules(
    sip: Sip, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIP with a wrong checksum exits 1 and its report names kom2 with the location."""
    bad = with_wrong_checksum(sip, tmp_path / "bad")
    assert main(["validate", str(bad.path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"SIP {sip.name} (profil spisovna): ")
    assert "kom2" in out
    assert "mets.xml:" in out


def test_validate_json_report(sip: Sip, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` prints the same report as a JSON document."""
    bad = with_wrong_checksum(sip, tmp_path / "bad")
    assert main(["validate", "--json", str(bad.path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["sha256"] == bad.sha256
    assert "kom2" in {failure["code"] for failure in report["failures"]}
    rules = {rule["code"]: rule for rule in report["rules"]}
    assert rules["kom2"]["status"] == "failed"
    assert rules["kom2"]["locations"][0].startswith("mets.xml:")
    assert rules["obs1"]["status"] == "passed"
    assert rules["obs3"]["status"] == "not_applicable"  # přejímka only
    assert rules["vir1"]["status"] == "not_implemented"  # no scanner configured


def test_validate_profile_option(sip: Sip, capsys: pytest.CaptureFixture[str]) -> None:
    """`--profile prejimka` applies přejímka's rules: a package without skartační řízení fails obs78."""
    assert main(["validate", "--profile", "prejimka", str(sip.path)]) == 1
    out = capsys.readouterr().out
    assert "(profil prejimka)" in out
    assert "obs78" in out
    assert main(["validate", "--profile", "skartacni-rizeni", str(sip.path)]) == 0


@pytest.mark.parametrize("argv", [[], ["validate"], ["frobnicate"], ["run"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Missing or unknown arguments exit 2 with a usage message."""
    assert main(argv) == 2
    assert "usage: spisync archive" in capsys.readouterr().err


def test_validate_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is a usage error (2), not an invalid package."""
    assert main(["validate", str(tmp_path / "SIP_nic.zip")]) == 2
    assert "neexistuje" in capsys.readouterr().err


GOOD = """
[archive]
data_dir = "/srv/spisync-archive"

[broker]
url = "amqps://archiv:tajne-heslo@mq.kraj.example:5671/kds"
"""


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (GOOD.replace('data_dir = "/srv/spisync-archive"\n', ""), "[archive]", "data_dir"),
        (GOOD.replace("[archive]", "[archive]\nprefetch = 0"), "[archive.prefetch]", ">= 1"),
        (GOOD.replace("[archive]", '[archive]\nid_prefix = "kds"'), "[archive.id_prefix]", "regex"),
        (GOOD.replace("[archive]", "[archive]\ndatadir = 1"), "[archive]", "datadir"),
        (GOOD.replace("amqps://", "http://"), "[broker]", "amqp:// or amqps://"),
        (GOOD.replace("[broker]", "[brokers]"), "", "broker"),
    ],
)
def test_config_errors_name_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, expected: str
) -> None:
    """A wrong ARCHIVE.toml exits EX_CONFIG (78) with a message naming the file, the key and the problem, never the password."""
    path = tmp_path / "ARCHIVE.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", "--config", str(path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{path}: {key}" in err
    assert expected in err
    assert "tajne-heslo" not in err


def test_missing_config_file_exits_ex_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config path that does not exist exits EX_CONFIG (78) and says so."""
    assert main(["run", "--config", str(tmp_path / "nic.toml")]) == EXIT_CONFIG
    assert "does not exist" in capsys.readouterr().err


def test_config_repr_hides_password(tmp_path: Path) -> None:
    """The loaded config's repr never shows the broker password."""
    path = tmp_path / "ARCHIVE.toml"
    path.write_text(GOOD, encoding="utf-8")
    config = load_archive_config(path)
    assert config.archive.id_prefix == "KDS"
    assert "tajne-heslo" not in repr(config)
