"""Which real SQLite failures the hub treats as "the database cannot serve now"."""

from __future__ import annotations

import sqlite3

import pytest

from hub.errors import StoreUnavailableError
from hub.store import SqliteMetadataStore
from hub.store.sqlite_errors import is_unavailable


def _error(action) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as caught:
        action()
    return caught.value


def test_full_and_locked_databases_are_unavailable_but_constraints_are_not(tmp_path):
    """SQLITE_FULL and SQLITE_BUSY (raised for real) are retried later; a constraint violation is not."""
    path = tmp_path / "x.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    holder.execute("PRAGMA max_page_count = 4")
    full = _error(
        lambda: [holder.execute("INSERT INTO t (v) VALUES (zeroblob(4096))") for _ in range(10)]
    )
    holder.execute("PRAGMA max_page_count = 1000000")
    holder.execute("INSERT INTO t (k) VALUES (1000)")
    duplicate = _error(lambda: holder.execute("INSERT INTO t (k) VALUES (1000)"))
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    locked = _error(lambda: other.execute("BEGIN IMMEDIATE"))
    holder.execute("ROLLBACK")
    assert "full" in str(full)
    assert is_unavailable(full)
    assert "locked" in str(locked)
    assert is_unavailable(locked)
    assert not is_unavailable(duplicate)
    other.close()
    holder.close()


async def test_a_locked_database_makes_the_transaction_unavailable(tmp_path, monkeypatch):
    """A write transaction that cannot get the lock raises StoreUnavailableError and leaves no transaction open."""
    monkeypatch.setattr("hub.store.sqlite._BUSY_TIMEOUT_MS", 100)
    store = await SqliteMetadataStore.open(tmp_path)
    holder = sqlite3.connect(tmp_path / "hub.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailableError, match="locked"):
            async with store.transaction() as tx:
                await tx.record_message("m1", "00000001", "spis")
        holder.execute("ROLLBACK")
        async with store.transaction() as tx:
            await tx.record_message("m1", "00000001", "spis")
        assert await store.processed_messages("00000001") == 1
    finally:
        holder.close()
        await store.close()
