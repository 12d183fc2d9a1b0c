"""Helpers of the hub's tests: simulated agents, hub configs, subprocess hubs, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aio_pika
import msgspec
import pytest
from aiobotocore.session import get_session

from hub.config import HubConfig, HubSection, StorageConfig
from hub.metrics import HubMetrics
from hub.store import SqliteMetadataStore
from protocol import (
    ChunkMeta,
    DokumentSnapshot,
    FileVersion,
    KomponentaSnapshot,
    SpisSnapshot,
    chunk_headers,
    decode,
    encode,
    kind_of,
    names,
    new_message_id,
)
from spisync.broker import open_connection

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.harness.broker import SharedBroker

REPO = Path(__file__).resolve().parents[2]


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float = 30, what: str = "condition"
) -> None:
    """Poll `predicate` until it is true, failing the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def make_hub_config(
    shared_broker: SharedBroker,
    vhost: str,
    data_dir: Path,
    *,
    storage: StorageConfig | None = None,
    **hub: Any,
) -> HubConfig:
    """A hub config on the test vhost, with quick obce polling."""
    section = {"orp": "testorp", "data_dir": str(data_dir), "obce_poll_s": 0.2} | hub
    return HubConfig(
        hub=msgspec.convert(section, HubSection),
        broker=shared_broker.broker_config(vhost),
        storage=storage or StorageConfig(),
    )


