"""Fixtures of the agent's tests: a provisioned obec, a running agent, a hub-side reader.

The reader stands in for the hub: it consumes `hub.obec.<ičo>` as the broker's
administrator, checks every message's identity and envelope, verifies every
chunk's hash, and reassembles files from chunks and manifests byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import subprocess
import sys
import time
import tomllib
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
import msgspec
import pytest

from agent.config import FolderConfig, load_agent_config
from agent.hasher import digest_file
from agent.kept_content import KeptContent
from agent.problems import Problems
from agent.publisher import Publisher
from agent.records import VersionRecord
from agent.scanner import Folder, IgnoreRules
from agent.service import run
from agent.state import State
from hub.config import HubConfig, HubSection
from hub.provision import provision_agent
from hub.queue_names import queue_names
from protocol import (
    BUNDLE_CONTENT_TYPE,
    FileReceipt,
    FileVersion,
    Heartbeat,
    Tombstone,
    decode,
    decode_bundle,
    decode_chunk_meta,
    encode,
    kind_of,
    names,
    new_message_id,
    utc_now,
)
from spisync.backoff import Backoff
from spisync.broker import ReconnectPolicy, open_connection
from spisync.config import BrokerConfig

WAIT_S = 30.0
# Agents in tests retry the broker at least every second.
QUICK_RECONNECT = ReconnectPolicy(backoff=Backoff(base_s=0.2, cap_s=1.0))


async def eventually(predicate, timeout: float = WAIT_S, interval: float = 0.05) -> None:
    """Wait until `predicate()` is true; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        await asyncio.sleep(interval)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    """Write a small TOML document (tables, arrays of tables, scalars, lists)."""
    lines: list[str] = []
    for section, body in data.items():
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            lines.extend(f"{k} = {toml_value(v)}" for k, v in table.items() if v is not None)
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _content(message: aio_pika.abc.AbstractIncomingMessage) -> bytes:
    """The body as sent uncompressed (zlib's own inflate, not the hub's)."""
    if message.content_encoding == "deflate":
        return zlib.decompress(message.body)
    return bytes(message.body)


def _rebuilt(base: bytes, delta_body: bytes) -> bytes:
    """A chunk rebuilt from its base and a delta as `protocol.delta` describes it (not its code).

    A delta is a msgpack list of 4 KiB block numbers of the base and literal bytes.
    """
    parts = []
    for item in msgspec.msgpack.decode(delta_body):
        parts.append(item if isinstance(item, bytes) else base[item * 4096 : (item + 1) * 4096])
    return b"".join(parts)


