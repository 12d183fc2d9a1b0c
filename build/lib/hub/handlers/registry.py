"""Registry handlers: spis, dokument and komponenta snapshots, deletions, close and reopen.

Snapshots are whole records with the registry's `source_version`; the hub
keeps the newest and ignores one that is not newer than what it holds, so
redelivery and reordering never regress a record. A deletion is kept as a
marked row with its version, so a late older snapshot cannot resurrect it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.spis_state import on_closed, on_reopened

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.handlers.base import HandlerContext
    from hub.store.models import RegistryTable
    from protocol import (
        DokumentSnapshot,
        KomponentaSnapshot,
        RecordDeleted,
        SpisClosed,
        SpisReopened,
        SpisSnapshot,
    )

__all__ = [
    "handle_dokument",
    "handle_komponenta",
    "handle_record_deleted",
    "handle_spis",
    "handle_spis_closed",
    "handle_spis_reopened",
]


async def _apply(
    ctx: HandlerContext,
    table: RegistryTable,
    record_id: str,
    source_version: int,
    store: Callable[[], Awaitable[None]],
) -> None:
    held = await ctx.tx.record_version(table, ctx.ico, record_id)
    if held is not None and held >= source_version:
        ctx.log.info(
            "snapshot_outdated", table=table, record_id=record_id, held=held, got=source_version
        )
        return
    await store()
    ctx.registry_changed = True
    ctx.log.debug("snapshot_applied", table=table, record_id=record_id, version=source_version)


async def handle_spis(ctx: HandlerContext, snapshot: SpisSnapshot) -> None:
    """Keep the newest spis snapshot."""
    await _apply(
        ctx,
        "spis",
        snapshot.spis_id,
        snapshot.source_version,
        lambda: ctx.tx.put_spis(ctx.ico, snapshot),
    )


async def handle_dokument(ctx: HandlerContext, snapshot: DokumentSnapshot) -> None:
    """Keep the newest dokument snapshot."""
    await _apply(
        ctx,
        "dokument",
        snapshot.dokument_id,
        snapshot.source_version,
        lambda: ctx.tx.put_dokument(ctx.ico, snapshot),
    )


async def handle_komponenta(ctx: HandlerContext, snapshot: KomponentaSnapshot) -> None:
    """Keep the newest komponenta snapshot (linked to content by its `soubor` path)."""
    await _apply(
        ctx,
        "komponenta",
        snapshot.komponenta_id,
        snapshot.source_version,
        lambda: ctx.tx.put_komponenta(ctx.ico, snapshot),
    )


async def handle_record_deleted(ctx: HandlerContext, deleted: RecordDeleted) -> None:
    """Mark a registry record deleted unless a newer version is held."""
    await _apply(
        ctx,
        deleted.table,
        deleted.record_id,
        deleted.source_version,
        lambda: ctx.tx.delete_record(
            deleted.table, ctx.ico, deleted.record_id, deleted.source_version
        ),
    )


async def handle_spis_closed(ctx: HandlerContext, closed: SpisClosed) -> None:
    """Move the spis to `closed` (waiting for content)."""
    current = await ctx.tx.spis_state(ctx.ico, closed.spis_id)
    new = on_closed(
        current,
        ico=ctx.ico,
        spis_id=closed.spis_id,
        source_version=closed.source_version,
        closed_at=closed.closed_at,
    )
    if new is None:
        ctx.log.info("spis_event_outdated", spis_id=closed.spis_id, spis_event="closed")
        return
    await ctx.tx.put_spis_state(new)
    ctx.registry_changed = True
    ctx.log.info(
        "spis_closed", spis_id=closed.spis_id, state=new.state, closing_seq=new.closing_seq
    )


async def handle_spis_reopened(ctx: HandlerContext, reopened: SpisReopened) -> None:
    """Move the spis back to `open`."""
    current = await ctx.tx.spis_state(ctx.ico, reopened.spis_id)
    new = on_reopened(
        current, ico=ctx.ico, spis_id=reopened.spis_id, source_version=reopened.source_version
    )
    if new is None:
        ctx.log.info("spis_event_outdated", spis_id=reopened.spis_id, spis_event="reopened")
        return
    await ctx.tx.put_spis_state(new)
    ctx.registry_changed = True
    ctx.log.info("spis_reopened", spis_id=reopened.spis_id)
