"""Content handlers: chunks, file version manifests and tombstones.

A file version is recorded only when every chunk was uploaded by this obec
itself (so nobody learns from a receipt that another obec holds some content)
and the chunks, streamed in order, make exactly `size` bytes with the file's
SHA-256. Otherwise the agent gets a `NeedChunks` and sends them again with the
manifest; nothing is recorded meanwhile.

Reading the chunks back is slow work, so it never happens here, inside the
transaction every obec's batch shares: the handler checks what costs nothing
(the `[limits]`, the chunks' recorded sizes, repeats counted) and asks the
batcher to verify the claim (`ctx.verify`); the batcher does so outside the
batch and applies the manifest again with the verdict.

A bundle (`file_bundle`) of small files is applied by the rules of each
file's one chunk and then its manifest, with nothing to read back (its bytes
were hashed at inspection and stored as chunk blobs before), and with a few
statements for all its files instead of a dozen per file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.content import ContentClaim
from hub.errors import RejectDelivery, RetryLater
from hub.store.models import ContentRow, FileVersionRow
from protocol import FileVersion

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.handlers.base import HandlerContext
    from hub.inspection import ChunkItem
    from protocol import Attachment, FileBundle, Tombstone

__all__ = [
    "REASON_BUNDLE_NOT_STORED",
    "REASON_FILE_TOO_LARGE",
    "REASON_REPEATED_CHUNKS",
    "REASON_SOURCE_SEQ_JUMP",
    "REASON_VERSION_CONFLICT",
    "handle_chunk",
    "handle_file_bundle",
    "handle_file_version",
    "handle_tombstone",
    "verify_content",
]

REASON_VERSION_CONFLICT = "version_conflict"
REASON_FILE_TOO_LARGE = "file_too_large"
REASON_REPEATED_CHUNKS = "repeated_chunks"
REASON_SOURCE_SEQ_JUMP = "source_seq_jump"
REASON_BUNDLE_NOT_STORED = "bundle_not_stored"


async def handle_chunk(ctx: HandlerContext, item: ChunkItem, *, verified: bool) -> None:
    """Record a chunk the batcher verified and stored, or remember that it was corrupt."""
    meta = item.meta
    if verified:
        await _add_chunk(ctx, meta.sha256, len(item.body))
        return
    # Filed under the object's hash where the chunk names it, else under its
    # transfer; the manifest looks under both (`_record_version`).
    key = meta.object_sha256 or meta.transfer
    await ctx.tx.record_corrupt_chunk(ctx.ico, key, meta.index, meta.sha256)
    ctx.log.warning(
        "chunk_rejected",
        object_sha256=meta.object_sha256,
        transfer=meta.transfer,
        index=meta.index,
        sha256=meta.sha256,
        reason="hash mismatch",
    )


async def _add_chunk(ctx: HandlerContext, sha256: str, size: int) -> None:
    """Record a chunk whose blob the batcher verified and stored (or found stored)."""
    if await ctx.tx.chunk_was_released(sha256) and not await ctx.blobs.exists(sha256):
        # The batch skipped writing this blob because it was stored, and a
        # release deleted it since: write it again before recording it.
        raise RetryLater(f"chunk {sha256} was released meanwhile", defer_s=0.0)
    await ctx.tx.add_chunk(ctx.ico, sha256, size)


def _check_limits(ctx: HandlerContext, manifest: FileVersion, seq: int, highest: int) -> None:
    """Refuse a new version the obec's `[limits]` do not allow.

    A change number far above any the obec sent is forged: it would stay
    current forever.

    Raises:
        RejectDelivery: If `seq` jumps past `highest` by more than the bound (a
            security event), or the file is too large.
    """
    if seq > highest + ctx.limits.max_source_seq_jump:
        raise _source_seq_jump(ctx, manifest.path, seq, highest)
    if manifest.size > ctx.limits.max_file_bytes:
        raise RejectDelivery(
            REASON_FILE_TOO_LARGE,
            f"{manifest.path}: {manifest.size} bytes exceed the hub's [limits] "
            f"max_file_bytes = {ctx.limits.max_file_bytes}",
        )


async def _check_source_seq(ctx: HandlerContext, path: str, source_seq: int) -> None:
    """Refuse a change number far above any the obec sent (see `_check_limits`).

    Raises:
        RejectDelivery: A security event, if `source_seq` jumps past the bound.
    """
    highest = await ctx.tx.highest_source_seq(ctx.ico)
    if source_seq > highest + ctx.limits.max_source_seq_jump:
        raise _source_seq_jump(ctx, path, source_seq, highest)


def _source_seq_jump(
    ctx: HandlerContext, path: str, source_seq: int, highest: int
) -> RejectDelivery:
    return RejectDelivery(
        REASON_SOURCE_SEQ_JUMP,
        f"{path}: source_seq {source_seq} jumps beyond the highest recorded ({highest}) "
        f"plus the hub's [limits] max_source_seq_jump = {ctx.limits.max_source_seq_jump}",
        security=True,
    )


def _conflict(path: str, source_seq: int, existing: str) -> RejectDelivery:
    return RejectDelivery(
        REASON_VERSION_CONFLICT,
        f"{path} version {source_seq} is already recorded as {existing}",
    )


async def _recorded_seq(ctx: HandlerContext, message: FileVersion | Tombstone) -> int:
    """The number the hub records `message` under: its `source_seq` after its epoch's base.

    Receipts carry the agent's own `source_seq`; the hub orders versions by
    this one, so a reinstalled agent counting from 1 again (a new epoch) still
    makes the current versions.
    """
    base = await ctx.tx.epoch_base(ctx.ico, message.source_epoch, ctx.received_at)
    return base + message.source_seq


async def handle_file_version(ctx: HandlerContext, manifest: FileVersion) -> None:
    """Record a file version if its content is complete and verified; reply either way."""
    seq = await _recorded_seq(ctx, manifest)
    existing = await ctx.tx.file_version(ctx.ico, manifest.path, seq)
    if existing is not None:
        _confirm_existing(ctx, manifest, existing)
        return
    await _check_new_version(ctx, manifest, seq)
    await _record_version(ctx, manifest, seq)


async def handle_file_bundle(ctx: HandlerContext, bundle: FileBundle, *, verified: bool) -> None:
    """Apply a bundle's small files by the rules of one chunk and then its manifest each.

    Inspection hashed every file's bytes against its manifest and the batcher
    stored them as chunk blobs (`verified`), so each file's content claim holds
    without reading anything back. Every file is checked before any is
    recorded: one the hub refuses (a version conflict, a file over the obec's
    `[limits]`, a forged `source_seq`) refuses the whole bundle with nothing
    of it recorded. The rest is recorded a statement per step for all files,
    not per file; each manifest's own message id is recorded, and every file
    is confirmed (again, if it was recorded before).
    """
    if not verified:
        raise RejectDelivery(
            REASON_BUNDLE_NOT_STORED, "the blob store did not accept the bundle's content"
        )
    manifests = [entry.manifest for entry in bundle.files]
    new = await _new_versions(ctx, manifests)
    chunks = {entry.manifest.sha256: len(entry.content) for entry in bundle.files if entry.content}
    released = await ctx.tx.released_chunks(chunks)
    for sha256 in released:
        if not await ctx.blobs.exists(sha256):
            # As in `_add_chunk`: the batch skipped a blob a release deleted since.
            raise RetryLater(f"chunk {sha256} was released meanwhile", defer_s=0.0)
    await ctx.tx.add_chunks(ctx.ico, sorted(chunks.items()))
    known = await ctx.tx.contents({m.sha256 for m, _ in new})
    fresh = {
        m.sha256: ContentRow(
            sha256=m.sha256, size=m.size, chunk_size=m.chunk_size, chunks=m.chunk_sha256
        )
        for m, _ in new
        if m.sha256 not in known
    }
    await ctx.tx.add_new_contents(list(fresh.values()))
    await ctx.tx.add_file_versions([_version_row(ctx, m, seq) for m, seq in new])
    await ctx.tx.clear_corrupt_chunks_of(ctx.ico, {m.sha256 for m, _ in new})
    await ctx.tx.record_messages([m.message_id for m, _ in new], ctx.ico, "file_version")
    ctx.registry_changed = ctx.registry_changed or bool(new)
    for manifest in manifests:
        ctx.receipt(path=manifest.path, sha256=manifest.sha256, source_seq=manifest.source_seq)
    ctx.log.info("file_bundle_recorded", files=len(manifests), new=len(new))


async def _new_versions(
    ctx: HandlerContext, manifests: list[FileVersion]
) -> list[tuple[FileVersion, int]]:
    """Return the manifests not recorded yet with their recorded seq; refuse a bad one.

    Raises:
        RejectDelivery: A version conflict, or a new version the obec's `[limits]` refuse.
    """
    bases: dict[str, int] = {}
    for epoch in {m.source_epoch for m in manifests}:
        bases[epoch] = await ctx.tx.epoch_base(ctx.ico, epoch, ctx.received_at)
    seqs = [bases[m.source_epoch] + m.source_seq for m in manifests]
    existing = await ctx.tx.file_versions(
        ctx.ico, [(m.path, seq) for m, seq in zip(manifests, seqs, strict=True)]
    )
    highest = await ctx.tx.highest_source_seq(ctx.ico)
    new: list[tuple[FileVersion, int]] = []
    for manifest, seq in zip(manifests, seqs, strict=True):
        found = existing.get((manifest.path, seq))
        if found is None:
            _check_limits(ctx, manifest, seq, highest)
            new.append((manifest, seq))
        elif found.sha256 != manifest.sha256:
            raise _conflict(manifest.path, manifest.source_seq, found.sha256 or "a tombstone")
    return new


def _confirm_existing(ctx: HandlerContext, manifest: FileVersion, existing: FileVersionRow) -> None:
    """Receipt a version recorded before (a redelivery), unless the path's version differs.

    Raises:
        RejectDelivery: If that version of the path is recorded with other content.
    """
    if existing.sha256 != manifest.sha256:
        raise _conflict(manifest.path, manifest.source_seq, existing.sha256 or "a tombstone")
    ctx.receipt(path=manifest.path, sha256=manifest.sha256, source_seq=manifest.source_seq)


async def _check_new_version(ctx: HandlerContext, manifest: FileVersion, seq: int) -> None:
    """Refuse a new version the obec's `[limits]` do not allow (see `_check_limits`)."""
    _check_limits(ctx, manifest, seq, await ctx.tx.highest_source_seq(ctx.ico))


