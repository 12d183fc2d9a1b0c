"""AGENT.toml: defaults, validation messages that name the key, folder names."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import DEFAULT_IGNORE_PATTERNS, load_agent_config
from spisync.errors import ConfigError


def _write(tmp_path, text: str):
    path = tmp_path / "AGENT.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """
[agent]
ico = "00509001"
name = "Obec Vlkava"
state_dir = "/var/lib/spisync-agent"

[broker]
url = "amqps://obec-00509001:secret@tc.example:5671/klatovy"
ca_file = "/etc/spisync/ca.pem"
"""


def test_defaults_follow_the_issue(tmp_path):
    """Chunk size 1 MiB, quiet window 2 s, hourly rescans and 30 s heartbeats by default."""
    config = load_agent_config(_write(tmp_path, BASE + '\n[[folders]]\npath = "/srv/spisovna"\n'))
    assert config.agent.chunk_size == 1024 * 1024
    assert config.agent.quiet_window_s == 2.0
    assert config.agent.rescan_interval_s == 3600.0
    assert config.agent.heartbeat_interval_s == 30.0
    assert config.agent.bandwidth_limit_bytes_per_s is None
    assert config.folder_prefix(config.folders[0]) == ""
    assert config.ignore_patterns == DEFAULT_IGNORE_PATTERNS
    assert "secret" not in repr(config)


def test_an_invalid_ico_is_reported_with_its_key(tmp_path):
    """A wrong check digit names [agent] and the reason."""
    with pytest.raises(ConfigError, match=r"\[agent\].*check digit"):
        load_agent_config(_write(tmp_path, BASE.replace("00509001", "00509002", 1)))


def test_the_inbox_comes_from_the_file_or_is_the_old_name(tmp_path):
    """`[agent] inbox` is the queue read; a file without it reads the old `agent.<ičo>`."""
    assert load_agent_config(_write(tmp_path, BASE)).agent.inbox_queue == "agent.00509001"
    with_inbox = BASE.replace(
        'name = "Obec Vlkava"',
        'name = "Obec Vlkava"\ninbox = "agent.00509001.0123456789abcdef0123"',
    )
    config = load_agent_config(_write(tmp_path, with_inbox))
    assert config.agent.inbox_queue == "agent.00509001.0123456789abcdef0123"


def test_an_inbox_of_another_obec_is_refused_with_its_key(tmp_path):
    """An inbox that is not `agent.<own ičo>.<token>` names [agent] and how to fix it."""
    foreign = BASE.replace(
        'name = "Obec Vlkava"',
        'name = "Obec Vlkava"\ninbox = "agent.00231401.0123456789abcdef0123"',
    )
    with pytest.raises(
        ConfigError, match=r"\[agent\].*not an inbox of IČO 00509001.*provision-agent"
    ):
        load_agent_config(_write(tmp_path, foreign))


def test_several_folders_each_need_a_distinct_name(tmp_path):
    """With two folders, a missing name is an error and names become path prefixes."""
    two = BASE + '[[folders]]\npath = "/a"\n[[folders]]\npath = "/b"\n'
    with pytest.raises(ConfigError, match="needs a name"):
        load_agent_config(_write(tmp_path, two))
    named = (
        BASE
        + '[[folders]]\npath = "/a"\nname = "spisy"\n[[folders]]\npath = "/b"\nname = "skeny"\n'
    )
    config = load_agent_config(_write(tmp_path, named))
    assert [config.folder_prefix(f) for f in config.folders] == ["spisy/", "skeny/"]


def test_unknown_keys_are_rejected(tmp_path):
    """A misspelt key is an error naming its section, not silently ignored."""
    with pytest.raises(ConfigError, match="quiet_windows"):
        load_agent_config(_write(tmp_path, BASE.replace("[broker]", "quiet_windows = 3\n[broker]")))


def test_the_shipped_example_config_is_valid():
    """packaging/config/agent.example.toml loads as it is shipped."""
    example = Path(__file__).resolve().parents[2] / "packaging" / "config" / "agent.example.toml"
    config = load_agent_config(example)
    assert [config.folder_prefix(f) for f in config.folders] == ["spisovna/", "skeny/"]
    assert config.registry is not None