@dataclass
class HubReader:
    """Consumes `hub.obec.<ičo>.<token>` and keeps what arrived, checked and decoded."""

    url: str
    ico: str
    queue: str
    chunks: dict[str, bytes] = field(default_factory=dict)
    chunk_deliveries: list[tuple[str, int]] = field(default_factory=list)
    """`(object's hash, index)` of each chunk; a chunk sent while its file was hashed
    names its transfer until the manifest with that message id arrives."""
    sent_while_hashed: list[tuple[str, int]] = field(default_factory=list)
    """`(transfer, index)` of the chunks that named no object's hash."""
    deflated: list[str] = field(default_factory=list)  # kinds of the messages sent deflated
    messages: list[Any] = field(default_factory=list)
    arrivals: list[tuple[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    bundles: list[int] = field(default_factory=list)
    """The number of files in each bundle that arrived."""
    deltas: list[tuple[str, int]] = field(default_factory=list)
    """`(chunk's hash, bytes on the wire)` of each chunk that came as a delta."""
    connection: Any = None

    async def start(self) -> None:
        self.connection = await open_connection(self.url, name="spisync tests")
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=200)
        queue = await channel.get_queue(self.queue, ensure=False)
        await queue.consume(self._on_message)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        kind = (message.headers or {}).get(names.HEADER_KIND)
        if isinstance(kind, bytes):
            kind = kind.decode()
        problems = []
        if message.user_id != names.agent_username(
            self.ico, prefix=names.default_user_prefix(TEST_ORP)
        ):
            problems.append(f"user_id {message.user_id!r}")
        if message.routing_key != names.ingest_routing_key(self.ico, str(kind)):
            problems.append(f"routing key {message.routing_key!r} for kind {kind!r}")
        if message.delivery_mode != aio_pika.DeliveryMode.PERSISTENT:
            problems.append("not persistent")
        if message.type != kind or not message.message_id or message.timestamp is None:
            problems.append("envelope properties missing")
        if message.content_encoding not in (None, "", "deflate"):
            problems.append(f"content encoding {message.content_encoding!r}")
        if message.content_encoding == "deflate":
            self.deflated.append(str(kind))
        if kind == "chunk":
            meta = decode_chunk_meta(message.headers or {})
            body = _content(message)
            if meta.base:
                self.deltas.append((meta.sha256, len(message.body)))
                body = _rebuilt(self.chunks.get(meta.base, b""), body)
            if hashlib.sha256(body).hexdigest() != meta.sha256:
                problems.append(f"chunk {meta.index} of {meta.object_sha256} has a wrong hash")
            else:
                self.chunks[meta.sha256] = body
            self.chunk_deliveries.append((meta.object_sha256 or meta.transfer, meta.index))
            if not meta.object_sha256:
                self.sent_while_hashed.append((meta.transfer, meta.index))
            self.arrivals.append(("chunk", meta.sha256))
            if message.content_type != "application/octet-stream":
                problems.append("chunk content type")
        elif kind == "file_bundle":
            problems += self._on_bundle(message)
        else:
            decoded = decode(message.body)
            if decoded.sender != self.ico or message.content_type != "application/json":
                problems.append(f"sender {decoded.sender!r} / content type")
            self.messages.append(decoded)
            self.arrivals.append((str(kind), getattr(decoded, "path", "")))
            if isinstance(decoded, FileVersion):
                self._named_by_transfer(decoded)
        self.violations.extend(problems)
        await message.ack()

    def _named_by_transfer(self, manifest: FileVersion) -> None:
        """Put the manifest's hash on the chunks that named only its message id."""
        self.chunk_deliveries = [
            (manifest.sha256 if key == manifest.message_id else key, index)
            for key, index in self.chunk_deliveries
        ]

    def _on_bundle(self, message: aio_pika.abc.AbstractIncomingMessage) -> list[str]:
        """Take a bundle's files as if each came as its one chunk and then its manifest."""
        problems = []
        bundle = decode_bundle(_content(message))
        if bundle.sender != self.ico or message.content_type != BUNDLE_CONTENT_TYPE:
            problems.append(f"bundle sender {bundle.sender!r} / content type")
        self.bundles.append(len(bundle.files))
        for entry in bundle.files:
            manifest = entry.manifest
            if hashlib.sha256(entry.content).hexdigest() != manifest.sha256:
                problems.append(f"bundled {manifest.path} has a wrong hash")
            elif entry.content:
                self.chunks[manifest.sha256] = entry.content
                self.chunk_deliveries.append((manifest.sha256, 0))
                self.arrivals.append(("chunk", manifest.sha256))
            self.messages.append(manifest)
            self.arrivals.append(("file_version", manifest.path))
        return problems

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    @property
    def manifests(self) -> list[FileVersion]:
        return self.of(FileVersion)

    @property
    def heartbeats(self) -> list[Heartbeat]:
        return self.of(Heartbeat)

    def reassemble(self, manifest: FileVersion) -> bytes | None:
        """Return a manifest's content if every chunk arrived (and the whole hash matches)."""
        parts = []
        for chunk_sha in manifest.chunk_sha256:
            if chunk_sha not in self.chunks:
                return None
            parts.append(self.chunks[chunk_sha])
        data = b"".join(parts)
        if hashlib.sha256(data).hexdigest() != manifest.sha256 or len(data) != manifest.size:
            self.violations.append(f"manifest of {manifest.path} does not match its chunks")
            return None
        return data

    def current(self) -> dict[str, bytes | None]:
        """The hub's view: path -> content of the newest version (None if incomplete)."""
        latest: dict[str, FileVersion | Tombstone] = {}
        for message in self.messages:
            if isinstance(message, (FileVersion, Tombstone)):
                held = latest.get(message.path)
                if held is None or held.source_seq <= message.source_seq:
                    latest[message.path] = message
        return {
            path: self.reassemble(m) for path, m in latest.items() if isinstance(m, FileVersion)
        }

    def matches(self, expected: dict[str, bytes]) -> bool:
        return self.current() == expected

    def scanned(self) -> bool:
        return any(h.last_scan_at is not None for h in self.heartbeats)


def disk_files(folder: Path, prefix: str = "") -> dict[str, bytes]:
    """What the hub should hold for `folder`: every regular file by NFC relative path."""
    result = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            relative = path.relative_to(folder).as_posix()
            result[unicodedata.normalize("NFC", prefix + relative)] = path.read_bytes()
    return result


class RunningAgent:
    """An agent service running in this event loop."""

    def __init__(self, config_path: Path) -> None:
        self.config = load_agent_config(config_path)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run(self.config, self.stop, reconnect=QUICK_RECONNECT))

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=15)