async def _record_version(ctx: HandlerContext, manifest: FileVersion, seq: int) -> None:
    """Record a new version whose chunks are all present and verified; else ask for them."""
    owned = await ctx.tx.owned_chunks(ctx.ico, manifest.chunk_sha256)
    missing = [i for i, sha in enumerate(manifest.chunk_sha256) if sha not in owned]
    if missing:
        corrupt = await ctx.tx.corrupt_indexes(ctx.ico, manifest.sha256)
        corrupt |= await ctx.tx.corrupt_indexes(ctx.ico, manifest.message_id)
        bad = sorted(corrupt & set(missing))
        reason = f"missing chunks {_ranges(missing)}"
        if bad:
            reason += f" (failed verification: {_ranges(bad)})"
        ctx.need_chunks(path=manifest.path, sha256=manifest.sha256, indexes=missing, reason=reason)
        ctx.log.info("file_version_incomplete", path=manifest.path, missing=len(missing))
        return
    verdict = await verify_content(ctx, manifest, owned)
    if verdict is None:
        ctx.log.info("file_version_verifying", path=manifest.path, size=manifest.size)
        return
    if not verdict:
        ctx.need_chunks(
            path=manifest.path,
            sha256=manifest.sha256,
            indexes=(),
            reason="the chunks do not make a file with the manifest's size and SHA-256",
        )
        ctx.log.warning("file_version_hash_mismatch", path=manifest.path, sha256=manifest.sha256)
        return
    await ctx.tx.add_file_version(_version_row(ctx, manifest, seq))
    await ctx.tx.clear_corrupt_chunks_of(ctx.ico, {manifest.sha256, manifest.message_id})
    await ctx.tx.record_message(ctx.message_id, ctx.ico, "file_version")
    ctx.registry_changed = True
    ctx.receipt(path=manifest.path, sha256=manifest.sha256, source_seq=manifest.source_seq)
    # Per file at debug only: a first load records thousands a second (rendering
    # this line was a third of the hub's CPU then); `hub files` and the console
    # show every version.
    ctx.log.debug(
        "file_version_recorded",
        path=manifest.path,
        source_seq=manifest.source_seq,
        recorded_seq=seq,
        sha256=manifest.sha256,
        size=manifest.size,
    )


