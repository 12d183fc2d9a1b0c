"""Grouping deliveries into one metadata transaction each, acknowledging after the commit.

For each batch (at most `batch_max` deliveries, waiting at most `batch_wait_s`
for it to fill, and not at all once it holds every delivery the broker may have
outstanding to us, since no more can come before the acks):

1. inspect every delivery (identity, size, form); a failure is a dead letter;
2. verify each chunk's SHA-256 and write new ones to the blob store, durably
   (the store verifies those as it writes them), before any metadata mentions them;
3. apply every delivery in one transaction, then find closed spisy that became
   complete, and commit;
4. publish dead-letter copies and replies and wait for their confirms;
5. acknowledge the deliveries; only now may the broker forget them. A manifest
   whose chunks must be read back and hashed is not acknowledged: it goes to
   the `ContentVerifier`, outside every batch, and comes back with the verdict.

Steps 1-2 of the next batch run while steps 3-5 of the one before it do (a
batch holds at most half of what the broker may have outstanding to us, so
the next one is arriving meanwhile); step 3 waits for the commit before it.

A crash anywhere before step 5 redelivers the batch, which is harmless because
every handler is idempotent. A storage that cannot serve (`RetryLater`: the
blob store or the metadata database full, failing or locked) rolls the batch
back and holds it, unacknowledged, trying again with a growing pause (up to
`MAX_DEFER_S`): a held delivery is neither requeued nor redelivered, so it
never counts towards the queue's delivery limit, and it lands once the storage
serves again. Any other exception rolls back and retries the deliveries one
transaction each; one that still fails is requeued, and after the queue's
delivery limit the broker dead-letters it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
from aio_pika.exceptions import DeliveryError

from hub.batch_attempts import MAX_DEFER_S, Attempts
from hub.chunk_deltas import rebuild_chunk
from hub.closing import find_complete_spisy
from hub.config import LimitsConfig
from hub.content import ContentClaim
from hub.deadletter import DeadLetterBudget
from hub.errors import (
    BlobError,
    BlobHashMismatchError,
    RejectDelivery,
    RetryLater,
    StoreUnavailableError,
)
from hub.handlers import HandlerContext, apply
from hub.inspection import ChunkItem, Delivery, Inspected, inspect_delivery
from hub.publisher import batch_file_receipts
from hub.streamed import StreamedDigests
from hub.verifier import ContentVerifier
from protocol import FileBundle, FileVersion, utc_now
from spisync.events import next_item
from spisync.memory import MemoryReturner

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from hub.metrics import HubMetrics
    from hub.publisher import AgentReply, HubPublisher
    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataStore
    from hub.store.models import ReadySpis

__all__ = ["MAX_DEFER_S", "Batcher"]

log = structlog.get_logger(__name__)

_PUT_CONCURRENCY = 8
_POLL_S = 0.005
_STORE_DEFER_S = 1.0
_BLOB_DEFER_S = 5.0


@dataclass
class _Outcome:
    """How one delivery of the batch is to be settled."""

    delivery: Delivery
    item: Inspected | None = None
    reject: RejectDelivery | None = None
    replies: list[AgentReply] = field(default_factory=list)
    failed: bool = False
    verify: ContentClaim | None = None


@dataclass
class _Prepared:
    """A batch whose chunks are stored: what its commit needs."""

    outcomes: list[_Outcome]
    verified: dict[int, bool] | None


def _pending(outcomes: list[_Outcome]) -> list[_Outcome]:
    """The deliveries that passed inspection."""
    return [o for o in outcomes if o.item is not None]


class Batcher:
    """Applies deliveries in batches; see the module docstring for the steps.

    Args:
        store: The metadata store.
        blobs: The blob store.
        publisher: Where replies and dead letters go.
        batch_max: Most deliveries per transaction.
        batch_wait_s: Longest wait for a batch to fill.
        metrics: Counters to update.
        on_ready: Called after the commit with spisy that became complete.
        in_flight_limit: Returns how many unacknowledged deliveries the broker may
            have outstanding to us (prefetch times consumed queues), or None.
        limits: What one obec may ask of the hub.
    """

    def __init__(
        self,
        *,
        store: MetadataStore,
        blobs: BlobStore,
        publisher: HubPublisher,
        batch_max: int,
        batch_wait_s: float,
        metrics: HubMetrics,
        on_ready: Callable[[list[ReadySpis]], None],
        in_flight_limit: Callable[[], int] | None = None,
        limits: LimitsConfig | None = None,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._publisher = publisher
        self._batch_max = batch_max
        self._batch_wait_s = batch_wait_s
        self._metrics = metrics
        self._on_ready = on_ready
        self._in_flight_limit = in_flight_limit
        self._limits = limits or LimitsConfig()
        self._dead_letter_budget = DeadLetterBudget(self._limits.dead_letters_per_hour)
        self._input: asyncio.Queue[Delivery] | None = None
        self._unsettled = 0  # deliveries of the batch being committed, not yet settled
        self._streamed = StreamedDigests()
        self._verifier = ContentVerifier(
            blobs,
            concurrency=self._limits.verify_concurrency,
            metrics=metrics,
            requeue=self._requeue,
        )

    def _requeue(self, delivery: Delivery) -> None:
        if self._input is not None:
            self._input.put_nowait(delivery)

    async def run(self, deliveries: asyncio.Queue[Delivery], stop: asyncio.Event) -> None:
        """Process batches until `stop` is set and `deliveries` is empty.

        Two batches overlap: while one is committed and settled, the next one is
        collected and its chunks written to the blob store (its metadata waits
        for the commit before it, so batches still commit in delivery order).
        Verifications still running at the end are cancelled: their deliveries
        were never acknowledged, so the broker delivers them again.
        """
        self._input = deliveries
        memory = MemoryReturner()
        committing: asyncio.Task[None] | None = None
        try:
            while batch := await self._collect(deliveries, stop):
                received = sum(len(delivery.message.body) for delivery in batch)
                prepared = await self._prepare(batch, stop)
                if committing is not None:
                    await committing
                    committing = None
                if prepared is None:
                    break  # shutting down while the blob store was held
                self._unsettled += len(batch)
                committing = asyncio.create_task(self._commit(prepared, stop))
                committing.add_done_callback(
                    functools.partial(self._settled, len(batch), received, memory)
                )
                # The batch's bodies are garbage once the commit task lets go of them.
                batch = []
                prepared = None
            if committing is not None:
                await committing
        finally:
            if committing is not None and not committing.done():
                committing.cancel()
                await asyncio.gather(committing, return_exceptions=True)
            memory.close()
            await self._verifier.close()

    def _settled(
        self, size: int, received: int, memory: MemoryReturner, _: asyncio.Task[None]
    ) -> None:
        self._unsettled -= size
        memory.received(received)

    async def _collect(
        self, deliveries: asyncio.Queue[Delivery], stop: asyncio.Event
    ) -> list[Delivery]:
        if deliveries.empty():
            if stop.is_set():
                return []
            first = await next_item(deliveries, stop)
            if first is None:
                return []
            batch = [first]
        else:
            batch = [deliveries.get_nowait()]
        deadline = time.monotonic() + self._batch_wait_s
        while len(batch) < self._batch_max:
            while len(batch) < self._batch_max and not deliveries.empty():
                batch.append(deliveries.get_nowait())
            remaining = deadline - time.monotonic()
            if len(batch) >= self._batch_max or remaining <= 0 or stop.is_set():
                break
            if self._in_flight_limit is not None:
                limit = self._in_flight_limit()
                # Half of what the broker may have outstanding to us, so that the other
                # half arrives while this batch commits; and once every unacknowledged
                # delivery is here or in the batch committing, the broker sends no more
                # until we ack, so waiting out the deadline would only add latency.
                if len(batch) >= max(1, limit // 2) or len(batch) + self._unsettled >= limit:
                    break
            await asyncio.sleep(min(_POLL_S, remaining))
        return batch

    async def _prepare(self, batch: list[Delivery], stop: asyncio.Event) -> _Prepared | None:
        """Inspect the batch and store its chunks; None if `stop` came while storage was held."""
        outcomes = [self._inspect(delivery) for delivery in batch]
        attempt = Attempts(self._metrics, len(batch))
        while True:
            try:
                return _Prepared(outcomes, await self._store_chunks(_pending(outcomes)))
            except RetryLater as exc:
                if not await attempt.defer(exc, stop):
                    return None

    async def _commit(self, prepared: _Prepared, stop: asyncio.Event) -> None:
        """Apply a prepared batch in one transaction, then settle its deliveries."""
        outcomes, verified = prepared.outcomes, prepared.verified
        attempt = Attempts(self._metrics, len(outcomes))
        while True:
            try:
                if verified is None:  # a retry: the blob store may have changed meanwhile
                    verified = await self._store_chunks(_pending(outcomes))
                ready = await self._attempt(outcomes, verified)
                break
            except RetryLater as exc:
                verified = None
                if not await attempt.defer(exc, stop):
                    # Shutting down: leave the batch unacknowledged for redelivery.
                    return
        await self._settle(outcomes)
        if ready:
            self._on_ready(ready)

    def _inspect(self, delivery: Delivery) -> _Outcome:
        try:
            return _Outcome(delivery=delivery, item=inspect_delivery(delivery))
        except RejectDelivery as exc:
            return _Outcome(delivery=delivery, reject=_detached(exc))

    async def _attempt(
        self, outcomes: list[_Outcome], verified: dict[int, bool]
    ) -> list[ReadySpis]:
        # Deliveries that passed inspection; a handler's verdict of an earlier,
        # rolled-back attempt is recomputed.
        pending = _pending(outcomes)
        for outcome in pending:
            outcome.reject = None
            outcome.replies = []
            outcome.failed = False
            outcome.verify = None
        try:
            return await self._apply(pending, verified)
        except RetryLater:
            raise
        except Exception:
            log.exception("batch_failed", size=len(pending))
        ready: list[ReadySpis] = []
        for outcome in pending:
            outcome.replies = []
            outcome.reject = None
            outcome.verify = None
            try:
                ready += await self._apply([outcome], verified)
            except RetryLater:
                raise
            except Exception:
                assert outcome.item is not None
                log.exception(
                    "delivery_failed",
                    ico=outcome.item.ico,
                    kind=outcome.item.kind,
                    message_id=outcome.item.message_id,
                )
                outcome.failed = True
        return ready

    async def _store_chunks(self, pending: Sequence[_Outcome]) -> dict[int, bool]:
        """Verify the batch's chunks and store the new ones; return verified by `id(outcome)`.

        Every chunk is hashed once against its header before anything relies on
        it: a new one by the blob store, which hashes it as it writes it and stores
        nothing that does not match (so it is not hashed here first as well), one
        the store holds already here, and a duplicate of bytes already verified in
        this batch by comparing the bytes. A bundle's files go the same way, each
        its own chunk (their hashes were checked at inspection, the store checks
        them again as it writes); the bundle counts as verified when all are.
        """
        await self._rebuild_deltas(pending)
        groups, bundles = _claimed_bytes(pending)
        verified: dict[int, bool] = {}
        if groups:
            try:
                already = await self._store.stored_chunks(groups.keys())
                # New hashes: the first bytes claimed for each, stored together.
                new = {sha: group[0][1] for sha, group in groups.items() if sha not in already}
                refused = await self._blobs.put_many(new) if new else set()
            except StoreUnavailableError as exc:
                raise RetryLater(str(exc), defer_s=_STORE_DEFER_S) from exc
            except BlobError as exc:
                raise RetryLater(f"blob store: {exc}", defer_s=_BLOB_DEFER_S) from exc
            limit = asyncio.Semaphore(_PUT_CONCURRENCY)
            try:
                await asyncio.gather(
                    *(
                        self._verify_group(
                            sha,
                            group,
                            good=new[sha] if sha in new and sha not in refused else None,
                            stored=sha in already,
                            limit=limit,
                            verified=verified,
                        )
                        for sha, group in groups.items()
                    )
                )
            except BlobError as exc:
                raise RetryLater(f"blob store: {exc}", defer_s=_BLOB_DEFER_S) from exc
        await self._streamed.feed(
            (item.ico, meta.object_key, meta.index, meta.sha256, item.payload.body)
            for outcome in pending
            if (item := outcome.item) is not None
            and isinstance(item.payload, ChunkItem)
            and verified.get(id(outcome))
            # A file of one chunk is verified by its chunk's own hash already.
            and (meta := item.payload.meta).object_sha256 != meta.sha256
        )
        for key, entries in bundles.items():
            verified[key] = all(verified.pop(entry) for entry in entries)
        return verified

    async def _rebuild_deltas(self, pending: Sequence[_Outcome]) -> None:
        """Rebuild the chunks sent as deltas (`hub.chunk_deltas`), before they are verified."""
        for outcome in pending:
            item = outcome.item
            if item is None or not isinstance(item.payload, ChunkItem):
                continue
            if item.payload.delta is None:
                continue
            try:
                rebuilt = await rebuild_chunk(item, self._store, self._blobs)
            except StoreUnavailableError as exc:
                raise RetryLater(str(exc), defer_s=_STORE_DEFER_S) from exc
            except BlobError as exc:
                raise RetryLater(f"blob store: {exc}", defer_s=_BLOB_DEFER_S) from exc
            if rebuilt is not None:
                outcome.item = rebuilt
                self._metrics.chunks_rebuilt += 1

    async def _verify_group(
        self,
        sha256: str,
        group: list[tuple[int, bytes]],
        *,
        good: bytes | None,
        stored: bool,
        limit: asyncio.Semaphore,
        verified: dict[int, bool],
    ) -> None:
        """Verify (and store, if new) the chunks of one claimed hash into `verified`.

        `good`: bytes of this hash the blob store has just verified and stored.
        """
        stored = stored or good is not None
        for key, body in group:
            if good is not None and body == good:
                verified[key] = True
                continue
            async with limit:
                if stored:
                    ok = await asyncio.to_thread(_sha256, body) == sha256
                else:
                    try:
                        await self._blobs.put(sha256, body)
                        ok = stored = True
                    except BlobHashMismatchError:
                        ok = False
            verified[key] = ok
            if ok:
                good = body

    async def _apply(
        self, pending: Sequence[_Outcome], verified: dict[int, bool]
    ) -> list[ReadySpis]:
        """Apply `pending` in one transaction; return spisy that became complete.

        Raises:
            RetryLater: If the metadata database or the blob store cannot serve now.
        """
        try:
            return await self._apply_once(pending, verified)
        except StoreUnavailableError as exc:
            raise RetryLater(str(exc), defer_s=_STORE_DEFER_S) from exc
        except BlobError as exc:
            raise RetryLater(f"blob store: {exc}", defer_s=_BLOB_DEFER_S) from exc

    async def _apply_once(
        self, pending: Sequence[_Outcome], verified: dict[int, bool]
    ) -> list[ReadySpis]:
        received_at = utc_now()
        changed: set[str] = set()
        async with self._store.transaction() as tx:
            for ico in {o.delivery.ico for o in pending}:
                await tx.touch_obec(ico, received_at)
            for outcome in pending:
                item = outcome.item
                assert item is not None
                ctx = HandlerContext(
                    tx=tx,
                    blobs=self._blobs,
                    ico=item.ico,
                    message_id=item.message_id,
                    received_at=received_at,
                    sender=self._publisher.sender,
                    limits=self._limits,
                    verified=self._verifier.verdicts,
                    streamed=self._streamed,
                )
                try:
                    await apply(ctx, item, chunk_verified=verified.get(id(outcome), False))
                except RejectDelivery as exc:
                    outcome.reject = _detached(exc)
                    continue
                outcome.replies = ctx.replies
                outcome.verify = ctx.verify
                if ctx.registry_changed:
                    changed.add(item.ico)
            ready = await find_complete_spisy(tx, changed, at=received_at)
        self._metrics.batches_committed += 1
        log.debug("batch_committed", size=len(pending), ready=len(ready))
        return ready

    async def _settle(self, outcomes: list[_Outcome]) -> None:
        """Publish dead letters and replies (confirmed), then ack or requeue each delivery."""
        await asyncio.gather(*(self._publish(outcome) for outcome in outcomes))
        for outcome in outcomes:
            message = outcome.delivery.message
            if outcome.failed:
                await message.nack(requeue=True)
                self._metrics.deliveries_requeued += 1
            elif outcome.verify is not None and outcome.reject is None:
                self._verifier.submit(outcome.delivery, outcome.verify)
            else:
                await message.ack()
                self._metrics.deliveries_acked += 1
                if outcome.item is not None and isinstance(outcome.item.payload, FileVersion):
                    manifest = outcome.item.payload
                    self._verifier.forget(
                        ContentClaim(manifest.sha256, manifest.chunk_sha256, manifest.size)
                    )
                    self._streamed.forget(outcome.item.ico, manifest.sha256, manifest.message_id)

    async def _dead_letter(self, delivery: Delivery, reject: RejectDelivery) -> None:
        try:
            await self._publisher.dead_letter(
                delivery.message,
                queue=delivery.queue,
                reason=reject.reason,
                detail=reject.detail,
                security=reject.security,
            )
        except DeliveryError as exc:
            # `spisync.dead` is full (overflow reject-publish, see
            # spisync.broker.topology): the delivery is invalid, so this log
            # line is its record, and it is acknowledged all the same.
            log.warning(
                "dead_letter_refused",
                ico=delivery.ico,
                message_id=delivery.message.message_id,
                reason=reject.reason,
                detail=reject.detail,
                error=str(exc),
            )
        self._metrics.dead_lettered += 1
        self._metrics.security_events += int(reject.security)
        log.warning(
            "delivery_dead_lettered",
            ico=delivery.ico,
            reason=reject.reason,
            detail=reject.detail,
            security=reject.security,
        )

    async def _publish(self, outcome: _Outcome) -> None:
        if outcome.reject is not None:
            reject = outcome.reject
            if not self._dead_letter_budget.take(outcome.delivery.ico, time.monotonic()):
                # The obec has used its share of the shared `spisync.dead`: this log
                # line is the refused delivery's record.
                self._metrics.dead_letters_over_budget += 1
                log.warning(
                    "dead_letter_over_budget",
                    ico=outcome.delivery.ico,
                    message_id=outcome.delivery.message.message_id,
                    reason=reject.reason,
                    detail=reject.detail,
                    security=reject.security,
                    fix="the obec's agent sends invalid messages: look at its log and version",
                )
                self._metrics.security_events += int(reject.security)
            else:
                await self._dead_letter(outcome.delivery, reject)
        replies = outcome.replies
        if outcome.item is not None and outcome.item.receipt_batches:
            replies = batch_file_receipts(replies, sender=self._publisher.sender)
        for ico, reply in replies:
            try:
                await self._publisher.send_to_agent(ico, reply)
            except DeliveryError as exc:
                # The agent's inbox is gone (obec deprovisioned): nothing to tell.
                log.warning("reply_unroutable", ico=ico, kind=type(reply).__name__, error=str(exc))
                continue
            self._metrics.replies_sent += 1


def _detached(exc: RejectDelivery) -> RejectDelivery:
    """Drop what `exc` holds of the frames it passed through, and so of the delivery.

    A kept exception's traceback holds its frames, whose locals hold the
    delivery and the exception itself: a cycle that only the cyclic garbage
    collector frees, late, keeping a large body resident meanwhile.
    """
    exc.__context__ = None
    exc.__cause__ = None
    return exc.with_traceback(None)


def _claimed_bytes(
    pending: Sequence[_Outcome],
) -> tuple[dict[str, list[tuple[int, bytes]]], dict[int, list[int]]]:
    """Group the batch's chunk and bundle bytes by the hash they claim.

    Returns the bytes claimed for each hash (keyed by `id` of their chunk's outcome
    or bundle entry), and each bundle's entries (keyed by `id` of its outcome).
    """
    groups: dict[str, list[tuple[int, bytes]]] = {}
    bundles: dict[int, list[int]] = {}
    for outcome in pending:
        assert outcome.item is not None
        payload = outcome.item.payload
        if isinstance(payload, ChunkItem):
            if payload.delta is not None:
                continue  # not rebuilt: it stays unverified, and the manifest asks again
            groups.setdefault(payload.meta.sha256, []).append((id(outcome), payload.body))
        elif isinstance(payload, FileBundle):
            files = [entry for entry in payload.files if entry.content]
            bundles[id(outcome)] = [id(entry) for entry in files]
            for entry in files:
                groups.setdefault(entry.manifest.sha256, []).append((id(entry), entry.content))
    return groups, bundles


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
