"""Blobs in a local folder: `<data_dir>/blobs/ab/cd/<sha256>`.

Every write goes to a temporary file in the target folder, is fsynced, renamed
into place and the folder fsynced, so a crash leaves either no blob or the
whole verified blob, never a torn one under its final name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import BlobError, BlobHashMismatchError, BlobNotFoundError
from hub.store.blobs import READ_BLOCK_SIZE, blob_key, verify_bytes
from spisync.files import CAN_SYNC_FILESYSTEM, sync_filesystem
from spisync.threads import open_in_thread

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

__all__ = ["LocalBlobStore"]

_SYNCFS_MIN_BLOBS = 16
"""Fewer blobs than this are fsynced each: a filesystem sync also flushes what
others wrote there (the broker's queue files), which costs more than a few fsyncs."""

_PARALLEL_PUTS = _SYNCFS_MIN_BLOBS
"""Blobs of one batch written and fsynced side by side: concurrent fsyncs share the
filesystem's journal commits, so a batch of large chunks waits for a few, not one each."""


def _write_new(path: str, data: bytes) -> None:
    """Write `data` to a new file (not synced: the caller syncs the filesystem)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """A `BlobStore` in a local folder.

    Args:
        root: The folder that holds the fan-out folders (created if missing).
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        # Fan-out folders known to exist: a first load of small files would
        # otherwise stat two folders per blob (they are never removed).
        self._folders: set[str] = set()
        self._writers = ThreadPoolExecutor(_PARALLEL_PUTS, thread_name_prefix="spisync-blob")

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self._root)!r})"

    def path_of(self, sha256: str) -> Path:
        """Return where the blob `sha256` lives (whether or not it exists)."""
        return self._root / blob_key(sha256)

    def _ensure_folder(self, folder: Path, *, sync: bool = True) -> None:
        """Create `folder` and its parents, fsyncing each parent a new entry appeared in.

        With `sync=False` the caller makes the new entries durable itself.
        """
        missing: list[Path] = []
        current = folder
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for created in reversed(missing):
            with contextlib.suppress(FileExistsError):
                created.mkdir()
            if sync:
                _fsync_dir(created.parent)

    def _put_one(self, sha256: str, data: bytes) -> bool:
        """Store one blob (blocking), hashing its bytes once; False if they do not match.

        `_write` hashes the bytes as it writes them and renames nothing into place
        that does not match; only when the blob exists already (a no-op write) are
        the bytes hashed on their own, so that wrong bytes are refused either way.
        """
        try:
            if self.path_of(sha256).exists():
                verify_bytes(sha256, data)
            self._write(sha256, iter((data,)))
        except BlobHashMismatchError:
            return False
        return True

    def _write_many(self, blobs: Mapping[str, bytes]) -> set[str]:
        """Write `blobs` (blocking); return the hashes whose bytes did not match.

        Many blobs (small files): every new one is written to its temporary file,
        then one filesystem sync makes them all durable, then they are renamed
        into place and a second sync makes the renames durable: two syncs for the
        batch instead of two fsyncs per blob. A crash in between leaves temporary
        files, never a torn blob. A few blobs (large chunks) are written and
        fsynced each, side by side.
        """
        if len(blobs) < _SYNCFS_MIN_BLOBS or not CAN_SYNC_FILESYSTEM:
            items = list(blobs.items())
            stored = self._writers.map(lambda item: self._put_one(*item), items)
            return {sha256 for (sha256, _), ok in zip(items, stored, strict=True) if not ok}
        refused = {sha for sha, data in blobs.items() if hashlib.sha256(data).hexdigest() != sha}
        # One random part per batch: the hashes (dict keys) make each name unique in it.
        batch = uuid.uuid4().hex
        root = str(self._root)
        written: list[tuple[str, str]] = []
        try:
            for sha256, data in blobs.items():
                if sha256 in refused:
                    continue
                # String paths, no existence check: a first load writes thousands of
                # blobs a second, and renaming onto a blob already there (same hash,
                # same bytes) changes nothing.
                folder = f"{root}/{sha256[:2]}/{sha256[2:4]}"
                tmp = f"{folder}/.{sha256}.{batch}.tmp"
                self._write_in(folder, tmp, data)
                written.append((tmp, f"{folder}/{sha256}"))
            if written:
                sync_filesystem(self._root)
            while written:
                tmp, target = written.pop()
                os.replace(tmp, target)  # noqa: PTH105 - str paths, see above
        finally:
            for tmp, _ in written:
                Path(tmp).unlink(missing_ok=True)
        # Also when nothing was new: a blob found in place may be one an earlier
        # attempt renamed and then failed to sync. (No folder yet: nothing to sync.)
        if self._root.is_dir():
            sync_filesystem(self._root)
        return refused

    def _write_in(self, folder: str, tmp: str, data: bytes) -> None:
        """Write `data` to the new file `tmp` in fan-out `folder`, creating the folder if needed."""
        if folder not in self._folders:
            self._ensure_folder(Path(folder), sync=False)
            self._folders.add(folder)
        try:
            _write_new(tmp, data)
        except FileNotFoundError:  # the folder was removed since (by hand): again
            self._ensure_folder(Path(folder), sync=False)
            _write_new(tmp, data)

    def _write(self, sha256: str, blocks: Iterator[bytes]) -> None:
        """Write `blocks` atomically as blob `sha256`, verifying the hash before the rename."""
        target = self.path_of(sha256)
        if target.exists():
            return
        self._ensure_folder(target.parent)
        tmp = target.with_name(f".{sha256}.{uuid.uuid4().hex}.tmp")
        digest = hashlib.sha256()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            try:
                for block in blocks:
                    digest.update(block)
                    view = memoryview(block)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            if digest.hexdigest() != sha256:
                raise BlobHashMismatchError(sha256, digest.hexdigest())  # noqa: TRY301 - the cleanup below must run for it too
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    async def put(self, sha256: str, data: bytes) -> None:
        """Store `data` under `sha256` (see `BlobStore.put`)."""
        try:
            stored = await asyncio.to_thread(self._put_one, sha256, data)
        except OSError as exc:
            raise BlobError(f"cannot write blob {sha256}: {exc}") from exc
        if not stored:
            raise BlobHashMismatchError(sha256, hashlib.sha256(data).hexdigest())

    async def put_many(self, blobs: Mapping[str, bytes]) -> set[str]:
        """Store each blob under its hash (see `BlobStore.put_many`)."""
        try:
            return await asyncio.to_thread(self._write_many, blobs)
        except OSError as exc:
            raise BlobError(f"cannot write {len(blobs)} blobs: {exc}") from exc

    async def put_file(self, sha256: str, path: Path) -> None:
        """Store the file at `path` under `sha256` (see `BlobStore.put_file`)."""

        def blocks() -> Iterator[bytes]:
            with path.open("rb") as source:
                while block := source.read(READ_BLOCK_SIZE):
                    yield block

        try:
            await asyncio.to_thread(self._write, sha256, blocks())
        except OSError as exc:
            raise BlobError(f"cannot write blob {sha256} from {path}: {exc}") from exc

    async def exists(self, sha256: str) -> bool:
        """Tell whether blob `sha256` exists."""
        return self.path_of(sha256).is_file()

    async def read(self, sha256: str) -> bytes:
        """Return blob `sha256` whole."""
        try:
            return await asyncio.to_thread(self.path_of(sha256).read_bytes)
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {sha256}") from None
        except OSError as exc:
            raise BlobError(f"cannot read blob {sha256}: {exc}") from exc

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        """Stream blob `sha256` in blocks."""
        try:
            path = self.path_of(sha256)
            source = await open_in_thread(lambda: path.open("rb"))
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {sha256}") from None
        try:
            while block := await asyncio.to_thread(source.read, READ_BLOCK_SIZE):
                yield block
        finally:
            source.close()

    async def delete(self, sha256: str) -> None:
        """Remove blob `sha256` if present."""
        path = self.path_of(sha256)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise BlobError(f"cannot delete blob {sha256}: {exc}") from exc

    async def close(self) -> None:
        """Let the blob writers go (a batch being written finishes first)."""
        await asyncio.to_thread(self._writers.shutdown)