async def verify_content(
    ctx: HandlerContext, manifest: FileVersion | Attachment, chunk_sizes: Mapping[str, int]
) -> bool | None:
    """Tell whether the manifest's chunks make its file, recording the content if new.

    None: the claim must be verified outside the transaction first (`ctx.verify`).
    A diagnostics attachment is verified exactly like a file version.

    Raises:
        RejectDelivery: If the manifest repeats its chunks beyond `max_repeat_factor`.
    """
    known = await ctx.tx.content(manifest.sha256)
    if known is not None and known.chunks == manifest.chunk_sha256 and known.size == manifest.size:
        return True
    # The recorded sizes, each repeat counted: checked before a byte is read.
    if sum(chunk_sizes[sha] for sha in manifest.chunk_sha256) != manifest.size:
        return False
    distinct = sum(chunk_sizes[sha] for sha in set(manifest.chunk_sha256))
    if manifest.size > distinct * ctx.limits.max_repeat_factor:
        raise RejectDelivery(
            REASON_REPEATED_CHUNKS,
            f"{_label(manifest)}: {manifest.size} bytes from {distinct} bytes of distinct chunks "
            f"exceed the hub's [limits] max_repeat_factor = {ctx.limits.max_repeat_factor}",
        )
    claim = ContentClaim(manifest.sha256, manifest.chunk_sha256, manifest.size)
    if list(manifest.chunk_sha256) == [manifest.sha256]:
        # A file of one chunk is that chunk, whose SHA-256 was verified before
        # its blob was stored: reading the blob back would hash the same bytes.
        matches = True
    elif (verdict := ctx.verified.get(claim)) is not None:
        matches = verdict
    elif (verdict := ctx.streamed.verdict(ctx.ico, claim, ctx.message_id)) is not None:
        # Its chunks were hashed in order as they were stored: nothing to read back.
        matches = verdict
    else:
        ctx.verify = claim
        return None
    if matches:
        await ctx.tx.add_content(
            ContentRow(
                sha256=manifest.sha256,
                size=manifest.size,
                chunk_size=manifest.chunk_size,
                chunks=manifest.chunk_sha256,
            )
        )
    return matches


