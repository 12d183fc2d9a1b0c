"""Verifying content claims outside the shared batch: one obec's big file never delays another's.

A manifest whose chunks must be read back and hashed (`ContentClaim`) is not
applied in its batch: the delivery stays unacknowledged and goes to the
verifier, which reads and hashes the chunks with no transaction open, at
most one claim per obec at a time and `concurrency` over all obce. With the
verdict kept, the delivery is put back on the batcher's input and applied
again in a later batch, where the handler only records the verdict. A
delivery whose verification is cut short (shutdown, lost connection) is
redelivered by the broker and verified again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING

import structlog

from hub.content import content_matches
from hub.errors import BlobError, BlobNotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.content import ContentClaim
    from hub.inspection import Delivery
    from hub.metrics import HubMetrics
    from hub.store.blobs import BlobStore

__all__ = ["ContentVerifier"]

log = structlog.get_logger(__name__)

_RETRY_S = 5.0
# Verdicts kept for deliveries on their way back; a verdict is a few hundred
# bytes and each waits for one redelivery, so this bounds memory, not work.
_KEEP_VERDICTS = 10_000


class ContentVerifier:
    """Verifies content claims in background tasks and hands the deliveries back.

    Args:
        blobs: The blob store to read the chunks from.
        concurrency: Claims verified at once over all obce.
        metrics: Counters to update.
        requeue: Puts a delivery back on the batcher's input.
    """

    def __init__(
        self,
        blobs: BlobStore,
        *,
        concurrency: int,
        metrics: HubMetrics,
        requeue: Callable[[Delivery], None],
    ) -> None:
        self._blobs = blobs
        self._slots = asyncio.Semaphore(concurrency)
        self._metrics = metrics
        self._requeue = requeue
        self._obec_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._verdicts: OrderedDict[ContentClaim, bool] = OrderedDict()

    @property
    def verdicts(self) -> OrderedDict[ContentClaim, bool]:
        """Verdicts of finished verifications, by claim (handlers read them)."""
        return self._verdicts

    def forget(self, claim: ContentClaim) -> None:
        """Drop a verdict once the delivery that needed it is settled."""
        self._verdicts.pop(claim, None)

    def submit(self, delivery: Delivery, claim: ContentClaim) -> None:
        """Verify `claim` in the background, then put `delivery` back on the input."""
        task = asyncio.create_task(self._verify(delivery, claim))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel running verifications (their deliveries come again from the broker)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _verify(self, delivery: Delivery, claim: ContentClaim) -> None:
        lock = self._obec_locks.setdefault(delivery.ico, asyncio.Lock())
        async with lock, self._slots:
            self._metrics.verifications_started += 1
            log.info("content_verifying", ico=delivery.ico, sha256=claim.sha256, size=claim.size)
            while True:
                try:
                    verdict = await content_matches(
                        self._blobs, claim.chunks, size=claim.size, sha256=claim.sha256
                    )
                except BlobNotFoundError:
                    # The metadata says a chunk is stored but its blob is gone: ask again.
                    verdict = False
                except BlobError as exc:
                    log.warning("content_verify_deferred", ico=delivery.ico, error=str(exc))
                    await asyncio.sleep(_RETRY_S)
                    continue
                break
            self._metrics.verifications_done += 1
        self._verdicts[claim] = verdict
        while len(self._verdicts) > _KEEP_VERDICTS:
            self._verdicts.popitem(last=False)
        self._requeue(delivery)
