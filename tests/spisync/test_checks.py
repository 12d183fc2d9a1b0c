"""`spisync hub check` and `spisync archive check` against a real broker, and the hub's queries."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import structlog

from spisync.broker.session import run_sessions
from spisync.cli import main
from spisync.config import BrokerConfig
from testkit.hub import make_hub_config, write_hub_toml
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from testkit.broker import SharedBroker


def archive_toml(path: Path, url: str, data_dir: Path, extra: str = "") -> Path:
    path.write_text(
        f'[archive]\ndata_dir = "{data_dir}"\n\n[broker]\nurl = "{url}"\n{extra}', encoding="utf-8"
    )
    return path


def test_hub_check_passes_on_a_good_setup(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hub config with a working broker passes every check and exits 0."""
    config = write_hub_toml(make_hub_config(shared_broker, vhost, tmp_path / "d"), tmp_path / "H")
    assert main(["hub", "check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out
    assert "testorp.obec-<IČO>" in out


def test_hub_check_says_how_to_fix_a_refused_login(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong password fails the login check with a fix instead of retrying forever."""
    config = write_hub_toml(make_hub_config(shared_broker, vhost, tmp_path / "d"), tmp_path / "H")
    text = config.read_text().replace(f":{shared_broker.password}@", ":spatne-heslo@")
    config.write_text(text)
    assert main(["hub", "check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL broker login" in out
    assert "spatne-heslo" not in out
    assert "fix: the user or password" in out


def test_archive_check_names_a_missing_ca_file(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An amqps:// config whose ca_file is missing names the key and the path."""
    url = shared_broker.url(vhost).replace("amqp://", "amqps://")
    missing = tmp_path / "ca.pem"
    config = archive_toml(tmp_path / "A.toml", url, tmp_path / "d", f'ca_file = "{missing}"\n')
    assert main(["archive", "check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL [broker] ca_file: {missing} does not exist" in out


def test_archive_check_explains_amqps_to_a_plain_port(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """amqps:// to the plain AMQP port is explained (WRONG_VERSION_NUMBER), with the fix."""
    url = shared_broker.url(vhost).replace("amqp://", "amqps://")
    config = archive_toml(tmp_path / "A.toml", url, tmp_path / "d")
    assert main(["archive", "check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "WRONG_VERSION_NUMBER" in out
    assert "plain AMQP" in out
    assert "5671" in out


def test_archive_check_passes_on_a_good_setup(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An archive config with a working broker passes every check."""
    config = archive_toml(tmp_path / "A.toml", shared_broker.url(vhost), tmp_path / "d")
    assert main(["archive", "check", "--config", str(config)]) == 0
    assert "all checks passed" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["files", "spisy"])
def test_queries_refuse_a_missing_database_and_an_unprovisioned_obec(
    shared_broker: SharedBroker,
    vhost: str,
    tmp_path: Path,
    ico: str,
    command: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`hub files`/`spisy` say there is no database, or that the obec is not provisioned, and exit 1."""
    hub = make_hub_config(shared_broker, vhost, tmp_path / "d")
    config = write_hub_toml(hub, tmp_path / "H")
    assert main(["hub", command, "--config", str(config), "--ico", ico]) == 1
    assert "no hub database at" in capsys.readouterr().err
    assert not (tmp_path / "d" / "hub.sqlite").exists()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "hub.sqlite").touch()
    assert main(["hub", command, "--config", str(config), "--ico", ico]) == 1
    assert f"obec {ico} is not provisioned" in capsys.readouterr().err


def test_output_to_a_closed_pipe_ends_quietly() -> None:
    """`spisync hub export-definitions | head -0` ends without a traceback (exit 141, as SIGPIPE)."""
    script = Path(sys.executable).with_name("spisync")
    with subprocess.Popen(
        [str(script), "hub", "export-definitions"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()  # the reader is gone before the first line is written
        err = process.stderr.read()
        code = process.wait()
    assert err == b""
    assert code == 141


async def test_the_reconnect_loop_explains_amqps_to_a_plain_port(
    shared_broker: SharedBroker, vhost: str
) -> None:
    """A running role that speaks amqps:// to the plain port logs `broker_tls_failed` with the fix."""
    broker = BrokerConfig(url=shared_broker.url(vhost).replace("amqp://", "amqps://"))
    stopping = asyncio.Event()

    async def never(_: object) -> None:
        raise AssertionError("no session can start")

    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(
            run_sessions(broker, never, stopping, name="spisync tests", link="archive")
        )

        async def failed() -> bool:
            return any(e["event"] == "broker_connect_failed" for e in logs)

        await wait_for(failed, what="a failed attempt")
        stopping.set()
        await task
    [first, *_] = [e for e in logs if e["event"] == "broker_connect_failed"]
    assert first["problem"] == "broker_tls_failed"
    assert "5671" in first["fix"]


def test_a_certificate_login_without_certificate_files_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An amqps URL with auth=external but no cert_file/key_file fails naming them."""
    url = "amqps://tls.obec-00255319@127.0.0.1:1/?auth=external"
    config = archive_toml(tmp_path / "A.toml", url, tmp_path / "d")
    assert main(["archive", "check", "--config", str(config)]) == 1
    assert (
        "FAIL [broker] cert_file: the URL asks for a certificate login" in capsys.readouterr().out
    )
