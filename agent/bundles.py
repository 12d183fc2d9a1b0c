"""Small files in bundles: which outbox rows qualify, grouping them, reading them in one hop.

A first load of many small files cost two confirmed messages and several
thread hand-offs per file. Consecutive small file rows (at most
`names.BUNDLE_MAX_FILE_BYTES`, one chunk or empty, whole files) go instead
as one `file_bundle` (see `protocol.bundle`): their content is the bytes
kept from hashing (`agent.kept_content`) or else read and re-verified against
the recorded SHA-256 in one worker-thread call, exactly as a single file's
chunk would be, so a file is never announced with content other than its
recorded version's.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

from agent.errors import FileChangedError
from agent.hasher import open_inside
from agent.records import FILE_KIND
from protocol import names

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agent.records import OutboxRow

__all__ = ["BundleGroup", "ReadJob", "bundleable", "read_verified_files"]

ReadJob = tuple[str, str, str, int, str]
"""What to read: `(wire path, folder's real root, file on disk, size, sha256)`."""


def bundleable(row: OutboxRow) -> bool:
    """Tell whether a row is a small file version that may travel in a bundle.

    A repair of some chunks only (`only_chunks`) and a diagnostics attachment
    (its own manifest kind) keep the single-file path, as does anything larger
    than one chunk.
    """
    return (
        row.kind == FILE_KIND
        and row.body is None
        and row.only_chunks is None
        and row.sha256 is not None
        and row.size is not None
        and row.size <= names.BUNDLE_MAX_FILE_BYTES
        # One chunk that is the whole file (or none): what a bundled manifest must say.
        and row.chunk_sha256 == ((row.sha256,) if row.size else ())
    )


class BundleGroup:
    """Consecutive bundleable rows, within the protocol's limits, each path at most once."""

    def __init__(self) -> None:
        self.rows: list[OutboxRow] = []
        self._bytes = 0
        self._paths: set[str] = set()

    def accepts(self, row: OutboxRow) -> bool:
        """Tell whether `row` (bundleable) still fits this bundle."""
        return (
            len(self.rows) < names.BUNDLE_MAX_FILES
            and self._bytes + (row.size or 0) <= names.BUNDLE_MAX_BYTES
            and row.path not in self._paths
        )

    def add(self, row: OutboxRow) -> None:
        """Add a row that `accepts` allowed."""
        self.rows.append(row)
        self._bytes += row.size or 0
        self._paths.add(row.path or "")

    def take(self) -> list[OutboxRow]:
        """Return the rows and start empty again."""
        rows = self.rows
        self.rows, self._bytes, self._paths = [], 0, set()
        return rows


def _read_verified(job: ReadJob) -> bytes:
    wire_path, root_real, path, size, sha256 = job
    with open_inside(root_real, path) as handle:
        data = handle.read(size + 1)
    if len(data) != size:
        raise FileChangedError(wire_path, f"{len(data)} bytes, {size} when it was hashed")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise FileChangedError(wire_path, "the content differs from when it was hashed")
    return data


def _read_all(jobs: Sequence[ReadJob]) -> list[bytes | OSError | FileChangedError]:
    results: list[bytes | OSError | FileChangedError] = []
    for job in jobs:
        try:
            results.append(_read_verified(job))
        except (OSError, FileChangedError) as exc:
            results.append(exc)
    return results


async def read_verified_files(
    jobs: Sequence[ReadJob],
) -> list[bytes | OSError | FileChangedError]:
    """Read and verify every file in one worker-thread call.

    Returns:
        For each job in order: its verified bytes, or why it cannot be sent
        (`FileNotFoundError` and `FileChangedError`: superseded; another
        `OSError`: unreadable for now).
    """
    return await asyncio.to_thread(_read_all, jobs)
