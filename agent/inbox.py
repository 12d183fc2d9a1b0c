"""The agent's inbox (`agent.<ičo>`): receipts, repair and diagnostics requests from the hub.

A receipt records that the hub holds some content for this obec, so identical
content is later sent as a manifest only; a `FileReceipts` (a bundle's files)
is recorded in one transaction. A repair request (`NeedChunks`)
queues the named chunks, or the whole file, again, if the file still has
that content; if it changed, its new version is already on its way. A
diagnostics request is handed, with its delivery, to the diagnostics runner,
which checks who sent it and settles the delivery once it is answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from protocol import (
    DecodeError,
    DiagnosticsRequest,
    FileReceipt,
    FileReceipts,
    NeedChunks,
    RecordReceipt,
    decode,
    kind_of,
    new_message_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

    from agent.diagnostics.runner import DiagnosticsRunner
    from agent.state import State

__all__ = ["Inbox"]

log = structlog.get_logger(__name__)

_PREFETCH = 32


class Inbox:
    """Consumes the agent's inbox queue, one session per connection.

    Args:
        queue: The inbox queue (`[agent] inbox`).
        state: The state database.
        on_queued: Called when a repair was queued (wakes the publisher).
        diagnostics: Runs diagnostics requests; without it they are acknowledged and ignored.
    """

    def __init__(
        self,
        *,
        queue: str,
        state: State,
        on_queued: Callable[[], None],
        diagnostics: DiagnosticsRunner | None = None,
    ) -> None:
        self._queue = queue
        self._state = state
        self._on_queued = on_queued
        self._diagnostics = diagnostics

    async def session(self, channel: AbstractChannel) -> None:
        """Consume until cancelled or the channel closes."""
        await channel.set_qos(prefetch_count=_PREFETCH)
        # ensure=False: agents may declare nothing; the queue is provisioned by the hub.
        queue = await channel.get_queue(self._queue, ensure=False)
        async with queue.iterator() as messages:
            async for message in messages:
                await self.handle(message)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Settle one inbox message: ack once its effect is durable, dead-letter garbage."""
        try:
            decoded = decode(message.body)
        except DecodeError as exc:
            log.error("inbox_message_rejected", reason=str(exc), message_id=message.message_id)
            await message.reject(requeue=False)
            return
        if isinstance(decoded, FileReceipt):
            await self._state.record_receipt(decoded.sha256, decoded.path, decoded.source_seq)
            log.debug("receipt_recorded", path=decoded.path, sha256=decoded.sha256)
        elif isinstance(decoded, FileReceipts):
            await self._state.record_receipts(
                (r.path, r.sha256, r.source_seq) for r in decoded.receipts
            )
            log.debug("receipts_recorded", count=len(decoded.receipts))
        elif isinstance(decoded, RecordReceipt):
            await self._state.record_record_receipt(decoded)
            log.debug("record_receipt_recorded", kind=decoded.record_kind, record=decoded.record_id)
        elif isinstance(decoded, NeedChunks):
            await self._repair(decoded)
        elif isinstance(decoded, DiagnosticsRequest):
            if self._diagnostics is not None:
                self._diagnostics.submit(decoded, message)
                return
            log.info("diagnostics_request_ignored", verb=decoded.requested_verb)
        else:
            log.warning("inbox_message_unexpected", kind=kind_of(decoded))
        await message.ack()

    async def _repair(self, need: NeedChunks) -> None:
        entry = await self._state.get_file(need.path)
        if entry is None or entry.sha256 != need.sha256:
            log.info(
                "repair_skipped",
                path=need.path,
                sha256=need.sha256,
                reason="the file no longer has that content; its current state is sent",
            )
            return
        indexes: tuple[int, ...] | None = None
        if need.indexes:
            indexes = tuple(sorted({i for i in need.indexes if i < len(entry.chunk_sha256)}))
        await self._state.queue_repair(entry, new_message_id(), indexes)
        log.info("repair_queued", path=need.path, chunks=indexes, reason=need.reason)
        self._on_queued()
