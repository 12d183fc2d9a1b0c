"""A hub's config for tests and benchmarks, and a simulated agent that speaks the protocol."""

from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import aio_pika
import msgspec

from hub.config import HubConfig, HubSection, StorageConfig
from protocol import (
    BUNDLE_CONTENT_TYPE,
    BundledFile,
    ChunkMeta,
    FileBundle,
    FileVersion,
    chunk_headers,
    decode,
    encode,
    encode_bundle,
    kind_of,
    names,
    new_message_id,
)
from spisync.broker import open_connection
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from testkit.broker import SharedBroker

__all__ = ["Agent", "make_hub_config", "write_hub_toml"]


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
    lines += ["", "[closing]", f"missing_metadata = {_toml(config.closing.missing_metadata)}"]
    if config.console is not None:
        console = msgspec.to_builtins(config.console)
        lines += ["", "[console]"]
        lines += [f"{k} = {_toml(v)}" for k, v in console.items() if v is not None]
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
    inbox: str
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
        """The broker user the agent logs in as (from its provisioned URL)."""
        return unquote(urlsplit(self.url).username or "")

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
        content_encoding: str | None = None,
    ) -> None:
        assert self.channel is not None
        exchange = await self.channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
        message = aio_pika.Message(
            body,
            headers=headers
            if headers is not None
            else {names.HEADER_KIND: kind, names.HEADER_SCHEMA_VERSION: 1},
            content_type=content_type,
            content_encoding=content_encoding,
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
        self,
        data: bytes,
        *,
        object_sha256: str,
        index: int,
        sha256: str | None = None,
        deflate: bool = False,
        transfer: str = "",
        delta: bytes | None = None,
        base: str = "",
    ) -> None:
        """Publish one chunk; `deflate` sends it compressed (zlib's own, as an agent may).

        `transfer` names the manifest's message id (`object_sha256` may then be
        empty, as for a chunk an agent sends while still hashing its file).
        `delta`: the body sent instead of `data`, a delta against chunk `base`.
        """
        meta = ChunkMeta(
            **self.envelope(),
            object_sha256=object_sha256,
            index=index,
            sha256=sha256 or hashlib.sha256(data).hexdigest(),
            transfer=transfer,
            base=base,
        )
        body = data if delta is None else delta
        await self.publish_raw(
            zlib.compress(body) if deflate else body,
            kind="chunk",
            headers=chunk_headers(meta),
            message_id=meta.message_id,
            content_type="application/octet-stream",
            content_encoding="deflate" if deflate else None,
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
        deflate: bool = False,
        by_transfer: bool = False,
    ) -> FileVersion:
        """Send the chunks (except `skip`) and then the manifest of one file version.

        `by_transfer`: the chunks name the manifest's message id and not the
        whole file's hash, as an agent sends a large file while hashing it.
        """
        manifest, chunks = self.manifest(path, data, chunk_size=chunk_size, source_seq=source_seq)
        for index, chunk in enumerate(chunks):
            if index not in skip:
                await self.send_chunk(
                    chunk,
                    object_sha256="" if by_transfer else manifest.sha256,
                    index=index,
                    deflate=deflate,
                    transfer=manifest.message_id if by_transfer else "",
                )
        await self.send(manifest)
        return manifest

    def bundle(self, files: dict[str, bytes]) -> FileBundle:
        """A bundle of small files `{path: content}`, each a new version, as an agent sends it."""
        entries = []
        for path, data in files.items():
            manifest, _ = self.manifest(path, data, chunk_size=names.DEFAULT_CHUNK_SIZE)
            entries.append(BundledFile(manifest=manifest, content=data))
        return FileBundle(**self.envelope(), files=tuple(entries))

    async def send_bundle(
        self, bundle: FileBundle, *, receipt_batches: bool = True, deflate: bool = False
    ) -> None:
        """Publish a bundle; `receipt_batches` announces that `FileReceipts` are understood."""
        headers: dict[str, Any] = {names.HEADER_KIND: "file_bundle", names.HEADER_SCHEMA_VERSION: 1}
        if receipt_batches:
            headers[names.HEADER_RECEIPT_BATCHES] = 1
        body = encode_bundle(bundle)
        await self.publish_raw(
            zlib.compress(body) if deflate else body,
            kind="file_bundle",
            headers=headers,
            message_id=bundle.message_id,
            content_type=BUNDLE_CONTENT_TYPE,
            content_encoding="deflate" if deflate else None,
        )

    async def drain_inbox(self) -> list[Any]:
        """Move every message waiting in the inbox to `received`; return the new ones."""
        assert self.channel is not None
        queue = await self.channel.get_queue(self.inbox, ensure=False)
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