@dataclass
class AgentEnv:
    """A provisioned obec on the test's vhost, with a folder and a state folder."""

    ico: str
    agent_url: str
    inbox: str
    hub_queue: str
    admin_url: str
    base: Path
    folder: Path
    state_dir: Path
    running: list[RunningAgent] = field(default_factory=list)
    readers: list[HubReader] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    eventually = staticmethod(eventually)
    disk_files = staticmethod(disk_files)

    def write_config(
        self,
        *,
        folders: list[dict[str, Any]] | None = None,
        registry: dict[str, Any] | None = None,
        ignore: list[str] | None = None,
        **agent: Any,
    ) -> Path:
        section = {
            "ico": self.ico,
            "name": "Obec Testovací",
            "state_dir": str(self.state_dir),
            "inbox": self.inbox,
            "chunk_size": 1024,
            "quiet_window_s": 0.2,
            "heartbeat_interval_s": 0.3,
            "publish_window": 8,
        }
        section.update(agent)
        data: dict[str, Any] = {"agent": section, "broker": {"url": self.agent_url}}
        data["folders"] = folders if folders is not None else [{"path": str(self.folder)}]
        if registry is not None:
            data["registry"] = {"poll_interval_s": 0.1, **registry}
        if ignore is not None:
            data["ignore"] = {"patterns": ignore}
        return write_toml(self.base / "AGENT.toml", data)

    async def start(self, config_path: Path | None = None) -> RunningAgent:
        agent = RunningAgent(config_path or self.write_config())
        self.running.append(agent)
        return agent

    async def reader(self) -> HubReader:
        reader = HubReader(self.admin_url, self.ico, self.hub_queue)
        await reader.start()
        self.readers.append(reader)
        return reader

    async def publish_to_agent(self, message: Any) -> None:
        """Publish a hub -> agent message (receipt, repair request) as the hub would."""
        connection = await open_connection(self.admin_url, name="spisync tests")
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(names.AGENT_EXCHANGE, ensure=False)
            kind = kind_of(message)
            await exchange.publish(
                aio_pika.Message(
                    encode(message),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers={names.HEADER_KIND: kind, names.HEADER_SCHEMA_VERSION: 1},
                    type=kind,
                ),
                names.agent_routing_key(self.ico, kind),
            )

    def spawn(self, config_path: Path) -> subprocess.Popen[bytes]:
        """Run `spisync agent run` as a separate process (for kill -9 and signals)."""
        log = (self.base / "agent-process.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "spisync.cli", "agent", "run", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        log.close()
        self.processes.append(process)
        return process

    async def confirm(self, manifest: FileVersion) -> None:
        """Send the hub's receipt of `manifest` and wait until the agent recorded it."""
        await self.publish_to_agent(
            FileReceipt(
                message_id=new_message_id(), sender="hub:test", sent_at=utc_now(),
                path=manifest.path, sha256=manifest.sha256, source_seq=manifest.source_seq,
            )
        )  # fmt: skip
        await eventually(lambda: manifest.sha256 in self.held())

    def held(self) -> set[str]:
        with sqlite3.connect(f"file:{self.state_dir / 'state.sqlite'}?mode=ro", uri=True) as db:
            return {row[0] for row in db.execute("SELECT sha256 FROM held")}

    async def record_versions(self, state: State, names_: list[str], chunk_size: int) -> None:
        """Record the folder's files `names_` as versions queued to send (as the watcher does)."""
        versions = []
        for name in names_:
            digest = digest_file(str(self.folder.resolve()), str(self.folder / name), chunk_size)
            record = VersionRecord(
                path=name,
                folder=str(self.folder),
                disk_path=name,
                size=digest.size,
                mtime_ns=digest.mtime_ns,
                inode=digest.inode,
                sha256=digest.sha256,
                chunk_size=chunk_size,
                chunk_sha256=digest.chunk_sha256,
            )
            versions.append((record, new_message_id()))
        await state.record_changes(versions, [])

    def publisher(
        self,
        state: State,
        *,
        kept: KeptContent | None = None,
        on_file_changed: Any = None,
    ) -> Publisher:
        """The agent's publisher of `state`'s outbox, alone (no watcher, no inbox)."""
        return Publisher(
            ico=self.ico,
            username=unquote(urlsplit(self.agent_url).username or ""),
            state=state,
            problems=Problems(),
            folders={
                str(self.folder): Folder(FolderConfig(path=str(self.folder)), "", IgnoreRules(()))
            },
            window=8,
            bandwidth_limit=None,
            kept=kept or KeptContent(),
            compress=True,
            on_file_changed=on_file_changed or (lambda key, disk_path: None),
        )

    def outbox_depth(self) -> int:
        path = self.state_dir / "state.sqlite"
        if not path.exists():
            return -1
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        except sqlite3.OperationalError:
            return -1  # the agent is still creating its schema


TEST_ORP = "test"
"""The ORP the agent tests provision under (its user prefix names the agents' broker users)."""


async def provision(base: Path, ico: str, broker: BrokerConfig) -> tuple[str, str, str]:
    """Provision obec `ico` on `broker`; return the agent's AMQP URL, inbox and hub queue."""
    hub = HubConfig(hub=HubSection(orp=TEST_ORP, data_dir=str(base / "hub")), broker=broker)
    out = base / "provisioned.toml"
    await provision_agent(hub, ico=ico, name="Obec Testovací", out=out)
    provisioned = tomllib.loads(out.read_text())
    hub_queue = queue_names(hub).hub_queue(ico)
    return provisioned["broker"]["url"], provisioned["agent"]["inbox"], hub_queue


async def make_env(base: Path, ico: str, broker: BrokerConfig):
    """Provision obec `ico` on `broker` and lay out its folders under `base`."""
    agent_url, inbox, hub_queue = await provision(base, ico, broker)
    folder = base / "spisovna"
    folder.mkdir()
    env = AgentEnv(
        ico=ico,
        agent_url=agent_url,
        inbox=inbox,
        hub_queue=hub_queue,
        admin_url=broker.url,
        base=base,
        folder=folder,
        state_dir=base / "state",
    )
    try:
        yield env
    finally:
        for agent in env.running:
            if not agent.task.done():
                await agent.shutdown()
        for reader in env.readers:
            await reader.close()
        for process in env.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@pytest.fixture
async def agent_env(shared_broker, vhost, ico, tmp_path):
    """An obec provisioned on the test's vhost; agents and readers are stopped afterwards."""
    broker = BrokerConfig(url=shared_broker.url(vhost), management_url=shared_broker.management_url)
    async for env in make_env(tmp_path, ico, broker):
        yield env


@pytest.fixture
async def private_env(private_node, ico, tmp_path):
    """An obec provisioned on a private broker node the test may stop and restart."""
    async for env in make_env(tmp_path, ico, private_node.broker_config()):
        yield env
