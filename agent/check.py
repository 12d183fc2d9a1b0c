"""`spisync agent check`: is this agent set up right? Plain words and fixes.

Checks the configuration, read access to every folder and to the registry
(and that the registry has the contract's tables), that the state folder is
writable, and that the broker accepts the login, lets the agent publish to
its own routing keys and read its own inbox. The publish test sends one
heartbeat marked `probe`: the hub notes that a check ran but keeps the running
agent's last real heartbeat, so the ORP's overview is not overwritten with zeros.
Nothing is changed anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import aio_pika
from aio_pika.exceptions import PublishError
from aiormq.exceptions import ChannelAccessRefused, ChannelNotFoundEntity

from agent.config import AgentConfig, load_agent_config
from agent.errors import RegistryError
from agent.heartbeat import agent_version
from agent.registry import RegistryReader
from agent.registry.db import open_database, parse_db_url
from agent.registry.privileges import write_privileges
from agent.registry.sources import open_source
from protocol import Heartbeat, encode, names, new_message_id, utc_now
from spisync.check import (
    Finding,
    bad,
    check_broker_login,
    check_tls_files,
    good,
)
from spisync.errors import ConfigError

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

__all__ = ["Finding", "check", "check_config"]


def _check_state_dir(config: AgentConfig) -> Finding:
    path = config.agent.state_path
    probe = path if path.exists() else path.parent
    if path.exists() and not path.is_dir():
        return bad("state folder", f"{path} is not a folder", "set [agent] state_dir to a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        return bad(
            "state folder",
            f"{probe} is not writable by this user",
            f"create {path} and give the service's user write access to it",
        )
    return good("state folder", f"{path} is writable")


def _check_folder(path: Path) -> Finding:
    what = f"folder {path}"
    if not path.exists():
        return bad(what, "does not exist", "fix [[folders]] path, or mount the share")
    if not path.is_dir():
        return bad(what, "is not a folder", "point [[folders]] path at a folder")
    try:
        entries = sum(1 for _ in os.scandir(path))
    except OSError as exc:
        return bad(
            what,
            f"cannot be read: {exc.strerror}",
            "give the service's user read access to the folder and its subfolders",
        )
    return good(what, f"readable ({entries} entries at the top)")


async def _check_registry(config: AgentConfig) -> list[Finding]:
    registry = config.registry
    if registry is None:
        return []
    if registry.kind == "sqlite":
        finding = await asyncio.to_thread(_check_sqlite_registry, config)
        return [] if finding is None else [finding]
    assert registry.url is not None  # RegistryConfig requires it for these kinds
    what = f"registry {parse_db_url(registry.url)}"
    try:
        source = open_source(config)
    except ConfigError as exc:
        return [bad(what, str(exc), "check [registry] password_file and its permissions")]
    try:
        problems = await source.contract_problems()
        database = open_database(
            parse_db_url(registry.url),
            registry.password(),
            query_timeout_s=registry.query_timeout_s,
        )
        try:
            writes = await write_privileges(database)
        finally:
            await database.close()
    except RegistryError as exc:
        return [
            bad(
                what,
                str(exc),
                "check [registry] url, the user, its password_file and that the database "
                "answers from this machine (README: Reading the registry)",
            )
        ]
    finally:
        await source.close()
    if problems:
        return [
            bad(
                what,
                "; ".join(problems),
                "grant the user SELECT on these tables, or fix the views/queries",
            )
        ]
    findings = [good(what, f"readable ({registry.kind}), everything the agent reads is there")]
    if writes:
        findings.append(
            Finding(
                ok=True,
                warning=True,
                what=what,
                detail=f"the login may also write: {', '.join(writes)}",
                fix="give the agent a login with SELECT only (README: the GRANTs)",
            )
        )
    return findings


def _check_sqlite_registry(config: AgentConfig) -> Finding | None:
    if config.registry is None:
        return None
    path = Path(config.registry.path)
    what = f"registry {path}"
    try:
        problems = RegistryReader(path).read_contract_problems()
    except RegistryError as exc:
        return bad(
            what,
            str(exc),
            "check [registry] path and give the service's user read access to the file "
            "and its folder (SQLite in WAL mode needs the -wal and -shm files readable)",
        )
    if problems:
        return bad(
            what,
            "; ".join(problems),
            "the eSSL must expose the tables of the registry contract "
            "(see packaging/registry/schema.sql)",
        )
    return good(what, "readable, read-only, with spis, dokument, komponenta and zmeny")


async def _check_broker(config: AgentConfig) -> list[Finding]:
    findings = check_tls_files(config.broker)
    login, connection = await check_broker_login(
        config.broker, name=f"spisync-agent-check {config.agent.ico}"
    )
    findings.append(login)
    if connection is None:
        return findings
    findings.append(_check_user_matches_ico(config))
    async with connection:
        findings.append(await _check_publish(connection, config))
        findings.append(await _check_inbox(connection, config))
    return findings


def _check_user_matches_ico(config: AgentConfig) -> Finding:
    """The broker user is the one the ORP provisioned for this IČO (`...obec-<ičo>`)."""
    user, ico = config.broker.username, config.agent.ico
    if user.endswith(f"obec-{ico}"):
        return good("broker user", f"{user!r} is obec {ico}'s user")
    return bad(
        "broker user",
        f"{user!r} in [broker] url is not obec {ico}'s user ([agent] ico = {ico!r})",
        "install the AGENT.toml the ORP provisioned for this obec; [agent] ico and the URL's "
        "user must belong together",
    )


async def _check_publish(connection: AbstractConnection, config: AgentConfig) -> Finding:
    ico = config.agent.ico
    what = "broker: publish"
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    exchange = await channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
    beat = Heartbeat(
        message_id=new_message_id(),
        sender=ico,
        sent_at=utc_now(),
        agent_version=agent_version(),
        uptime_s=0.0,
        outbox_depth=0,
        oldest_pending_age_s=None,
        last_scan_at=None,
        last_scan_duration_s=None,
        files_watched=0,
        free_disk_bytes=0,
        probe=True,
    )
    message = aio_pika.Message(
        encode(beat),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=beat.message_id,
        user_id=config.broker.username,
        type="heartbeat",
        timestamp=beat.sent_at,
        headers={names.HEADER_KIND: "heartbeat", names.HEADER_SCHEMA_VERSION: 1},
    )
    try:
        await exchange.publish(message, names.ingest_routing_key(ico, "heartbeat"), mandatory=True)
    except PublishError:
        return bad(
            what,
            f"nothing at the ORP receives obec {ico}'s messages",
            f"ask the ORP to provision obec {ico} (`spisync hub provision-agent`)",
        )
    except ChannelAccessRefused as exc:
        return bad(
            what,
            f"the broker does not let {config.broker.username!r} publish: {exc}",
            "the user's permissions are wrong; ask the ORP to re-run provisioning",
        )
    except ChannelNotFoundEntity:
        return bad(
            what,
            f"the exchange {names.INGEST_EXCHANGE!r} does not exist on this vhost",
            "check the vhost in [broker] url; the hub declares the exchange",
        )
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return good(what, f"a heartbeat to obec.{ico}.heartbeat was confirmed")


async def _check_inbox(connection: AbstractConnection, config: AgentConfig) -> Finding:
    queue_name = config.agent.inbox_queue
    what = "broker: inbox"
    channel = await connection.channel()
    # At most one message can reach this short-lived consumer (and it is put back).
    await channel.set_qos(prefetch_count=1)
    try:
        queue = await channel.get_queue(queue_name, ensure=False)
        tag = await queue.consume(_ignore, no_ack=False)
        await queue.cancel(tag)
    except ChannelNotFoundEntity:
        return bad(
            what,
            f"the inbox queue {queue_name!r} does not exist",
            f"ask the ORP to provision obec {config.agent.ico}",
        )
    except ChannelAccessRefused as exc:
        return bad(
            what,
            f"the broker does not let the agent read {queue_name!r}: {exc}",
            "the user's permissions are wrong; ask the ORP to re-run provisioning",
        )
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return good(what, f"{queue_name} can be read")


async def _ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    # A check must not consume anything: put back whatever arrives meanwhile.
    await message.nack(requeue=True)


async def check(config_path: Path) -> list[Finding]:
    """Check everything the agent needs; return the findings in order."""
    try:
        config = load_agent_config(config_path)
    except ConfigError as exc:
        return [bad("configuration", str(exc), exc.fix)]
    findings = [good("configuration", f"{config_path} is valid (obec {config.agent.ico})")]
    findings.extend(await check_config(config))
    return findings


async def check_config(config: AgentConfig) -> list[Finding]:
    """Check a loaded configuration's folders, registry and broker; return the findings."""
    findings = [_check_state_dir(config)]
    if not config.folders and config.registry is None:
        findings.append(
            bad(
                "what to watch",
                "no [[folders]] and no [registry]",
                "add at least one [[folders]] path or a [registry]",
            )
        )
    findings.extend(_check_folder(Path(f.path)) for f in config.folders)
    findings.extend(await _check_registry(config))
    findings.extend(await _check_broker(config))
    return findings
