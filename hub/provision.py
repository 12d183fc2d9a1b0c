"""Provisioning an obec: its broker user, permissions, queues and agent config.

Every agent gets its own broker user (`<user_prefix>obec-<ičo>`, by default
`<orp>.obec-<ičo>`, so that deployments sharing a broker never meet) that may publish only
routing keys of its own IČO to `spisync.ingest` (a topic permission), read only
its own inbox, and declare nothing. The hub keeps a small record per obec under
`<data_dir>/obce/` and picks up new ones while it runs.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import msgspec
import structlog

from hub.queue_names import queue_names
from hub.tls import AgentTlsFiles, write_agent_tls
from protocol import names, validate_ico
from spisync.broker import ManagementClient, declare_core, declare_obec, open_connection
from spisync.errors import SpisyncError
from spisync.files import write_atomically

if TYPE_CHECKING:
    from pathlib import Path

    from hub.config import HubConfig

__all__ = [
    "ObecRecord",
    "ProvisionError",
    "ProvisionResult",
    "RevokeResult",
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
    cert_not_after: datetime | None = None
    """When the obec's client certificate expires (`--tls`); `hub check` warns ahead."""


@dataclass(frozen=True)
class ProvisionResult:
    """What `provision_agent` did."""

    ico: str
    username: str
    created_user: bool
    rotated_password: bool
    config_path: Path


@dataclass(frozen=True)
class RevokeResult:
    """What `revoke_agent` did.

    Attributes:
        username: The broker user revoked.
        user_existed: Whether the broker still had that user.
        closed: The connections that were open and are now gone, as
            `name (peer host:port)`.
        still_open: Connections the broker still listed when we stopped waiting.
    """

    username: str
    user_existed: bool
    closed: tuple[str, ...]
    still_open: tuple[str, ...]


def _obce_dir(config: HubConfig) -> Path:
    return config.hub.data_path / "obce"


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


