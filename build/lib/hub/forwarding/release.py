"""Releasing the hub's copy of an archived spis: its blobs and its SIP, after a grace period.

Data leaves the hub only after the archive's acceptance carrying the SIP's
own SHA-256 (`hub.forwarding.replies`), and then only once
`[hub] release_grace_s` has passed. What is released is exactly the contents
recorded with the SIP when it was built (not what the komponenty point at
today). A content is released unless, at that moment, something live still
needs it:

1. a komponenta (of any obec, content is shared ORP-wide) that is not part of
   an archived spis (its spis is open, closed, forwarded, rejected, or the
   dokument belongs to no spis yet) and whose path's current version is that
   content;
2. a SIP still in flight (`built`/`forwarded`), or one of the current closing
   of its spis that was rejected or failed (it may have to be rebuilt);
3. the current version of a path that no komponenta references: a working
   file of the office (a scan not yet registered, a copy elsewhere) that the
   hub keeps as the obec's storage.

Older versions of paths and paths referenced only by archived spisy do not
hold a content back: those are what moved to the region. A content held back
now is not retried for this SIP; it is released with the SIP of the spis that
holds it, when that one is archived (a content held only by rule 3 stays).

Releasing a content marks it released (file versions keep their metadata, so
`hub files` still lists them, with `released`), deletes the chunk rows of the
chunks no unreleased content uses, and queues their blobs for deletion; the
blobs go in a second step under the database's write lock (see
`hub.store.sqlite_release` for why and for the race with re-uploads). The SIP's
ZIP is deleted last. A komponenta that later points at a released content
shows it as missing until the agent sends the file again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from hub.forwarding.builder import sips_dir
from protocol import utc_now

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataStore
    from hub.store.models import SipRow

__all__ = ["ReleaseSweeper"]

log = structlog.get_logger(__name__)

_BLOB_BATCH = 200
_DELETION_MEMORY = timedelta(days=1)


class ReleaseSweeper:
    """Releases archived spisy's blobs and SIPs once their grace period is over.

    Args:
        config: The hub's configuration (`release_grace_s`, `release_sweep_s`).
        store: The metadata store (with the SIP ledger).
        blobs: The blob store.
    """

    def __init__(self, config: HubConfig, store: MetadataStore, blobs: BlobStore) -> None:
        self._config = config
        self._store = store
        self._blobs = blobs

    async def run(self, stopping: asyncio.Event) -> None:
        """Sweep every `release_sweep_s` until `stopping` is set."""
        while not stopping.is_set():
            try:
                await self.sweep(stopping)
            except Exception:
                log.exception("release_sweep_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._config.hub.release_sweep_s)

    async def sweep(self, stopping: asyncio.Event | None = None) -> int:
        """Release every SIP past its grace period; return how many were released."""
        grace = timedelta(seconds=self._config.hub.release_grace_s)
        released = 0
        for row in await self._store.sips.releasable(accepted_before=utc_now() - grace):
            if stopping is not None and stopping.is_set():
                break
            await self._release(row)
            released += 1
        while await self._store.sips.delete_released_blobs(self._blobs, limit=_BLOB_BATCH):
            if stopping is not None and stopping.is_set():
                break
        await self._store.sips.prune_deletions(before=utc_now() - _DELETION_MEMORY)
        return released

    async def _release(self, row: SipRow) -> None:
        outcomes: Counter[str] = Counter()
        chunks = 0
        for sha256 in await self._store.sips.components(row.name):
            result = await self._store.sips.release_content(sha256, at=utc_now())
            outcomes[result.outcome] += 1
            chunks += result.chunks
            if result.outcome == "referenced":
                log.info(
                    "content_release_held",
                    sip_name=row.name,
                    content_sha256=sha256,
                    held_by=result.blocker,
                )
        path = sips_dir(self._config) / f"{row.name}.zip"
        await asyncio.to_thread(path.unlink, missing_ok=True)
        await self._store.sips.mark_released(row.name, at=utc_now())
        log.info(
            "sip_released",
            ico=row.ico,
            spis_id=row.spis_id,
            sip_name=row.name,
            archive_id=row.archive_id,
            chunks_queued=chunks,
            **{f"contents_{k}": v for k, v in sorted(outcomes.items())},
        )
