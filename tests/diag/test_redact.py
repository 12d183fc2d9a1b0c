"""Redaction of every secret field of AGENT.toml, including the registry's (a server database)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from agent.config import load_agent_config
from agent.diagnostics.redact import Redactor

if TYPE_CHECKING:
    from pathlib import Path

BROKER = "Br0ker-Secret-11"
MANAGEMENT = "Mgmt-Url-Secret-22"
REGISTRY_FILE = "Reg-File-Secret-33"
KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFKey-Secret-44"


def _config(tmp_path: Path) -> Path:
    (tmp_path / "registry.pass").write_text(REGISTRY_FILE + "\n")
    (tmp_path / "client.key").write_text(
        f"-----BEGIN PRIVATE KEY-----\n{KEY_LINE}\n-----END PRIVATE KEY-----\n"
    )
    path = tmp_path / "AGENT.toml"
    path.write_text(
        f"""
[agent]
ico = "00255319"
name = "Obec"
state_dir = "{tmp_path / "state"}"

[broker]
url = "amqps://test.obec-00255319:{BROKER}@broker.example:5671/orp"
key_file = "{tmp_path / "client.key"}"
management_url = "https://admin:{MANAGEMENT}@broker.example:15671"

[registry]
kind = "spisovka"
url = "mysql://spisovka@db.example/spisovka"
password_file = "{tmp_path / "registry.pass"}"
""",
        encoding="utf-8",
    )
    return path


def test_every_secret_field_is_masked_in_the_configuration_and_in_free_text(tmp_path: Path) -> None:
    """Broker and management passwords, the registry password file and the key file never survive redaction."""
    config = load_agent_config(_config(tmp_path))
    redactor = Redactor(config)
    shown = json.dumps(redactor.redacted_config())
    leaked = (
        f"connecting to amqps://x:{BROKER}@h failed; https://admin:{MANAGEMENT}@broker.example:15671; "
        f"password={REGISTRY_FILE}; key {KEY_LINE}; "
        f"-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----"
    )
    scrubbed = redactor.text(leaked)
    nested = json.dumps(redactor.data({"a": [leaked, {"b": leaked}]}))
    for secret in (BROKER, MANAGEMENT, REGISTRY_FILE, KEY_LINE, "abc\n"):
        assert secret not in shown
        assert secret not in scrubbed
        assert secret not in nested
    assert "broker.example" in shown  # what is not secret stays readable
    assert "***" in scrubbed
