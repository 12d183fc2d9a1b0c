"""Unreferenced chunks are collected after `[limits] unreferenced_chunk_age_s`; referenced ones never."""

from __future__ import annotations

import hashlib
import os
import sqlite3

import msgspec

from hub.config import LimitsConfig
from hub.content import open_content
from hub.store import LocalBlobStore
from protocol import FileReceipt
from testkit.waiting import wait_for


async def test_unreferenced_chunks_are_collected_and_referenced_ones_kept(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A chunk whose manifest never came is deleted (row and blob) after its age; a recorded file's chunks stay."""
    config = msgspec.structs.replace(hub_config, limits=LimitsConfig(unreferenced_chunk_age_s=1.0))
    agent = await make_agent(ico, config)
    await start_hub(config)
    store = await store_of(config)
    blobs = LocalBlobStore(config.hub.data_path / "blobs")
    orphan = os.urandom(100)
    orphan_sha = hashlib.sha256(orphan).hexdigest()
    await agent.send_chunk(orphan, object_sha256=hashlib.sha256(b"never sent").hexdigest(), index=0)
    data = os.urandom(64)
    kept = await agent.send_file("kept.txt", data, chunk_size=16)
    await agent.wait_for_reply(lambda m: isinstance(m, FileReceipt) and m.path == "kept.txt")

    database = config.hub.data_path / "hub.sqlite"

    async def orphan_collected() -> bool:
        # The deletion log shows it was stored and then went through both phases.
        with sqlite3.connect(database, timeout=30) as db:
            deleted = db.execute(
                "SELECT blob_deleted_at FROM chunk_deletions WHERE sha256 = ?", (orphan_sha,)
            ).fetchone()
        return (
            deleted is not None
            and deleted[0] is not None
            and not await store.stored_chunks([orphan_sha])
            and not await blobs.exists(orphan_sha)
        )

    await wait_for(orphan_collected, what="the orphan chunk collected")
    assert await store.stored_chunks(kept.chunk_sha256) == set(kept.chunk_sha256)
    assert b"".join([b async for b in open_content(store, blobs, kept.sha256)]) == data
