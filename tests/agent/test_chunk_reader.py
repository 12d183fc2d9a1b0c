"""The chunk reader: no leaked file handle, even when its send is cancelled mid-open; skipping."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import warnings
from pathlib import Path

import pytest

from agent.errors import FileChangedError
from agent.hasher import ChunkReader
from testkit.waiting import wait_for


def _open_fds_to(path: Path) -> int:
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if fd.readlink() == path:
                count += 1
        except OSError:
            continue
    return count


async def test_a_cancelled_open_closes_the_file_it_opened_later(tmp_path):
    """A send cancelled while its file is still opening (a slow share) closes that file itself."""
    fifo = tmp_path / "slow.pdf"
    os.mkfifo(fifo)  # opening a FIFO for reading blocks until a writer comes: a slow open
    reader = ChunkReader(
        wire_path="slow.pdf",
        root_real=str(tmp_path),
        path=str(fifo),
        chunk_size=1024,
        expected=(),
    )
    opening = asyncio.ensure_future(reader.open())
    await asyncio.sleep(0)  # the thread is now blocked in open()
    opening.cancel()
    writer = await asyncio.to_thread(os.open, fifo, os.O_WRONLY)  # the thread's open returns
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            async def closed() -> bool:
                gc.collect()
                return _open_fds_to(fifo) == 1  # only our writer's end is left

            await wait_for(closed, what="the opened file to be closed")
            gc.collect()
        assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    finally:
        os.close(writer)
    assert opening.cancelled()


async def test_skipped_chunks_are_passed_unread_and_the_end_is_still_checked(tmp_path):
    """Chunks the broker has are skipped without reading; the next is verified; growth is caught."""
    data = os.urandom(4 * 1024)
    path = tmp_path / "sken.pdf"
    path.write_bytes(data)
    expected = tuple(
        hashlib.sha256(data[i : i + 1024]).hexdigest() for i in range(0, len(data), 1024)
    )
    reader = ChunkReader(
        wire_path="sken.pdf", root_real=str(tmp_path), path=str(path), chunk_size=1024,
        expected=expected,
    )  # fmt: skip
    await reader.open()
    try:
        reader.skip()
        reader.skip()
        assert await reader.next_chunk() == (2, data[2048:3072])
        reader.skip()
        assert reader.done
        with path.open("ab") as grown:
            grown.write(b"appended after hashing")
        with pytest.raises(FileChangedError, match="grew"):
            await reader.next_chunk()
    finally:
        await reader.close()
