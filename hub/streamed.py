"""Whole-file hashes taken as a file's chunks are stored, so its manifest needs no read-back.

A large file's chunks arrive in order, each verified against its own SHA-256
before its blob is stored. Feeding those same bytes, in that order, into a
running SHA-256 of the whole object gives the hash the manifest claims
without reading the file back from the blob store afterwards (which, for a
1 GiB file, costs the hub a second pass over every byte after the last chunk
arrived, with the agent waiting for its receipt).

An object is followed by its transfer (the manifest's message id, which
chunks name since agents send a large file's first chunks while still hashing
it), or by its whole hash from agents that predate transfers. Only an unbroken
run counts: chunks 0, 1, 2, ... of one obec's object, each verified. Anything
else (a resumed transfer that skips confirmed chunks, a redelivery out of
order, more objects in flight than are kept) leaves no verdict here, and the
claim is verified by reading its chunks back as before.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hub.content import ContentClaim

__all__ = ["StreamedChunk", "StreamedDigests"]

StreamedChunk = tuple[str, str, int, str, bytes]
"""`(ico, object key, index, chunk_sha256, bytes)` of a chunk verified and stored.

The object key is `ChunkMeta.object_key`: the transfer, else the object's hash."""

_KEEP_OBJECTS = 64
"""Objects followed at once; each holds a hash state and its chunks' hashes.

An obec sends one file's chunks at a time, so this is far more than the hub's
obce have in flight together; past it the oldest is forgotten (and verified by
reading it back)."""


class _Run:
    """One object's chunks so far: their hashes, their bytes hashed together.

    `hashing` counts feeds whose bytes are still being hashed into `digest`:
    until they are done, the run gives no verdict.
    """

    __slots__ = ("chunks", "digest", "hashing", "size")

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.chunks: list[str] = []
        self.size = 0
        self.hashing = 0


def _hash_in_order(runs: list[_Run], updates: list[tuple[_Run, bytes]]) -> None:
    try:
        for run, data in updates:
            run.digest.update(data)
    finally:
        for run in runs:
            run.hashing -= 1


class StreamedDigests:
    """Running whole-object hashes of the chunks stored, per obec and object."""

    def __init__(self, keep: int = _KEEP_OBJECTS) -> None:
        self._keep = keep
        self._runs: OrderedDict[tuple[str, str], _Run] = OrderedDict()

    async def feed(self, chunks: Iterable[StreamedChunk]) -> None:
        """Add verified, stored chunks in the order they arrived.

        The bookkeeping is done here, on the event loop; the bytes are hashed
        in a worker thread (about a millisecond per MiB that the loop, which
        receives every obec's deliveries, does not spend), in order.

        Chunk 0 starts an object again; the next chunk extends it; one seen
        already (a redelivery) changes nothing; any other breaks the run.
        """
        updates: list[tuple[_Run, bytes]] = []
        for ico, object_key, index, sha256, data in chunks:
            key = (ico, object_key)
            run = self._runs.get(key)
            if index == 0 and (run is None or run.chunks[:1] != [sha256]):
                run = self._runs[key] = _Run()
            elif run is None or (index < len(run.chunks) and run.chunks[index] == sha256):
                continue
            elif index != len(run.chunks):
                del self._runs[key]
                continue
            updates.append((run, data))
            run.chunks.append(sha256)
            run.size += len(data)
            self._runs.move_to_end(key)
            while len(self._runs) > self._keep:
                self._runs.popitem(last=False)
        if not updates:
            return
        runs = list({id(run): run for run, _ in updates}.values())
        for run in runs:
            run.hashing += 1
        await asyncio.to_thread(_hash_in_order, runs, updates)

    def verdict(self, ico: str, claim: ContentClaim, transfer: str) -> bool | None:
        """Whether `claim`'s chunks make its file, if they were followed whole; else None.

        `transfer` is the message id of the manifest making the claim.
        """
        run = self._runs.get((ico, transfer)) or self._runs.get((ico, claim.sha256))
        if run is None or run.hashing or tuple(run.chunks) != claim.chunks:
            return None
        return run.size == claim.size and run.digest.hexdigest() == claim.sha256

    def forget(self, ico: str, object_sha256: str, transfer: str) -> None:
        """Drop an object's run once its manifest is settled."""
        self._runs.pop((ico, transfer), None)
        self._runs.pop((ico, object_sha256), None)
