"""What the agent's messages carry around their body: AMQP properties, headers, encoding.

Every message is persistent, names its kind (AMQP `type` and the kind header)
and its broker user (`user_id`, which the broker validates), and says which
replies the agent understands. A chunk carries its metadata in headers and
keeps its message id when it is sent again. Content (a chunk's or a bundle's
body) goes deflated where that makes it clearly smaller (`protocol.deflate`),
and an edited file's chunk as a delta where the hub holds its last version
(`agent.deltas`).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aio_pika

from agent.deltas import chunk_delta
from protocol import ChunkMeta, FileVersion, chunk_headers, names
from protocol.deflate import DEFLATE, deflated
from protocol.delta import encode_delta

if TYPE_CHECKING:
    from agent.records import OutboxRow, Signature

__all__ = ["Envelopes"]


class Envelopes:
    """Builds one agent's outgoing messages.

    Args:
        ico: The obec's IČO (the sender of chunks).
        username: The broker user (sent as `user_id`).
        compress: Whether content goes deflated where that makes it smaller.
    """

    def __init__(self, *, ico: str, username: str, compress: bool) -> None:
        self._ico = ico
        self._username = username
        self._compress = compress

    def message(
        self,
        kind: str,
        body: bytes,
        message_id: str,
        created_at: float,
        *,
        content_type: str = "application/json",
        content_encoding: str | None = None,
    ) -> aio_pika.Message:
        """A message of `kind` (a manifest, a registry record, a bundle, a heartbeat)."""
        return aio_pika.Message(
            body,
            content_type=content_type,
            content_encoding=content_encoding,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            user_id=self._username,
            type=kind,
            timestamp=datetime.fromtimestamp(created_at, UTC),
            headers={
                names.HEADER_KIND: kind,
                names.HEADER_SCHEMA_VERSION: 1,
                names.HEADER_RECORD_RECEIPTS: 1,
                names.HEADER_RECEIPT_BATCHES: 1,
            },
        )

    async def encoded(self, content: bytes) -> tuple[bytes, str | None]:
        """Content as it goes on the wire, and its `content_encoding` (None: as it is)."""
        if not self._compress or not content:
            return content, None
        packed = await asyncio.to_thread(deflated, content)
        return (content, None) if packed is None else (packed, DEFLATE)

    def chunk(
        self,
        *,
        transfer: str,
        object_sha256: str,
        index: int,
        sha256: str,
        data: bytes,
        encoding: str | None,
        created_at: float,
        base: str = "",
    ) -> aio_pika.Message:
        """Chunk `index` of the transfer whose manifest's message id is `transfer`.

        `data` is as `encoded` returned it; `object_sha256` is empty while the
        file is still being hashed; `base` names the chunk `data` is a delta
        against (`protocol.delta`), if it is one.
        """
        # A resent chunk keeps its id: derived from the transfer and the index.
        message_id = hashlib.sha256(f"{transfer}:{index}".encode()).hexdigest()[:32]
        sent_at = datetime.fromtimestamp(created_at, UTC)
        meta = ChunkMeta(
            message_id=message_id,
            sender=self._ico,
            sent_at=sent_at,
            object_sha256=object_sha256,
            index=index,
            sha256=sha256,
            transfer=transfer,
            base=base,
        )
        return aio_pika.Message(
            data,
            content_type="application/octet-stream",
            content_encoding=encoding,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            user_id=self._username,
            type="chunk",
            timestamp=sent_at,
            headers=dict(chunk_headers(meta)),
        )

    def manifest(self, row: OutboxRow, source_epoch: str) -> FileVersion:
        """The manifest of a file row, built at send time from what was recorded when queued."""
        assert row.path is not None
        assert row.sha256 is not None
        assert row.chunk_size is not None
        return FileVersion(
            message_id=row.message_id,
            sender=self._ico,
            sent_at=datetime.fromtimestamp(row.created_at, UTC),
            path=row.path,
            size=row.size or 0,
            mtime_ns=row.mtime_ns or 0,
            sha256=row.sha256,
            chunk_size=row.chunk_size,
            chunk_sha256=row.chunk_sha256,
            source_seq=row.source_seq or 0,
            source_epoch=source_epoch,
        )

    async def file_chunk(
        self, row: OutboxRow, index: int, data: bytes, base: Signature | None
    ) -> aio_pika.Message:
        """Chunk `index` of a file row (`data`, verified); a delta against `base` where it pays."""
        assert row.sha256 is not None
        delta = None if base is None else chunk_delta(row, index, data, base)
        body, encoding = await self.encoded(data if delta is None else encode_delta(delta[0]))
        return self.chunk(
            transfer=row.message_id,
            object_sha256=row.sha256,
            index=index,
            sha256=row.chunk_sha256[index],
            data=body,
            encoding=encoding,
            created_at=row.created_at,
            base="" if delta is None else delta[1],
        )
