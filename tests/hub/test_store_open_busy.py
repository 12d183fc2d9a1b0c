"""Opening the metadata store beside a busy hub: queries need no write lock."""

from __future__ import annotations

import sqlite3

from hub.store import SqliteMetadataStore
from hub.store.sqlite import DATABASE_NAME


async def test_an_up_to_date_store_opens_while_another_process_writes(tmp_path):
    """`hub spisy` opens a migrated database at once while the hub holds the write lock (it used to wait 30 s and fail)."""
    first = await SqliteMetadataStore.open(tmp_path, instance="hub")
    await first.close()
    writer = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        store = await SqliteMetadataStore.open(tmp_path, instance="cli")
        try:
            assert await store.spisy("00255319") == []
        finally:
            await store.close()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
