"""Hashing and reading files in worker threads (hashlib releases the GIL).

Both the scanner (to learn a new version's hashes) and the publisher (to
re-read and re-verify a version at send time) read files here, a chunk at a
time, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

from agent.deltas import MAX_BYTES, MIN_BYTES, signed
from agent.errors import FileChangedError
from protocol import names
from protocol.delta import block_signature
from spisync.threads import open_in_thread

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "ChunkReader",
    "ChunkSink",
    "DigestJob",
    "FileDigest",
    "digest_file",
    "digest_files",
    "open_inside",
]

ChunkSink: TypeAlias = Callable[[int, bytes, str], bool]
"""Takes `(index, bytes, sha256)` of each chunk as it is hashed, in order, on the
hashing thread; returns False to be offered no more of the file's chunks."""

DigestJob: TypeAlias = tuple[str, str, int, ChunkSink | None]
"""`(folder's real root, path, size at stat, where its chunks go as hashed or None)`."""


@dataclass(frozen=True)
class FileDigest:
    """A file's content hashes, and the stat it was read under.

    Attributes:
        size: Bytes read.
        sha256: Hash of the whole file.
        chunk_sha256: Hash of each chunk, in order.
        mtime_ns: Modification time before reading.
        inode: Inode before reading.
        stable: False if the file's size or mtime changed while it was read.
        content: The bytes read, if the file is small enough to travel in a
            bundle (one chunk, at most `names.BUNDLE_MAX_FILE_BYTES`); else None.
        blocks: The block signature, if the file's next version may go as a
            delta (`agent.deltas`); else None.
    """

    size: int
    sha256: str
    chunk_sha256: tuple[str, ...]
    mtime_ns: int
    inode: int
    stable: bool
    content: bytes | None = None
    blocks: bytes | None = None


def open_inside(root_real: str, path: str) -> BinaryIO:
    """Open `path` for reading, refusing anything whose real location leaves `root_real`.

    Raises:
        PermissionError: If the path resolves outside the folder (a symlink escape).
        OSError: If it cannot be opened.
    """
    real = os.path.realpath(path)
    if os.path.commonpath([root_real, real]) != root_real:
        raise PermissionError(f"{path} leads outside its folder (to {real})")
    return open(real, "rb")  # noqa: PTH123 - str paths are cheaper here; the caller closes it


def _chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    while True:
        data = handle.read(chunk_size)
        if not data:
            return
        yield data


_CHUNK_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spisync-chunk-hash")
_CHUNKS_AHEAD = 4
"""Chunks read and waiting for their own hash, at most (bounds memory)."""


def _hexdigest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_file(
    root_real: str, path: str, chunk_size: int, sink: ChunkSink | None = None
) -> FileDigest:
    """Read `path` once and return its hashes (blocking; run it in a thread).

    `sink` is offered each chunk with its hash as soon as both are known,
    until it declines one (then it is offered no more).

    Raises:
        OSError: If the file cannot be opened or read (including a symlink escape).
    """
    with open_inside(root_real, path) as handle:
        before = os.fstat(handle.fileno())
        whole = hashlib.sha256()
        chunk_hashes: list[str] = []
        size = 0
        first = b""
        later: deque[tuple[Future[str], bytes]] = deque()
        signature: list[bytes] = []  # taken up to `MAX_BYTES`, of every file: sizes change
        signed_size = 0

        def hashed(data: bytes, sha256: str) -> None:
            nonlocal sink
            if sink is not None and not sink(len(chunk_hashes), data, sha256):
                sink = None
            chunk_hashes.append(sha256)

        for data in _chunks(handle, chunk_size):
            if not chunk_hashes and not later:
                # The whole file's hash so far is its first chunk's: those bytes are
                # hashed once, not twice (a small file is all first chunk).
                chunk = hashlib.sha256(data)
                whole, first = chunk, data
                hashed(data, chunk.hexdigest())
            else:
                # Later chunks' own hashes are taken beside the whole file's, on the
                # other core: a large file is hashed in about half the time.
                later.append((_CHUNK_HASHER.submit(_hexdigest, data), data))
                whole.update(data)
                while len(later) > _CHUNKS_AHEAD:
                    future, held = later.popleft()
                    hashed(held, future.result())
            size += len(data)
            if size <= MAX_BYTES and (size >= MIN_BYTES or len(data) == chunk_size):
                # (A short last chunk of a small file: not worth signing, and a
                # first load has a hundred thousand of them.)
                signature.append(block_signature(data))
                signed_size += len(data)
        while later:
            future, held = later.popleft()
            hashed(held, future.result())
        after = os.fstat(handle.fileno())
    stable = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns) and (
        size == after.st_size
    )
    return FileDigest(
        size=size,
        sha256=whole.hexdigest(),
        chunk_sha256=tuple(chunk_hashes),
        mtime_ns=before.st_mtime_ns,
        inode=before.st_ino,
        stable=stable,
        content=first if len(chunk_hashes) == 1 and size <= names.BUNDLE_MAX_FILE_BYTES else None,
        blocks=b"".join(signature) if signed(size, chunk_size) and signed_size == size else None,
    )


