"""The closing seam: what happens when a closed spis has all its content.

The batcher, inside its transaction, finds closed spisy that became complete
(`find_complete_spisy`) and records `complete_at`; after the commit it hands
each to the `ClosingWorker`, which calls the configured `Closer`. The hub's
closer is `hub.forwarding.SipCloser` (build the SIP, record it in the outbox;
the forwarder calls `MetadataStore.mark_forwarded` once the broker confirms
its manifest). `ReadyRecorder` only logs that the spis is ready (for tests of
ingest alone).

At start the worker also picks up every spis that is complete but not yet
forwarded (`MetadataStore.ready_spisy`), so a crash between the commit and the
closer never strands one. A `Closer` must therefore be idempotent per
`(ico, spis_id, closing_seq)`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

import structlog

from hub.spis_state import on_complete
from hub.store.models import ReadySpis
from spisync.events import next_item

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from hub.store.metadata import MetadataStore, MetadataTransaction

__all__ = ["Closer", "ClosingWorker", "ReadyRecorder", "find_complete_spisy"]

log = structlog.get_logger(__name__)

_RETRY_S = 30.0


class Closer(Protocol):
    """Called once a closed spis is complete (and again after a restart until it is forwarded)."""

    async def spis_complete(self, spis: ReadySpis) -> None:
        """Take the spis on (build, store and forward its SIP).

        Raising leaves the spis ready; the worker retries it later.
        """
        ...


class ReadyRecorder:
    """A closer that only logs: the spis stays `closed` with `complete_at` set."""

    async def spis_complete(self, spis: ReadySpis) -> None:
        """Log that the spis is ready for its SIP."""
        log.info(
            "spis_ready_for_sip",
            ico=spis.ico,
            spis_id=spis.spis_id,
            closing_seq=spis.closing_seq,
        )


async def find_complete_spisy(
    tx: MetadataTransaction, icos: Iterable[str], *, at: datetime
) -> list[ReadySpis]:
    """Mark closed spisy of `icos` whose content is complete; return them.

    A spis is complete when the hub holds its snapshot and every non-deleted
    komponenta of its non-deleted dokumenty resolves to current content.
    Complete spisy whose SIP could not be built (a field missing in the
    registry, a rule its data breaks) are returned again too: the change that
    called this may be the registry's fix.
    """
    ready: list[ReadySpis] = []
    for ico in sorted(set(icos)):
        ready.extend(
            ReadySpis(ico=ico, spis_id=row.spis_id, closing_seq=row.closing_seq)
            for row in await tx.failed_closings(ico)
        )
        for row in await tx.waiting_spisy(ico):
            if not await tx.spis_exists(ico, row.spis_id):
                continue
            if await tx.missing_komponenty(ico, row.spis_id):
                continue
            await tx.put_spis_state(on_complete(row, at=at))
            ready.append(ReadySpis(ico=ico, spis_id=row.spis_id, closing_seq=row.closing_seq))
    return ready


class ClosingWorker:
    """Feeds complete spisy to the `Closer`, one at a time, retrying failures.

    Args:
        store: The metadata store (for the ready spisy at start).
        closer: What to call per complete spis.
    """

    def __init__(self, store: MetadataStore, closer: Closer) -> None:
        self._store = store
        self._closer = closer
        self._queue: asyncio.Queue[ReadySpis] = asyncio.Queue()
        # What waits in the queue: a spis offered by many batches is queued once.
        self._queued: set[ReadySpis] = set()

    def submit(self, spisy: Iterable[ReadySpis]) -> None:
        """Queue spisy that just became complete (called after the batch commit)."""
        for spis in spisy:
            if spis not in self._queued:
                self._queued.add(spis)
                self._queue.put_nowait(spis)

    async def run(self, stop: asyncio.Event) -> None:
        """Call the closer for each queued spis until `stop` is set."""
        self.submit(await self._store.ready_spisy())
        while not stop.is_set():
            spis = await next_item(self._queue, stop)
            if spis is None:
                return
            self._queued.discard(spis)
            try:
                await self._closer.spis_complete(spis)
            except Exception as exc:
                if stop.is_set():
                    # A build that gave way to the shutdown: the next start offers it again.
                    log.info(
                        "closer_interrupted", ico=spis.ico, spis_id=spis.spis_id, error=str(exc)
                    )
                    return
                log.exception("closer_failed", ico=spis.ico, spis_id=spis.spis_id)
                asyncio.get_running_loop().call_later(_RETRY_S, self.submit, [spis])
