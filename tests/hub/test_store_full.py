"""A full metadata disk holds the batch (like a full blob disk): nothing is requeued or lost."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
from typing import TYPE_CHECKING

import pytest

from hub.content import open_content
from hub.store import LocalBlobStore
from testkit.hub import make_hub_config
from testkit.waiting import wait_for
from tests.hub.hubkit import dead_letters

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_FILES = 150


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 16 MiB filesystem (room for a WAL of 1000 pages) (tmpfs, mounted as root) that the test can fill."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write zeros into `folder` until its filesystem is full; return the ballast file."""
    ballast = folder / "ballast"
    block = b"\0" * 65536
    with ballast.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    with contextlib.suppress(OSError), ballast.open("ab", buffering=0) as out:
        while True:
            out.write(b"\0")
    return ballast


async def test_full_metadata_disk_holds_the_batch_until_space_returns(
    shared_broker, vhost, tmp_path, small_disk, make_agent, start_hub, store_of, ico
):
    """With the metadata disk full, deliveries are held (never requeued or dead-lettered) and all land byte-identical once space returns."""
    (tmp_path / "blobs").mkdir()
    # Only the metadata database is on the small disk; blobs stay where there is room.
    (small_disk / "blobs").symlink_to(tmp_path / "blobs")
    config = make_hub_config(shared_broker, vhost, small_disk, batch_wait_s=0.02)
    agent = await make_agent(ico, config)
    hub = await start_hub(config)
    store = await store_of(config)
    await agent.send_file("warm-up.txt", b"before the disk fills")
    await wait_for(lambda: _has(store, ico, 1), what="the first file recorded")

    ballast = await asyncio.to_thread(_fill, small_disk)
    files = {f"spis/{n:04d}.txt": os.urandom(40) + f"file {n}".encode() for n in range(_FILES)}
    for path, data in files.items():
        await agent.send_file(path, data, chunk_size=16)

    async def held() -> bool:
        return hub.metrics.batches_deferred >= 3

    await wait_for(held, what="the batch held three times", timeout=90)
    assert hub.metrics.deliveries_requeued == 0
    ballast.unlink()

    await wait_for(lambda: _has(store, ico, _FILES + 1), what="every file recorded", timeout=90)
    current = {f.path: f for f in await store.current_files(ico)}
    blobs = LocalBlobStore(tmp_path / "blobs")
    for path, data in files.items():
        sha256 = current[path].sha256
        assert sha256 is not None
        landed = b"".join([block async for block in open_content(store, blobs, sha256)])
        assert landed == data, path
    assert hub.metrics.deliveries_requeued == 0
    assert await dead_letters(shared_broker, vhost) == []


async def _has(store, ico, count) -> bool:
    return len(await store.current_files(ico)) >= count
