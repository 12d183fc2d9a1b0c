"""Provisioning an obec: its broker user, permissions, queues and agent config.

Every agent gets its own broker user (`obec-<ičo>`) that may publish only
routing keys of its own IČO to `spisync.ingest` (a topic permission), read only
its own inbox, and declare nothing. The hub keeps a small record per obec under
`<data_dir>/obce/` and picks up new ones while it runs.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

import msgspec
import structlog

from protocol import names, validate_ico
from spisync.broker import ManagementClient, declare_core, declare_obec, open_connection
from spisync.errors import SpisyncError

if TYPE_CHECKING:
    from pathlib import Path

    from hub.config import HubConfig

__all__ = [
    "ObecRecord",
    "ProvisionError",
    "ProvisionResult",
    "load_obce",
    "provision_agent",
    "revoke_agent",
]

log = structlog.get_logger(__name__)


class ProvisionError(SpisyncError):
    """Provisioning cannot go on; the message says why and what to do."""


class ObecRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the hub knows of a provisioned obec (`<data_dir>/obce/<ičo>.json`)."""

    ico: str
    name: str
    provisioned_at: datetime
    revoked: bool = False


@dataclass(frozen=True)
class ProvisionResult:
    """What `provision_agent` did."""

    ico: str
    username: str
    created_user: bool
    rotated_password: bool
    config_path: Path


def _obce_dir(config: HubConfig) -> Path:
    return config.hub.data_path / "obce"


def _write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def load_obce(config: HubConfig) -> dict[str, ObecRecord]:
    """Return every provisioned obec by IČO (revoked ones included)."""
    records: dict[str, ObecRecord] = {}
    folder = _obce_dir(config)
    if not folder.is_dir():
        return records
    for path in sorted(folder.glob("*.json")):
        try:
            record = msgspec.json.decode(path.read_bytes(), type=ObecRecord)
        except (OSError, msgspec.DecodeError) as exc:
            log.error("obec_record_unreadable", path=str(path), error=str(exc))
            continue
        records[record.ico] = record
    return records


def _agent_url(config: HubConfig, username: str, password: str) -> str:
    base = config.hub.agent_broker_url or config.broker.url
    parts = urlsplit(base)
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))


def _existing_password(out: Path, ico: str) -> str | None:
    """Return the password in an existing agent config for the same IČO, if any."""
    try:
        data = tomllib.loads(out.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if data.get("agent", {}).get("ico") != ico:
        return None
    url = data.get("broker", {}).get("url", "")
    password = urlsplit(url).password
    return None if password is None else password


def _agent_toml(ico: str, name: str, url: str) -> str:
    escaped_name = name.replace("\\", "\\\\").replace('"', '\\"')
    return f"""# spisync agent of {escaped_name} (IČO {ico}).
# Written by `spisync hub provision-agent`.
# Keep this file readable only by the service's user: it holds the broker password.

[agent]
ico = "{ico}"
name = "{escaped_name}"
state_dir = "/var/lib/spisync-agent"

[broker]
url = "{url}"
# ca_file = "/etc/spisync/ca.pem"      # for amqps:// with a private CA

# One [[folders]] per watched folder; with more than one, give each a name.
# [[folders]]
# path = "/srv/spisovna"

# [registry]
# kind = "sqlite"
# path = "/srv/essl/registry.sqlite"
"""


async def provision_agent(
    config: HubConfig,
    *,
    ico: str,
    name: str,
    out: Path,
    rotate_password: bool = False,
) -> ProvisionResult:
    """Create or refresh obec `ico`'s broker user, permissions, queues and agent config.

    Running it again changes no password unless `rotate_password`; it needs the
    previous agent config at `out` to know the password (the hub stores none).

    Raises:
        InvalidIcoError: If `ico` is not a valid IČO.
        ProvisionError: If the user exists but its password is unknown here.
        BrokerSetupError: If the broker refuses a step.
    """
    validate_ico(ico)
    if not name.strip():
        raise ProvisionError("--name must not be empty")
    broker = config.broker
    api = ManagementClient(broker.api_url, broker.username, broker.password)
    username = names.agent_username(ico)
    existing = await api.get_user(username)
    password = None if rotate_password else _existing_password(out, ico)
    if existing is not None and password is None and not rotate_password:
        raise ProvisionError(
            f"broker user {username!r} already exists and {out} does not hold its password; "
            "pass --rotate-password to issue a new one (the running agent then needs the new file)"
        )
    rotated = password is None
    if password is None:
        password = secrets.token_urlsafe(24)
    if rotated or existing is None:
        await api.put_user(username, password)
    vhost = broker.vhost
    await api.set_permissions(
        vhost,
        username,
        configure="^$",
        write=f"^{names.INGEST_EXCHANGE.replace('.', '[.]')}$",
        read=f"^{names.agent_queue(ico).replace('.', '[.]')}$",
    )
    await api.set_topic_permissions(
        vhost,
        username,
        exchange=names.INGEST_EXCHANGE,
        write=names.ingest_topic_pattern(ico),
        read="^$",
    )
    connection = await open_connection(broker, name=f"spisync-provision {ico}")
    async with connection:
        channel = await connection.channel()
        await declare_core(channel)
        await declare_obec(channel, ico)
    record = ObecRecord(ico=ico, name=name, provisioned_at=datetime.now(UTC))
    _write_atomically(_obce_dir(config) / f"{ico}.json", msgspec.json.encode(record), mode=0o644)
    if rotated or not out.exists():
        _write_atomically(
            out, _agent_toml(ico, name, _agent_url(config, username, password)).encode()
        )
    log.info("agent_provisioned", ico=ico, user=username, created=existing is None, rotated=rotated)
    return ProvisionResult(
        ico=ico,
        username=username,
        created_user=existing is None,
        rotated_password=rotated and existing is not None,
        config_path=out,
    )


async def revoke_agent(config: HubConfig, *, ico: str) -> int:
    """Delete obec `ico`'s broker user and close its connections; return how many.

    Its queues stay, so the hub still drains what the agent had sent.
    """
    validate_ico(ico)
    broker = config.broker
    api = ManagementClient(broker.api_url, broker.username, broker.password)
    username = names.agent_username(ico)
    await api.delete_user(username)
    # RabbitMQ closes a deleted user's connections itself; close any it has not yet.
    closed = await api.close_connections_of(username, reason="spisync: agent revoked")
    records = load_obce(config)
    if ico in records:
        revoked = msgspec.structs.replace(records[ico], revoked=True)
        path = _obce_dir(config) / f"{ico}.json"
        _write_atomically(path, msgspec.json.encode(revoked), mode=0o644)
    log.warning("agent_revoked", ico=ico, user=username, connections_closed=closed)
    return closed
