"""Edited files sent as their changes: which versions go as deltas, and what is remembered.

A town hall's day on a slow link is new scans and edited documents; an edited
document sent whole costs its whole size again. The publisher remembers the
block signature of each file version of one chunk whose content it sent (at
least `MIN_BYTES`; smaller ones gain too little), one per path, in the state
(`sent_signatures`). When the next version of the path is sent, and the hub
confirmed it holds the remembered one (`held`), the chunk goes as a delta
against it (`protocol.delta`). A repair (`only_chunks`, `force_content`)
always goes whole: the hub asked for it because a delta or a stored copy
failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.records import FILE_KIND, Signature
from protocol.delta import block_signature, make_delta

if TYPE_CHECKING:
    from agent.records import OutboxRow
    from protocol.delta import Delta

__all__ = ["MIN_BYTES", "delta_for", "remembered", "signature_of"]

MIN_BYTES = 64 * 1024
"""Smaller files go whole: a delta would save a few kilobytes at most."""


def remembered(row: OutboxRow) -> bool:
    """Tell whether a row's version is a file whose signature is kept for its next version."""
    return (
        row.kind == FILE_KIND
        and row.path is not None
        and row.sha256 is not None
        and (row.size or 0) >= MIN_BYTES
        and row.chunk_sha256 == (row.sha256,)  # one chunk: the whole file
    )


def signature_of(row: OutboxRow, content: bytes) -> Signature:
    """The signature to remember of a `remembered` row whose content is `content`."""
    assert row.path is not None
    assert row.sha256 is not None
    return Signature(
        path=row.path, sha256=row.sha256, size=len(content), blocks=block_signature(content)
    )


def delta_for(row: OutboxRow, content: bytes, base: Signature) -> Delta | None:
    """`content` of a `remembered` row as a delta against `base`, or None: send it whole."""
    if row.only_chunks is not None or row.force_content or base.sha256 == row.sha256:
        return None
    return make_delta(content, base.blocks, base.size)
