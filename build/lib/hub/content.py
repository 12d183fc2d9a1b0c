"""Whole files from their chunks: verification on ingest and streaming back out.

A file's content is the ordered list of its chunks (see `hub.store.metadata`);
nothing here ever holds a whole file in memory. Hashing runs in a worker
thread (hashlib releases the GIL), so a large verification never stalls the
event loop that serves every other obec.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING, NamedTuple

from hub.errors import BlobNotFoundError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataStore

__all__ = ["ContentClaim", "content_matches", "open_content"]


class ContentClaim(NamedTuple):
    """What a manifest claims: these chunks, in order, make `size` bytes hashing to `sha256`."""

    sha256: str
    chunks: tuple[str, ...]
    size: int


async def content_matches(
    blobs: BlobStore, chunks: Sequence[str], *, size: int, sha256: str
) -> bool:
    """Stream `chunks` in order and tell whether they make `size` bytes hashing to `sha256`.

    Raises:
        BlobNotFoundError: If a chunk's blob is missing.
        BlobError: If the store fails.
    """
    digest = hashlib.sha256()
    total = 0
    for chunk in chunks:
        async for block in blobs.open(chunk):
            total += len(block)
            if total > size:
                return False
            await asyncio.to_thread(digest.update, block)
    return total == size and digest.hexdigest() == sha256


async def open_content(store: MetadataStore, blobs: BlobStore, sha256: str) -> AsyncIterator[bytes]:
    """Stream the bytes of a recorded content (a file version's `sha256`).

    Raises:
        BlobNotFoundError: If no content with that hash is recorded or a chunk is gone.
    """
    content = await store.content(sha256)
    if content is None:
        raise BlobNotFoundError(f"no content {sha256} is recorded")
    for chunk in content.chunks:
        async for block in blobs.open(chunk):
            yield block