def _agent_url(config: HubConfig, username: str, password: str | None) -> str:
    """The agent's broker URL: with its password, or for a certificate login (EXTERNAL)."""
    base = config.hub.agent_broker_url or config.broker.url
    parts = urlsplit(base)
    user = quote(username, safe="")
    if password is not None:
        user += f":{quote(password, safe='')}"
    netloc = f"{user}@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = "" if password is not None else "auth=external"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def _existing_login(out: Path, ico: str) -> tuple[str, str] | None:
    """Return (user, password) of an existing agent config for the same IČO, if any."""
    try:
        data = tomllib.loads(out.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if data.get("agent", {}).get("ico") != ico:
        return None
    parts = urlsplit(data.get("broker", {}).get("url", ""))
    if parts.password is None:
        return None
    return unquote(parts.username or ""), unquote(parts.password)


async def _ensure_ours(api: ManagementClient, username: str, vhost: str) -> None:
    """Refuse to touch a user that holds permissions only on other vhosts.

    With distinct user prefixes this never happens; it guards deployments that
    share a broker and were given the same (or an empty) `user_prefix`.
    """
    vhosts = {p.get("vhost") for p in await api.user_permissions(username)}
    if vhosts and vhost not in vhosts:
        listed = ", ".join(sorted(str(v) for v in vhosts))
        raise ProvisionError(
            f"broker user {username!r} belongs to another deployment (vhost {listed}, not "
            f"{vhost!r}); set a distinct [hub] user_prefix in HUB.toml"
        )


def _agent_toml(
    ico: str,
    name: str,
    url: str,
    tls: AgentTlsFiles | None = None,
    *,
    hub_user: str,
    inbox: str,
) -> str:
    escaped_name = name.replace("\\", "\\\\").replace('"', '\\"')
    tls_lines = (
        '# ca_file = "/etc/spisync/ca.pem"      # for amqps:// with a private CA'
        if tls is None
        else "\n".join(
            f'{key} = "{value}"'
            for key, value in (
                ("ca_file", tls.ca_file),
                ("cert_file", tls.cert_file),
                ("key_file", tls.key_file),
            )
        )
    )
    secret = "the broker password" if tls is None else "where its private key is"
    return f"""# spisync agent of {escaped_name} (IČO {ico}).
# Written by `spisync hub provision-agent`.
# Keep this file readable only by the service's user: it names {secret}.

[agent]
ico = "{ico}"
name = "{escaped_name}"
# The agent's inbox queue; its name is known only to this obec and the hub.
inbox = "{inbox}"
state_dir = "/var/lib/spisync-agent"

[broker]
url = "{url}"
{tls_lines}

# One [[folders]] per watched folder; with more than one, give each a name.
# [[folders]]
# path = "/srv/spisovna"

# [registry]
# kind = "sqlite"
# path = "/srv/essl/registry.sqlite"

# The ORP's helpdesk diagnostics: only requests from hub_user run; allow lists
# the verbs this obec permits ([] turns diagnostics off). See README.md.
[diagnostics]
hub_user = "{hub_user}"
# allow = ["status", "logs", "connectivity", "check", "rescan", "resend",
#          "allow-deletions", "bundle"]
"""


async def provision_agent(
    config: HubConfig,
    *,
    ico: str,
    name: str,
    out: Path,
    rotate_password: bool = False,
    tls: bool = False,
    tls_dir: str = "/etc/spisync",
    rotate_cert: bool = False,
) -> ProvisionResult:
    """Create or refresh obec `ico`'s broker user, permissions, queues and agent config.

    Running it again changes no password unless `rotate_password`; it needs the
    previous agent config at `out` to know the password (the hub stores none).
    With `tls` the user has no password at all: the agent logs in with a client
    certificate (EXTERNAL) that the hub's CA issues next to `out`.

    Args:
        config: The hub's configuration.
        ico: The obec's IČO.
        name: The obec's name.
        out: Where to write the agent's AGENT.toml.
        rotate_password: Issue a new password even if one exists.
        tls: Client certificates instead of a password (`spisync hub ca init` first).
        tls_dir: Where the certificate files will be at the town hall.
        rotate_cert: Issue a new certificate even if the current one is good.

    Raises:
        InvalidIcoError: If `ico` is not a valid IČO.
        ProvisionError: If the user exists but its password is unknown here.
        TlsError: If `tls` and the hub has no CA.
        BrokerSetupError: If the broker refuses a step.
    """
    validate_ico(ico)
    if not name.strip():
        raise ProvisionError("--name must not be empty")
    broker = config.broker
    api = ManagementClient(broker.api_url, broker.username, broker.password)
    username = config.hub.agent_username(ico)
    inbox = queue_names(config).agent_queue(ico)
    existing = await api.get_user(username)
    if existing is not None:
        await _ensure_ours(api, username, broker.vhost)
    if tls:
        files = write_agent_tls(
            config, ico=ico, username=username, out=out, tls_dir=tls_dir, rotate=rotate_cert
        )
        await api.put_user(username, None)  # no password: only its certificate logs in
        text, rotated = (
            _agent_toml(
                ico,
                name,
                _agent_url(config, username, None),
                files,
                hub_user=config.broker.username,
                inbox=inbox,
            ),
            False,
        )
        not_after: datetime | None = files.not_after
    else:
        password, rotated = await _password_user(api, existing, username, out, ico, rotate_password)
        url = "" if password is None else _agent_url(config, username, password)
        text = url and _agent_toml(ico, name, url, hub_user=config.broker.username, inbox=inbox)
        not_after = None
    await _grant_and_declare(config, api, username, ico)
    record = ObecRecord(
        ico=ico, name=name, provisioned_at=datetime.now(UTC), cert_not_after=not_after
    )
    write_atomically(_obce_dir(config) / f"{ico}.json", msgspec.json.encode(record), mode=0o644)
    if text:
        write_atomically(out, text.encode())
    else:
        _set_inbox(out, inbox)
    log.info(
        "agent_provisioned",
        ico=ico,
        user=username,
        created=existing is None,
        rotated=rotated,
        tls=tls,
    )
    return ProvisionResult(
        ico=ico,
        username=username,
        created_user=existing is None,
        rotated_password=rotated and existing is not None,
        config_path=out,
    )


async def _password_user(  # noqa: PLR0917 - private, called once with these in order
    api: ManagementClient,
    existing: dict[str, object] | None,
    username: str,
    out: Path,
    ico: str,
    rotate: bool,
) -> tuple[str | None, bool]:
    """Set up a password user; return (its password if AGENT.toml must be written, rotated)."""
    login = _existing_login(out, ico)
    # A file written for another user name (before user names carried the deployment)
    # keeps its password: re-provisioning is then the migration step (CHANGELOG.md).
    password = None if rotate or login is None else login[1]
    if existing is not None and password is None and not rotate:
        raise ProvisionError(
            f"broker user {username!r} already exists and {out} does not hold its password; "
            "pass --rotate-password to issue a new one (the running agent then needs the new file)"
        )
    rotated = password is None
    if password is None:
        password = secrets.token_urlsafe(24)
    if rotated or existing is None:
        await api.put_user(username, password)
    if rotated or login is None or login[0] != username:
        return password, rotated
    return None, rotated


_INBOX_LINE = re.compile(r"^inbox\s*=.*$", re.MULTILINE)
_ICO_LINE = re.compile(r"^ico\s*=.*$", re.MULTILINE)


def _set_inbox(out: Path, inbox: str) -> None:
    """Put `[agent] inbox` into an AGENT.toml kept as it is (the migration to queue tokens).

    The file is the operator's (folders, registry): only the one line changes.
    """
    text = out.read_text(encoding="utf-8")
    line = f'inbox = "{inbox}"'
    if _INBOX_LINE.search(text):
        updated = _INBOX_LINE.sub(line, text, count=1)
    else:
        updated = _ICO_LINE.sub(lambda match: f"{match.group(0)}\n{line}", text, count=1)
    try:
        written = tomllib.loads(updated).get("agent", {}).get("inbox")
    except tomllib.TOMLDecodeError:
        written = None
    if written != inbox:
        raise ProvisionError(
            f"{out}: cannot set the agent's inbox; add `{line}` under [agent] by hand"
        )
    if updated != text:
        write_atomically(out, updated.encode())


async def _grant_and_declare(
    config: HubConfig, api: ManagementClient, username: str, ico: str
) -> None:
    """Give the agent's user its permissions and declare the obec's queues.

    The read permission names exactly the inbox with the obec's token; the
    guessable inbox of older versions is deleted (module `hub.queue_names`):
    what waited there is sent again (receipts are re-earned by re-sending).
    """
    broker = config.broker
    token = queue_names(config).token(ico)
    inbox = names.agent_queue(ico, token)
    await api.set_permissions(
        broker.vhost,
        username,
        configure="^$",
        write=f"^{names.INGEST_EXCHANGE.replace('.', '[.]')}$",
        read=f"^{inbox.replace('.', '[.]')}$",
    )
    await api.set_topic_permissions(
        broker.vhost,
        username,
        exchange=names.INGEST_EXCHANGE,
        write=names.ingest_topic_pattern(ico),
        read="^$",
    )
    connection = await open_connection(broker, name=f"spisync-provision {ico}")
    async with connection:
        channel = await connection.channel()
        await declare_core(channel)
        await declare_obec(channel, ico, token)
        await channel.queue_delete(names.legacy_agent_queue(ico))


async def revoke_agent(
    config: HubConfig, *, ico: str, wait_s: float = 15.0, poll_s: float = 0.2
) -> RevokeResult:
    """Delete obec `ico`'s broker user, close its connections and report those that closed.

    Its queues stay, so the hub still drains what the agent had sent. Only this
    deployment's user is touched (`[hub] user_prefix`).

    Args:
        config: The hub's configuration.
        ico: The obec.
        wait_s: How long to wait for the broker to drop the connections.
        poll_s: How often to look.

    Raises:
        InvalidIcoError: If `ico` is not a valid IČO.
        ProvisionError: If the user belongs to another deployment.
        BrokerSetupError: If the broker refuses a step.
    """
    validate_ico(ico)
    broker = config.broker
    api = ManagementClient(broker.api_url, broker.username, broker.password)
    username = config.hub.agent_username(ico)
    existing = await api.get_user(username)
    if existing is not None:
        await _ensure_ours(api, username, broker.vhost)
    reason = "spisync: agent revoked"
    opened = {c["name"]: _describe(c) for c in await api.connections_of(username)}
    await api.delete_user(username)
    # RabbitMQ closes a deleted user's connections itself; close any it has not yet,
    # then wait until the broker no longer lists them, so the report says what happened.
    for name in opened:
        await api.close_connection(name, reason=reason)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    remaining = set(opened)
    while remaining and loop.time() < deadline:
        await asyncio.sleep(poll_s)
        remaining &= {c["name"] for c in await api.connections_of(username)}
    records = load_obce(config)
    if ico in records:
        revoked = msgspec.structs.replace(records[ico], revoked=True)
        path = _obce_dir(config) / f"{ico}.json"
        write_atomically(path, msgspec.json.encode(revoked), mode=0o644)
    result = RevokeResult(
        username=username,
        user_existed=existing is not None,
        closed=tuple(sorted(opened[n] for n in opened if n not in remaining)),
        still_open=tuple(sorted(opened[n] for n in remaining)),
    )
    log.warning(
        "agent_revoked",
        ico=ico,
        user=username,
        user_existed=result.user_existed,
        connections_closed=list(result.closed),
        connections_still_open=list(result.still_open),
    )
    return result


def _describe(connection: dict[str, object]) -> str:
    peer = f"{connection.get('peer_host')}:{connection.get('peer_port')}"
    client = connection.get("client_properties")
    label = client.get("connection_name") if isinstance(client, dict) else None
    return f"{label or connection['name']} ({peer})"
