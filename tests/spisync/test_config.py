"""Loading configuration: typed, validated, overridable, never showing a secret."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import structlog

from hub.config import load_hub_config
from spisync.config import BrokerConfig, redact_url
from spisync.errors import ConfigError
from spisync.logging import configure_logging

if TYPE_CHECKING:
    from pathlib import Path

GOOD = """
[hub]
orp = "klatovy"
data_dir = "/srv/spisync"

[broker]
url = "amqps://hub-klatovy:tajne-heslo@mq.klatovy.example:5671/orp"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "HUB.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_loads_into_typed_frozen_object(tmp_path: Path) -> None:
    """A valid HUB.toml gives a frozen object with defaults filled in."""
    config = load_hub_config(write(tmp_path, GOOD))
    assert config.hub.orp == "klatovy"
    assert config.storage.kind == "local"
    assert config.broker.vhost == "orp"
    with pytest.raises(AttributeError):
        config.hub.orp = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (GOOD.replace('orp = "klatovy"', "orp = 5"), "hub.orp", "Expected `str`, got `int`"),
        (GOOD.replace('orp = "klatovy"', 'orp = "Klatovy Město"'), "hub.orp", "matching regex"),
        (
            GOOD.replace('data_dir = "/srv/spisync"\n', ""),
            "hub",
            "missing required field `data_dir`",
        ),
        (GOOD.replace("amqps://", "http://"), "broker", "amqp:// or amqps://"),
        (GOOD + '\n[storage]\nkind = "s3"\n', "storage", "bucket is required"),
        (GOOD + '\n[storage]\nkind = "ftp"\n', "storage.kind", "Invalid enum value 'ftp'"),
        (GOOD.replace("[hub]", "[hub]\nbatch_wait = 1"), "hub", "unknown field `batch_wait`"),
    ],
)
def test_errors_name_file_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    """A wrong value is reported with the file, the key and what was expected."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_hub_config(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert f"[{key}]" in message
    assert expected in message


def test_missing_and_malformed_files_are_named(tmp_path: Path) -> None:
    """A missing file or broken TOML is reported with the file's path."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_hub_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_hub_config(write(tmp_path, "[hub\n"))


def test_environment_overrides_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SPISYNC_<SECTION>_<KEY> replaces a key, typed as TOML when it parses as TOML."""
    monkeypatch.setenv("SPISYNC_HUB_DATA_DIR", "/var/lib/elsewhere")
    monkeypatch.setenv("SPISYNC_HUB_BATCH_MAX", "17")
    config = load_hub_config(write(tmp_path, GOOD))
    assert config.hub.data_dir == "/var/lib/elsewhere"
    assert config.hub.batch_max == 17


def test_repr_and_str_never_show_the_password(tmp_path: Path) -> None:
    """Neither repr nor str of the config shows the broker password or S3 secret."""
    text = GOOD + '\n[storage]\nkind = "s3"\nbucket = "b"\nsecret_access_key = "s3-tajemstvi"\n'
    config = load_hub_config(write(tmp_path, text))
    for shown in (repr(config), str(config), repr(config.broker), str(config.storage)):
        assert "tajne-heslo" not in shown
        assert "s3-tajemstvi" not in shown
    assert "hub-klatovy:***@" in repr(config.broker)


def test_redact_url_keeps_everything_but_the_password() -> None:
    """redact_url hides only the password."""
    assert redact_url("amqp://u:p@h:5672/v") == "amqp://u:***@h:5672/v"
    assert redact_url("amqp://h/v") == "amqp://h/v"


def test_broker_config_defaults_management_url_from_amqp_host() -> None:
    """Without management_url the API is the AMQP host on port 15672."""
    assert BrokerConfig(url="amqp://u:p@mq:5672/").api_url == "http://mq:15672"
    assert BrokerConfig(url="amqp://u:p@mq/").vhost == "/"
    assert BrokerConfig(url="amqp://u:p@mq/%2Forp").vhost == "/orp"


def test_json_logging_writes_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Under a service manager each log line is a JSON object with role, event and values."""
    configure_logging("hub", json=True)
    structlog.get_logger().info("outbox_row_confirmed", message_id="m1")
    line = json.loads(capsys.readouterr().out.strip())
    assert line["event"] == "outbox_row_confirmed"
    assert line["role"] == "hub"
    assert line["message_id"] == "m1"


def test_console_logging_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    """On a terminal the log line is readable text, not JSON."""
    configure_logging("agent", json=False)
    structlog.get_logger().info("scan_finished", files=3)
    out = capsys.readouterr().out
    assert "scan_finished" in out
    assert "files=3" in out
    assert not out.lstrip().startswith("{")


def test_json_is_chosen_under_systemd(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With INVOCATION_ID set (systemd), JSON is chosen without being asked."""
    monkeypatch.setenv("INVOCATION_ID", "abc")
    configure_logging("agent")
    structlog.get_logger().info("started")
    assert json.loads(capsys.readouterr().out)["event"] == "started"


def test_a_bad_override_names_the_variable_not_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong value from SPISYNC_BROKER_URL is blamed on that variable; the file is fine."""
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("SPISYNC_BROKER_URL", "http://mq.klatovy.example/")
    with pytest.raises(ConfigError) as caught:
        load_hub_config(path)
    assert str(caught.value).startswith("SPISYNC_BROKER_URL: ")
    assert str(path) not in str(caught.value)
    assert "SPISYNC_BROKER_URL" in caught.value.fix


def test_windows_path_in_double_quotes_says_to_use_single_quotes(tmp_path: Path) -> None:
    r"""`path = "C:\Dokumenty"` fails with a fix that shows the same path in single quotes."""
    path = write(tmp_path, GOOD.replace('data_dir = "/srv/spisync"', 'data_dir = "C:\\Dokumenty"'))
    with pytest.raises(ConfigError) as caught:
        load_hub_config(path)
    assert "single quotes" in caught.value.fix
    assert "data_dir = 'C:\\Dokumenty'" in caught.value.fix
