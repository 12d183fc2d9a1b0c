"""Chunks sent as deltas: rebuilt from the obec's own earlier chunk before anything relies on them.

An agent sends a changed chunk of an edited document as a delta against the
chunk at its place in the version the hub confirmed (`protocol.delta`). The
batcher rebuilds it here, before the chunk is verified and stored like any
other: a chunk rebuilt wrongly (a CRC that matched other bytes) fails its
SHA-256 there. The base must be a chunk the same obec uploaded, or a delta
would tell an obec whether another one holds some content. A chunk that
cannot be rebuilt is left as it came and counts as corrupt: the manifest
naming it asks the agent for it again, whole.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import structlog

from hub.errors import BlobNotFoundError
from hub.inspection import ChunkItem
from protocol.delta import apply_delta

if TYPE_CHECKING:
    from hub.inspection import Inspected
    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataStore
    from protocol import ChunkMeta

__all__ = ["rebuild_chunk"]

log = structlog.get_logger(__name__)


async def rebuild_chunk(
    item: Inspected, store: MetadataStore, blobs: BlobStore
) -> Inspected | None:
    """The delivery of a chunk sent as a delta, with the chunk's bytes rebuilt.

    None, logged: the base is not this obec's, no longer stored, or the delta
    does not fit it.

    Raises:
        StoreUnavailableError: If the metadata store cannot serve.
        BlobError: If the blob store fails (other than a missing blob).
    """
    chunk = item.payload
    assert isinstance(chunk, ChunkItem)
    assert chunk.delta is not None
    meta = chunk.meta
    if not await store.owns_chunk(item.ico, meta.base):
        _unusable(item, meta, "the obec holds no such chunk")
        return None
    try:
        body = apply_delta(await blobs.read(meta.base), chunk.delta)
    except (BlobNotFoundError, ValueError) as exc:
        _unusable(item, meta, str(exc))
        return None
    return dataclasses.replace(item, payload=ChunkItem(meta=meta, body=body))


def _unusable(item: Inspected, meta: ChunkMeta, reason: str) -> None:
    log.warning(
        "chunk_delta_unusable",
        ico=item.ico,
        object_sha256=meta.object_sha256,
        index=meta.index,
        base=meta.base,
        reason=reason,
    )