_GROUP_BYTES = 4 * 1024 * 1024
"""Bytes of files hashed in one worker-thread call (small files share a call)."""

_HASHERS = ThreadPoolExecutor(
    max_workers=min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="spisync-hash"
)
"""Threads of their own (as many as asyncio's default executor, which hashed before):
a file's hashing thread may wait for the event loop to send its chunks
(`agent.early_chunks`), and the loop's own thread work (reading, deflating) must
never queue behind hashing threads that wait for it."""


def _digest_group(jobs: list[DigestJob], chunk_size: int) -> list[FileDigest | OSError]:
    results: list[FileDigest | OSError] = []
    for root_real, path, _, sink in jobs:
        try:
            results.append(digest_file(root_real, path, chunk_size, sink))
        except OSError as exc:
            results.append(exc)
    return results


async def digest_files(jobs: Sequence[DigestJob], chunk_size: int) -> list[FileDigest | OSError]:
    """Hash files in worker threads; for each, in order, its digest or why it could not be read.

    Files go to the threads in groups of about `_GROUP_BYTES` (a large file
    alone), hashed side by side: a first sync of thousands of small files then
    costs a thread hand-off per group, not per file, and large files still use
    every core.
    """
    groups: list[list[int]] = []
    size = 0
    for index, (_, _, expected, _) in enumerate(jobs):
        if not groups or size + expected > _GROUP_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += expected
    loop = asyncio.get_running_loop()
    parts = await asyncio.gather(
        *(
            loop.run_in_executor(_HASHERS, _digest_group, [jobs[i] for i in group], chunk_size)
            for group in groups
        )
    )
    results: list[FileDigest | OSError | None] = [None] * len(jobs)
    for group, part in zip(groups, parts, strict=True):
        for index, result in zip(group, part, strict=True):
            results[index] = result
    return [result for result in results if result is not None]


class ChunkReader:
    """Reads a file version chunk by chunk and proves every chunk is the expected one.

    A file that changed since it was hashed fails with `FileChangedError`
    before any mixed content could be announced: the publisher sends the
    manifest only after every chunk has been read back and verified.

    Args:
        wire_path: The path as sent, for errors.
        root_real: Real path of the folder; reads never leave it.
        path: The file on disk.
        chunk_size: Bytes per chunk.
        expected: The chunk hashes recorded for this version.

    Every chunk matching its recorded hash, and nothing after the last one,
    proves the whole file is the recorded version: its whole-file hash is not
    taken again (that would hash every byte a second time).
    """

    def __init__(
        self,
        *,
        wire_path: str,
        root_real: str,
        path: str,
        chunk_size: int,
        expected: tuple[str, ...],
    ) -> None:
        self._wire_path = wire_path
        self._root_real = root_real
        self._path = path
        self._chunk_size = chunk_size
        self._expected = expected
        self._handle: BinaryIO | None = None
        self._index = 0

    async def open(self) -> None:
        """Open the file (in a thread).

        Raises:
            FileNotFoundError: The file is gone (its tombstone will follow).
            OSError: The file cannot be opened.
        """
        self._handle = await open_in_thread(
            functools.partial(open_inside, self._root_real, self._path)
        )

    async def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            await asyncio.to_thread(handle.close)

    def _read_next(self) -> bytes:
        assert self._handle is not None
        data = self._handle.read(self._chunk_size)
        index = self._index
        if index >= len(self._expected):
            if data:
                raise FileChangedError(self._wire_path, "the file grew since it was hashed")
            return b""
        if hashlib.sha256(data).hexdigest() != self._expected[index]:
            raise FileChangedError(
                self._wire_path, f"chunk {index} differs from when it was hashed"
            )
        self._index += 1
        return data

    @property
    def index(self) -> int:
        """The index of the chunk `next_chunk` or `skip` takes next."""
        return self._index

    @property
    def done(self) -> bool:
        """Whether every recorded chunk was read or skipped (the end is still to check)."""
        return self._index >= len(self._expected)

    def skip(self) -> None:
        """Pass the next chunk without reading it (the hub has it already)."""
        assert self._handle is not None
        self._handle.seek(self._chunk_size, os.SEEK_CUR)  # no I/O: only the position moves
        self._index += 1

    async def next_chunk(self) -> tuple[int, bytes] | None:
        """Return the next verified `(index, bytes)`, or None at a verified end of file.

        Raises:
            FileChangedError: If the content differs from the recorded version.
            OSError: If reading fails.
        """
        index = self._index
        data = await asyncio.to_thread(self._read_next)
        if index >= len(self._expected):
            return None
        return index, data
