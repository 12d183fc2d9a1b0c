"""Sending one SIP to `spisync.archive`: its chunks, then its manifest, all confirmed.

The ZIP is read from disk one chunk at a time (never whole); at most `window`
chunks are awaiting the broker's confirm at once, which bounds memory to about
`window * chunk_size`. Every chunk is exactly `chunk_size` bytes but the last.
A re-send of some chunks (the archive's `SIP-INCOMPLETE`) still reads every
chunk to hash it, because the manifest lists every chunk's hash.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

import aio_pika

from hub.forwarding.notes import placeholders_of
from protocol import (
    SCHEMA_VERSION,
    ChunkMeta,
    SipManifest,
    chunk_headers,
    encode,
    kind_of,
    names,
    new_message_id,
    utc_now,
)

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

    from aio_pika.abc import AbstractExchange

    from hub.store.models import SipRow

__all__ = ["SendInterruptedError", "SipSender"]


class SendInterruptedError(Exception):
    """The send gave way to a shutdown; the SIP stays due and is sent again later."""


class SipSender:
    """Publishes SIPs of one hub on a confirming channel's `spisync.archive` exchange.

    Args:
        exchange: `spisync.archive`, on a channel with publisher confirms and `on_return_raises`.
        orp: The hub's ORP (routing keys).
        hub_user: The hub's broker user (`user_id`).
        chunk_size: Bytes per chunk.
        window: Chunks awaiting their confirm at once.
        stopping: The shutdown trigger, checked between chunks.
    """

    def __init__(
        self,
        exchange: AbstractExchange,
        *,
        orp: str,
        hub_user: str,
        chunk_size: int,
        window: int,
        stopping: asyncio.Event,
    ) -> None:
        self._exchange = exchange
        self._orp = orp
        self._hub_user = hub_user
        self._chunk_size = chunk_size
        self._window = window
        self._stopping = stopping
        self.sender = f"hub:{orp}"

    async def send(self, row: SipRow, path: Path, *, only: Collection[int] | None = None) -> int:
        """Send the chunks of `row`'s ZIP at `path` (all, or those in `only`) and its manifest.

        Returns:
            How many chunks were published.

        Raises:
            aio_pika.exceptions.DeliveryError: The broker returned or refused a message.
            SendInterruptedError: The hub is shutting down.
            OSError: The ZIP cannot be read.
        """
        assert row.sha256 is not None
        wanted = None if only is None else set(only)
        hashes: list[str] = []
        pending: set[asyncio.Future[object]] = set()
        size = 0
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, self._chunk_size):
                if self._stopping.is_set():
                    raise SendInterruptedError(row.name)
                index = len(hashes)
                digest = hashlib.sha256(chunk).hexdigest()
                hashes.append(digest)
                size += len(chunk)
                if wanted is not None and index not in wanted:
                    continue
                if len(pending) >= self._window:
                    pending = await _settle_one(pending)
                pending.add(asyncio.ensure_future(self._chunk(row, index, digest, chunk)))
            while pending:
                pending = await _settle_one(pending)
        finally:
            for future in pending:
                future.cancel()
            await asyncio.to_thread(handle.close)
        published = len(hashes) if wanted is None else len(wanted & set(range(len(hashes))))
        await self._manifest(row, size=size, hashes=hashes)
        return published

    def _message(
        self, body: bytes, *, kind: str, message_id: str, **properties: object
    ) -> aio_pika.Message:
        return aio_pika.Message(
            body,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            type=kind,
            timestamp=utc_now(),
            user_id=self._hub_user,
            **properties,  # type: ignore[arg-type]  # aio-pika's keyword properties
        )

    async def _chunk(self, row: SipRow, index: int, digest: str, chunk: bytes) -> object:
        assert row.sha256 is not None
        meta = ChunkMeta(
            message_id=new_message_id(),
            sender=self.sender,
            sent_at=utc_now(),
            object_sha256=row.sha256,
            index=index,
            sha256=digest,
        )
        message = self._message(
            chunk,
            kind="chunk",
            message_id=meta.message_id,
            content_type="application/octet-stream",
            headers=chunk_headers(meta),
        )
        return await self._exchange.publish(
            message, names.archive_routing_key(self._orp, row.ico, "chunk"), mandatory=True
        )

    async def _manifest(self, row: SipRow, *, size: int, hashes: list[str]) -> None:
        assert row.sha256 is not None
        manifest = SipManifest(
            message_id=new_message_id(),
            sender=self.sender,
            sent_at=utc_now(),
            sip_name=row.name,
            ico=row.ico,
            spis_id=row.spis_id,
            closing_seq=row.closing_seq,
            size=size,
            sha256=row.sha256,
            chunk_size=self._chunk_size,
            chunk_sha256=tuple(hashes),
            placeholders=placeholders_of(row),
        )
        kind = kind_of(manifest)
        message = self._message(
            encode(manifest),
            kind=kind,
            message_id=manifest.message_id,
            content_type="application/json",
            headers={names.HEADER_KIND: kind, names.HEADER_SCHEMA_VERSION: SCHEMA_VERSION},
        )
        await self._exchange.publish(
            message, names.archive_routing_key(self._orp, row.ico, kind), mandatory=True
        )


async def _settle_one(pending: set[asyncio.Future[object]]) -> set[asyncio.Future[object]]:
    """Wait for at least one confirm; raise the first failure; return what is still pending."""
    done, rest = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    for future in done:
        future.result()
    return set(rest)
