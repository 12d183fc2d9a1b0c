"""Handlers: apply one checked delivery inside the batch's transaction.

Every handler is idempotent: by content hash (chunks), by `(path,
source_seq)` (file versions, tombstones), by `source_version` (registry) and
by message id. Replies (receipts, repair requests) are derived from the
stored state, so a redelivered message gets its reply again: a tombstone or
registry message is confirmed (`RecordReceipt`) whether it was applied, found
outdated or seen before, since in each case the hub holds it or something newer;
only to an agent that says it understands the receipt (an older one would reject it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.handlers.base import HandlerContext
from hub.handlers.content import (
    handle_chunk,
    handle_file_bundle,
    handle_file_version,
    handle_tombstone,
)
from hub.handlers.control import handle_diagnostics_result, handle_heartbeat
from hub.handlers.registry import (
    handle_dokument,
    handle_komponenta,
    handle_record_deleted,
    handle_spis,
    handle_spis_closed,
    handle_spis_reopened,
)
from hub.inspection import ChunkItem
from protocol import (
    DiagnosticsResult,
    DokumentSnapshot,
    FileBundle,
    FileVersion,
    Heartbeat,
    KomponentaSnapshot,
    RecordDeleted,
    SpisClosed,
    SpisReopened,
    SpisSnapshot,
    Tombstone,
    kind_of,
)

if TYPE_CHECKING:
    from hub.inspection import Inspected

__all__ = ["HandlerContext", "apply"]

# Kinds whose message id is recorded only by the handler, on success: an
# incomplete manifest must be evaluated again when it is redelivered.
_RECORDED_BY_HANDLER = frozenset({"file_version", "tombstone"})
# Kinds idempotent by themselves, not worth a row per message.
_NOT_RECORDED = frozenset({"chunk", "heartbeat", "diagnostics_result"})


async def apply(ctx: HandlerContext, item: Inspected, *, chunk_verified: bool = False) -> None:
    """Apply one inspected delivery.

    Args:
        ctx: The handler context (transaction, replies).
        item: The checked delivery.
        chunk_verified: For a chunk or a bundle: whether the batcher verified
            and stored its content.

    Raises:
        RejectDelivery: If the delivery contradicts what is recorded.
    """
    payload = item.payload
    if isinstance(payload, ChunkItem):
        await handle_chunk(ctx, payload, verified=chunk_verified)
        return
    if isinstance(payload, FileBundle):
        # Not recorded by its own id: each manifest in it is, like a manifest sent alone.
        await handle_file_bundle(ctx, payload, verified=chunk_verified)
        return
    if item.kind not in _NOT_RECORDED and item.kind not in _RECORDED_BY_HANDLER:
        if await ctx.tx.message_seen(item.message_id):
            ctx.log.info("message_duplicate", kind=item.kind)
            if item.record_receipts:
                _confirm(ctx, payload)
            return
        await ctx.tx.record_message(item.message_id, item.ico, item.kind)
    elif item.kind in _RECORDED_BY_HANDLER and await ctx.tx.message_seen(item.message_id):
        # Handlers are idempotent by path and source_seq and resend the receipt.
        ctx.log.info("message_duplicate", kind=item.kind)
    await _dispatch(ctx, payload)
    if item.record_receipts:
        _confirm(ctx, payload)


def _confirm(ctx: HandlerContext, payload: object) -> None:
    """Queue the `RecordReceipt` of a tombstone or registry message (sent after the commit)."""
    match payload:
        case Tombstone():
            ctx.record_receipt(
                record_kind="tombstone", record_id=payload.path, source_version=payload.source_seq
            )
        case SpisSnapshot() | SpisClosed() | SpisReopened():
            ctx.record_receipt(
                record_kind=kind_of(payload),  # type: ignore[arg-type]  # one of the three
                record_id=payload.spis_id,
                source_version=payload.source_version,
            )
        case DokumentSnapshot():
            ctx.record_receipt(
                record_kind="dokument",
                record_id=payload.dokument_id,
                source_version=payload.source_version,
            )
        case KomponentaSnapshot():
            ctx.record_receipt(
                record_kind="komponenta",
                record_id=payload.komponenta_id,
                source_version=payload.source_version,
            )
        case RecordDeleted():
            ctx.record_receipt(
                record_kind="record_deleted",
                record_id=payload.record_id,
                table=payload.table,
                source_version=payload.source_version,
            )


async def _dispatch(ctx: HandlerContext, payload: object) -> None:  # noqa: C901 - a flat type switch reads best
    match payload:
        case FileVersion():
            await handle_file_version(ctx, payload)
        case Tombstone():
            await handle_tombstone(ctx, payload)
        case SpisSnapshot():
            await handle_spis(ctx, payload)
        case DokumentSnapshot():
            await handle_dokument(ctx, payload)
        case KomponentaSnapshot():
            await handle_komponenta(ctx, payload)
        case RecordDeleted():
            await handle_record_deleted(ctx, payload)
        case SpisClosed():
            await handle_spis_closed(ctx, payload)
        case SpisReopened():
            await handle_spis_reopened(ctx, payload)
        case Heartbeat():
            await handle_heartbeat(ctx, payload)
        case DiagnosticsResult():
            await handle_diagnostics_result(ctx, payload)
        case _:
            raise AssertionError(f"no handler for {type(payload).__name__}")