def write_hub_toml(config: HubConfig, path: Path) -> Path:
    """Write `config` as a HUB.toml (for subprocess hubs and the CLI)."""
    hub = msgspec.to_builtins(config.hub)
    lines = ["[hub]"]
    lines += [f"{k} = {_toml(v)}" for k, v in hub.items() if v is not None]
    lines += ["", "[broker]", f"url = {_toml(config.broker.url)}"]
    if config.broker.management_url:
        lines.append(f"management_url = {_toml(config.broker.management_url)}")
    storage = msgspec.to_builtins(config.storage)
    lines += ["", "[storage]"] + [f"{k} = {_toml(v)}" for k, v in storage.items() if v is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Agent:
    """A simulated agent: publishes as the obec's own broker user, reads its inbox."""

    ico: str
    url: str
    connection: aio_pika.abc.AbstractConnection | None = None
    channel: aio_pika.abc.AbstractChannel | None = None
    seq: int = 0
    received: list[Any] = field(default_factory=list)

    async def connect(self) -> None:
        await self.close()
        self.connection = await open_connection(
            self.url, name="spisync tests", handshake_timeout_s=15
        )
        self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    @property
    def username(self) -> str:
        return names.agent_username(self.ico)

    def envelope(self, **overrides: Any) -> dict[str, Any]:
        return {
            "message_id": new_message_id(),
            "sender": self.ico,
            "sent_at": datetime.now(UTC),
        } | overrides

    async def publish_raw(
        self,
        body: bytes,
        *,
        kind: str,
        routing_key: str | None = None,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
        user_id: str | None = "default",
        content_type: str = "application/json",
    ) -> None:
        assert self.channel is not None
        exchange = await self.channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
        message = aio_pika.Message(
            body,
            headers=headers
            if headers is not None
            else {names.HEADER_KIND: kind, names.HEADER_SCHEMA_VERSION: 1},
            content_type=content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id or new_message_id(),
            type=kind,
            timestamp=datetime.now(UTC),
            user_id=self.username if user_id == "default" else user_id,
        )
        await exchange.publish(
            message,
            routing_key=routing_key or names.ingest_routing_key(self.ico, kind),
            mandatory=True,
        )

    async def send(self, msg: Any, **kwargs: Any) -> None:
        """Publish a metadata message exactly as the contract says."""
        kind = kind_of(msg)
        await self.publish_raw(encode(msg), kind=kind, message_id=msg.message_id, **kwargs)

    async def send_chunk(
        self, data: bytes, *, object_sha256: str, index: int, sha256: str | None = None
    ) -> None:
        meta = ChunkMeta(
            **self.envelope(),
            object_sha256=object_sha256,
            index=index,
            sha256=sha256 or hashlib.sha256(data).hexdigest(),
        )
        await self.publish_raw(
            data,
            kind="chunk",
            headers=chunk_headers(meta),
            message_id=meta.message_id,
            content_type="application/octet-stream",
        )

    def manifest(
        self, path: str, data: bytes, *, chunk_size: int = 4, source_seq: int | None = None
    ) -> tuple[FileVersion, list[bytes]]:
        chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
        if source_seq is None:
            self.seq += 1
            source_seq = self.seq
        manifest = FileVersion(
            **self.envelope(),
            path=path,
            size=len(data),
            mtime_ns=time.time_ns(),
            sha256=hashlib.sha256(data).hexdigest(),
            chunk_size=chunk_size,
            chunk_sha256=tuple(hashlib.sha256(c).hexdigest() for c in chunks),
            source_seq=source_seq,
        )
        return manifest, chunks

    async def send_file(
        self,
        path: str,
        data: bytes,
        *,
        chunk_size: int = 4,
        source_seq: int | None = None,
        skip: frozenset[int] = frozenset(),
    ) -> FileVersion:
        """Send the chunks (except `skip`) and then the manifest of one file version."""
        manifest, chunks = self.manifest(path, data, chunk_size=chunk_size, source_seq=source_seq)
        for index, chunk in enumerate(chunks):
            if index not in skip:
                await self.send_chunk(chunk, object_sha256=manifest.sha256, index=index)
        await self.send(manifest)
        return manifest

    async def drain_inbox(self) -> list[Any]:
        """Move every message waiting in the inbox to `received`; return the new ones."""
        assert self.channel is not None
        queue = await self.channel.get_queue(names.agent_queue(self.ico), ensure=False)
        new = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            new.append(decode(message.body))
        self.received += new
        return new

    async def wait_for_reply(
        self, predicate: Callable[[Any], bool], *, what: str = "reply", timeout: float = 30
    ) -> Any:
        found: list[Any] = []

        async def check() -> bool:
            await self.drain_inbox()
            found[:] = [m for m in self.received if predicate(m)]
            return bool(found)

        await wait_for(check, what=what, timeout=timeout)
        return found[0]


@dataclass
class RunningHub:
    config: HubConfig
    metrics: HubMetrics
    shutdown: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.shutdown.set()
        await self.task

    async def store(self) -> SqliteMetadataStore:
        return await SqliteMetadataStore.open(self.config.hub.data_path, instance="test")


async def has_session(hub: RunningHub) -> bool:
    if hub.task.done():
        hub.task.result()
    return hub.metrics.sessions > 0


async def dead_letters(
    shared_broker: SharedBroker, vhost: str
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message from `spisync.dead` in `vhost`."""
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(names.DEAD_LETTER_QUEUE, ensure=False)
        found = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(message)
        return found


@dataclass
class HubProcess:
    """`spisync hub run` in a subprocess, its JSON log lines collected."""

    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, config_path: Path, log_path: Path) -> HubProcess:
        log = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "spisync.cli", "hub", "run", "--config", str(config_path)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        log.close()
        return cls(config_path=config_path, log_path=log_path, process=process)

    def events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                events.append(msgspec.json.decode(line))
        return events

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def registry_records(
    agent: Agent, *, spis_id: str, soubory: list[str], version: int = 1, stav: str = "otevreny"
) -> list[Any]:
    """A spis with one dokument and one komponenta per file path, as snapshots."""
    records: list[Any] = [
        SpisSnapshot(
            **agent.envelope(),
            spis_id=spis_id,
            source_version=version,
            spisova_znacka=f"OÚ/{spis_id}/2024",
            nazev=f"Žádost {spis_id}",
            spisovy_znak="1.2",
            skartacni_znak="A",
            skartacni_lhuta=10,
            datum_otevreni=date(2024, 3, 1),
            stav=stav,
            zpracovatel="Jana Nováková",
        ),
        DokumentSnapshot(
            **agent.envelope(),
            dokument_id=f"{spis_id}-d1",
            source_version=version,
            spis_id=spis_id,
            cislo_jednaci=f"OÚ/{spis_id}/1",
            nazev="Podání",
            puvod="doruceny",
            datum=date(2024, 3, 1),
            odesilatel_autor="Petr Dvořák",
            poradi=1,
        ),
    ]
    records += [
        KomponentaSnapshot(
            **agent.envelope(),
            komponenta_id=f"{spis_id}-k{i}",
            source_version=version,
            dokument_id=f"{spis_id}-d1",
            poradi=i,
            verze=1,
            druh="příloha" if i > 1 else "hlavní dokument",
            forma_uchovani="originál",
            soubor=soubor,
        )
        for i, soubor in enumerate(soubory, start=1)
    ]
    return records


async def new_bucket(endpoint: str) -> StorageConfig:
    """Create a fresh bucket on the S3 server at `endpoint`; return it as `[storage]`."""
    bucket = f"spisync-{uuid.uuid4().hex[:12]}"
    config = StorageConfig(
        kind="s3",
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        prefix="orp/",
        multipart_threshold=6 * 1024 * 1024,
        multipart_part_size=5 * 1024 * 1024,
    )
    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        await client.create_bucket(Bucket=bucket)
    return config
