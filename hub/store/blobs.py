"""The blob store interface: content-addressed bytes, keyed by their SHA-256.

The hub stores file contents as chunks (see `hub.store.metadata`); each chunk
is one blob. A blob store never holds bytes under a hash they do not have:
`put` verifies before anything becomes visible.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Protocol

from hub.errors import BlobError, BlobHashMismatchError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping
    from pathlib import Path

__all__ = ["READ_BLOCK_SIZE", "BlobStore", "blob_key", "check_sha256", "verify_bytes"]

READ_BLOCK_SIZE = 1024 * 1024

_SHA256 = re.compile("^[0-9a-f]{64}$")


def check_sha256(sha256: str) -> str:
    """Return `sha256` if it is 64 lower-case hex digits, else raise `BlobError`."""
    if not _SHA256.match(sha256):
        raise BlobError(f"not a lower-case hex SHA-256: {sha256!r}")
    return sha256


def blob_key(sha256: str) -> str:
    """Return the relative key of a blob: `ab/cd/<sha256>` (fan-out keeps folders small)."""
    check_sha256(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def verify_bytes(sha256: str, data: bytes) -> None:
    """Raise `BlobHashMismatchError` unless `data` hashes to `sha256`."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BlobHashMismatchError(sha256, actual)


class BlobStore(Protocol):
    """Content-addressed storage of bytes (a local folder, S3-compatible storage)."""

    async def put(self, sha256: str, data: bytes) -> None:
        """Store `data` durably under `sha256` after verifying the hash.

        Storing a blob that already exists is a no-op.

        Raises:
            BlobHashMismatchError: If `data` does not hash to `sha256`.
            BlobError: If the store fails.
        """
        ...

    async def put_many(self, blobs: Mapping[str, bytes]) -> set[str]:
        """Store each blob durably under its hash, as `put` does, all before returning.

        A batch of chunks is stored together so that a store may make them
        durable together (one filesystem sync rather than two per blob).

        Returns:
            The hashes whose bytes did not match: nothing is stored for those.

        Raises:
            BlobError: If the store fails (some of the blobs may be stored).
        """
        ...

    async def put_file(self, sha256: str, path: Path) -> None:
        """Store the file at `path` durably under `sha256`, streaming and verifying it.

        Raises:
            BlobHashMismatchError: If the file does not hash to `sha256`.
            BlobError: If the store fails.
        """
        ...

    async def exists(self, sha256: str) -> bool:
        """Tell whether a blob is stored under `sha256`."""
        ...

    async def read(self, sha256: str) -> bytes:
        """Return a whole blob (chunks are small; stream large ones with `open`).

        Raises:
            BlobNotFoundError: If there is none.
        """
        ...

    def open(self, sha256: str) -> AsyncIterator[bytes]:
        """Stream a blob in blocks of at most `READ_BLOCK_SIZE` bytes.

        Raises:
            BlobNotFoundError: If there is none (when iteration starts).
        """
        ...

    async def delete(self, sha256: str) -> None:
        """Remove a blob; removing a missing one is a no-op."""
        ...

    async def close(self) -> None:
        """Release connections and other resources."""
        ...
