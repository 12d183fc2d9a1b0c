"""Content family: file versions, their chunks and tombstones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from protocol.base import Message, NonNegative, Sha256
from protocol.errors import UnsafePathError
from protocol.names import MAX_CHUNK_SIZE
from protocol.paths import safe_relative_path

__all__ = ["ChunkMeta", "FileVersion", "Tombstone"]

ChunkSize = Annotated[int, msgspec.Meta(gt=0, le=MAX_CHUNK_SIZE)]
OptionalSha256 = Annotated[str, msgspec.Meta(pattern="^([0-9a-f]{64})?$")]
TransferId = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{0,32}$")]
SourceEpoch = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{0,32}$")]


def _require_nfc_safe(path: str) -> None:
    if safe_relative_path(path) != path:
        raise UnsafePathError(path, "is not in Unicode NFC form")


class FileVersion(Message, frozen=True, kw_only=True, tag="file_version"):
    """A file's new content, sent after all its chunks.

    Attributes:
        path: Safe relative NFC path, `<folder name>/…` when an agent has several folders.
        size: Bytes.
        mtime_ns: Modification time on the agent's disk.
        sha256: Hash of the whole file.
        chunk_size: Size of every chunk but the last.
        chunk_sha256: Hash of each chunk in order; empty for an empty file.
        source_seq: The agent's increasing change number: a lower one never
            becomes the current version of `path` over a higher one.
        source_epoch: Names the agent's state database that counted `source_seq`
            (random, made with the state); a new one (a reinstalled agent
            counting from 1 again) continues after everything the hub holds.
            Empty from agents that predate it.
    """

    path: str
    size: NonNegative
    mtime_ns: int
    sha256: Sha256
    chunk_size: ChunkSize
    chunk_sha256: tuple[Sha256, ...]
    source_seq: NonNegative
    source_epoch: SourceEpoch = ""

    def __post_init__(self) -> None:
        """Reject unsafe paths and chunk lists that cannot cover `size` bytes."""
        _require_nfc_safe(self.path)
        expected = -(-self.size // self.chunk_size)
        if len(self.chunk_sha256) != expected:
            raise ValueError(
                f"{len(self.chunk_sha256)} chunk hashes for {self.size} bytes "
                f"in chunks of {self.chunk_size}, expected {expected}"
            )


class Tombstone(Message, frozen=True, kw_only=True, tag="tombstone"):
    """A file that disappeared from a watched folder.

    Attributes:
        path: Safe relative NFC path of the deleted file.
        source_seq: The agent's change number (see `FileVersion.source_seq`).
        deleted_at: When the agent noticed the deletion.
        source_epoch: See `FileVersion.source_epoch`.
    """

    path: str
    source_seq: NonNegative
    deleted_at: datetime
    source_epoch: SourceEpoch = ""

    def __post_init__(self) -> None:
        """Reject unsafe paths."""
        _require_nfc_safe(self.path)


class ChunkMeta(Message, frozen=True, kw_only=True, tag="chunk"):
    """What travels in the AMQP headers of a chunk; the raw bytes are the body.

    Attributes:
        object_sha256: Hash of the whole object (file or SIP) the chunk belongs
            to; empty on a chunk sent while its file was still being hashed.
        index: Position of the chunk, from 0.
        sha256: Hash of this chunk's bytes.
        transfer: The message id of the manifest that will name the chunk (empty
            from senders that predate it). A large file's first chunks go while
            the file is still being hashed, before its whole hash is known: they
            name their transfer only.
        base: Hash of a chunk the same obec uploaded before; set, the body is
            a delta against it (`protocol.delta`), not the chunk's bytes. Empty
            from senders that predate it, and for a chunk sent whole.
    """

    object_sha256: OptionalSha256
    index: NonNegative
    sha256: Sha256
    transfer: TransferId = ""
    base: OptionalSha256 = ""

    def __post_init__(self) -> None:
        """Require the object's hash or the transfer: the hub files the chunk under one."""
        if not self.object_sha256 and not self.transfer:
            raise ValueError("a chunk names neither its object's hash nor its transfer")

    @property
    def object_key(self) -> str:
        """What the hub follows the chunk's object by: its transfer, else its object's hash."""
        return self.transfer or self.object_sha256
