"""Collecting unreferenced chunks: uploads whose manifest never came do not stay for ever.

A chunk that no recorded content uses, last uploaded longer ago than
`[limits] unreferenced_chunk_age_s`, loses its rows and then its blob, in the
two phases of `hub.store.sqlite_release` (so a manifest committed meanwhile
keeps its chunks, and an obec that sends the bytes again simply stores them
anew). A chunk any recorded content uses is never collected here; releasing
archived content is `hub.forwarding.release`'s business.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from protocol import utc_now

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataStore

__all__ = ["ChunkCollector"]

log = structlog.get_logger(__name__)

_BATCH = 500
_LONGEST_PAUSE_S = 3600.0


class ChunkCollector:
    """Sweeps for unreferenced chunks every quarter of their age (at most hourly).

    Args:
        config: The hub's configuration (`[limits] unreferenced_chunk_age_s`).
        store: The metadata store.
        blobs: The blob store.
    """

    def __init__(self, config: HubConfig, store: MetadataStore, blobs: BlobStore) -> None:
        self._age = timedelta(seconds=config.limits.unreferenced_chunk_age_s)
        self._pause_s = min(config.limits.unreferenced_chunk_age_s / 4, _LONGEST_PAUSE_S)
        self._store = store
        self._blobs = blobs

    async def run(self, stopping: asyncio.Event) -> None:
        """Sweep until `stopping` is set."""
        while not stopping.is_set():
            try:
                await self.sweep(stopping)
            except Exception as exc:
                # The store may be full or locked for a while: try at the next sweep.
                log.warning("chunk_collection_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._pause_s)

    async def sweep(self, stopping: asyncio.Event | None = None) -> int:
        """Collect what is due now; return how many chunks were queued for deletion."""
        collected = 0
        while not (stopping is not None and stopping.is_set()):
            queued = await self._store.collect_unreferenced_chunks(
                uploaded_before=utc_now() - self._age, limit=_BATCH
            )
            collected += queued
            if queued < _BATCH:
                break
        while await self._store.sips.delete_released_blobs(self._blobs, limit=_BATCH):
            if stopping is not None and stopping.is_set():
                break
        if collected:
            log.info("unreferenced_chunks_collected", chunks=collected)
        return collected
