"""The SQLite metadata store: migrations, durability settings, and the files view."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from hub.errors import StoreError
from hub.store import SqliteMetadataStore
from hub.store.models import FileVersionRow
from hub.store.schema import MIGRATIONS
from hub.store.sqlite import DATABASE_NAME


async def test_schema_is_migrated_once_and_in_wal_mode(tmp_path):
    """Opening twice migrates once; the database is in WAL mode at the latest user_version."""
    store = await SqliteMetadataStore.open(tmp_path)
    await store.close()
    store = await SqliteMetadataStore.open(tmp_path)
    await store.close()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_newer_schema_is_refused(tmp_path):
    """A database written by a newer hub is refused with a clear error instead of being misread."""
    store = await SqliteMetadataStore.open(tmp_path)
    await store.close()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer"):
        await SqliteMetadataStore.open(tmp_path)


async def test_rolled_back_transaction_leaves_nothing(tmp_path):
    """An exception inside a transaction rolls back everything it wrote and counts no commit."""
    store = await SqliteMetadataStore.open(tmp_path)
    row = FileVersionRow(
        ico="00255319",
        path="a",
        source_seq=1,
        sha256="a" * 64,
        size=1,
        mtime_ns=0,
        deleted=False,
        recorded_at=datetime.now(UTC),
    )

    async def failing() -> None:
        async with store.transaction() as tx:
            await tx.add_file_version(row)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await failing()
    assert await store.current_files("00255319") == []
    assert store.commits == 0
    async with store.transaction() as tx:
        await tx.add_file_version(row)
    assert [f.path for f in await store.current_files("00255319")] == ["a"]
    assert store.commits == 1
    await store.close()
