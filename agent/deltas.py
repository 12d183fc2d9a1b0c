"""Edited files sent as their changes: which versions go as deltas, and what is remembered.

A town hall's day on a slow link is new scans and edited documents; an edited
document sent whole costs its whole size again. When a file of `MIN_BYTES` to
`MAX_BYTES` is hashed, its block signature (`protocol.delta.block_signature`,
1 KiB per MiB) is taken on the way and kept until the version is sent; once
the broker confirmed the version, the signature is remembered in the state
(`sent_signatures`, one per path). When the next version of the path is sent,
and the hub confirmed it holds the remembered one (`held`), each changed chunk
goes as a delta against the chunk of the same place in it (`protocol.delta`);
unchanged chunks are not sent at all (`held_chunks`). A repair (`only_chunks`,
`force_content`) always goes whole: the hub asked for it because a delta or a
stored copy failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.records import FILE_KIND, Signature
from protocol.delta import BLOCK_SIZE, block_signature, make_delta, signature_slice

if TYPE_CHECKING:
    from agent.kept_content import KeptContent
    from agent.records import OutboxRow
    from protocol.delta import Delta

__all__ = ["MAX_BYTES", "MIN_BYTES", "chunk_delta", "remembered", "signature_to_remember", "signed"]

MIN_BYTES = 64 * 1024
"""Smaller files go whole: a delta would save a few kilobytes at most."""
MAX_BYTES = 16 * 1024 * 1024
"""Larger files (mailboxes, databases) send only their changed chunks (`held_chunks`)."""


def signed(size: int, chunk_size: int) -> bool:
    """Tell whether a file of `size` bytes in chunks of `chunk_size` keeps a signature.

    Chunks of several must start on a block boundary, so that each chunk's blocks
    are a slice of the file's signature.
    """
    return MIN_BYTES <= size <= MAX_BYTES and (size <= chunk_size or chunk_size % BLOCK_SIZE == 0)


def remembered(row: OutboxRow) -> bool:
    """Tell whether a row's version is a file whose signature is kept for its next version."""
    return (
        row.kind == FILE_KIND
        and row.path is not None
        and row.sha256 is not None
        and row.chunk_size is not None
        and signed(row.size or 0, row.chunk_size)
    )


def signature_to_remember(
    row: OutboxRow, kept: KeptContent, content: bytes | None = None
) -> Signature | None:
    """The signature to remember of a row's version once it is sent, if it has one.

    Kept from hashing, else taken of `content` (the whole file) if given.
    """
    if not remembered(row):
        return None
    assert row.path is not None
    assert row.sha256 is not None
    assert row.chunk_size is not None
    blocks = kept.take_signature((row.folder or "", row.disk_path or "", row.sha256))
    if blocks is None and content is not None:
        blocks = block_signature(content)
    if blocks is None:
        return None
    return Signature(
        path=row.path,
        sha256=row.sha256,
        size=row.size or 0,
        chunk_size=row.chunk_size,
        chunks=row.chunk_sha256,
        blocks=blocks,
    )


def chunk_delta(
    row: OutboxRow, index: int, data: bytes, base: Signature
) -> tuple[Delta, str] | None:
    """Chunk `index` of a row (`data`) as a delta against the chunk at its place in `base`.

    Returns the delta and that chunk's hash; None: send the chunk whole.
    """
    if row.only_chunks is not None or row.force_content or base.chunk_size != row.chunk_size:
        return None
    if index >= len(base.chunks) or base.chunks[index] == row.chunk_sha256[index]:
        return None
    offset = index * base.chunk_size
    size = min(base.chunk_size, base.size - offset)
    delta = make_delta(data, signature_slice(base.blocks, offset, size), size)
    return None if delta is None else (delta, base.chunks[index])