async def handle_tombstone(ctx: HandlerContext, tombstone: Tombstone) -> None:
    """Record a deletion as a new version of the path (the older versions stay)."""
    seq = await _recorded_seq(ctx, tombstone)
    existing = await ctx.tx.file_version(ctx.ico, tombstone.path, seq)
    if existing is not None:
        if not existing.deleted:
            raise _conflict(tombstone.path, tombstone.source_seq, existing.sha256 or "")
        return
    await _check_source_seq(ctx, tombstone.path, seq)
    await ctx.tx.add_file_version(
        FileVersionRow(
            ico=ctx.ico,
            path=tombstone.path,
            source_seq=seq,
            sha256=None,
            size=None,
            mtime_ns=None,
            deleted=True,
            recorded_at=ctx.received_at,
        )
    )
    await ctx.tx.record_message(ctx.message_id, ctx.ico, "tombstone")
    ctx.registry_changed = True
    ctx.log.info(
        "tombstone_recorded", path=tombstone.path, source_seq=tombstone.source_seq, recorded_seq=seq
    )


def _label(manifest: FileVersion | Attachment) -> str:
    return manifest.path if isinstance(manifest, FileVersion) else f"attachment {manifest.name}"


def _ranges(indexes: list[int]) -> str:
    """Return `0-3, 7` for [0, 1, 2, 3, 7]: short reasons even for large files."""
    parts: list[str] = []
    start = prev = indexes[0]
    for index in indexes[1:]:
        if index == prev + 1:
            prev = index
            continue
        parts.append(f"{start}-{prev}" if prev > start else str(start))
        start = prev = index
    parts.append(f"{start}-{prev}" if prev > start else str(start))
    return ", ".join(parts)


def _version_row(ctx: HandlerContext, manifest: FileVersion, seq: int) -> FileVersionRow:
    """The row a new version of `manifest` is recorded as (under the hub's `seq`)."""
    return FileVersionRow(
        ico=ctx.ico,
        path=manifest.path,
        source_seq=seq,
        sha256=manifest.sha256,
        size=manifest.size,
        mtime_ns=manifest.mtime_ns,
        deleted=False,
        recorded_at=ctx.received_at,
    )
