"""The agent's state database as its own thread sees it: opening, transactions, outbox writes.

Plain synchronous functions over a `sqlite3.Connection`, run by `agent.state.State`
on the database's thread (see there why one thread), each inside the caller's
transaction unless it says otherwise.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import TYPE_CHECKING, TypeVar

from agent.records import FILE_KIND, SCHEMA

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from agent.records import VersionRecord

__all__ = [
    "connect",
    "drop_pending_of",
    "in_transaction",
    "insert_messages",
    "next_seq",
    "record_version",
    "set_meta",
]

_T = TypeVar("_T")


def connect(path: Path) -> sqlite3.Connection:
    """Open the state database at `path` (WAL, synchronous FULL) and create its tables."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is fsynced before it returns, so a change recorded here
        # survives a power cut even in WAL mode.
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=10000")
        db.executescript(SCHEMA)
    except Exception:
        db.close()
        raise
    return db


def in_transaction(db: sqlite3.Connection, operation: Callable[[sqlite3.Connection], _T]) -> _T:
    """Run `operation` in one `BEGIN IMMEDIATE` transaction; commit, or roll back if it raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = operation(db)
        db.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (disk full, I/O error) can leave the transaction open.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


def record_version(db: sqlite3.Connection, version: VersionRecord, message_id: str) -> int:
    """Record `version` in the file index and queue it in the outbox; return its source_seq."""
    seq = next_seq(db)
    chunks = json.dumps(list(version.chunk_sha256))
    db.execute(
        "INSERT OR REPLACE INTO files (path, folder, disk_path, size, mtime_ns, inode, "
        "sha256, chunk_size, chunk_sha256, source_seq) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            version.path,
            version.folder,
            version.disk_path,
            version.size,
            version.mtime_ns,
            version.inode,
            version.sha256,
            version.chunk_size,
            chunks,
            seq,
        ),
    )
    drop_pending_of(db, version.path)
    db.execute(
        "INSERT INTO outbox (kind, message_id, created_at, path, folder, disk_path, size, "
        "mtime_ns, sha256, chunk_size, chunk_sha256, source_seq) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            FILE_KIND,
            message_id,
            time.time(),
            version.path,
            version.folder,
            version.disk_path,
            version.size,
            version.mtime_ns,
            version.sha256,
            version.chunk_size,
            chunks,
            seq,
        ),
    )
    return seq


def insert_messages(db: sqlite3.Connection, messages: list[tuple[str, str, bytes]]) -> None:
    """Queue ready-made messages (kind, message_id, body) in the outbox."""
    now = time.time()
    db.executemany(
        "INSERT INTO outbox (kind, message_id, created_at, body) VALUES (?, ?, ?, ?)",
        [(kind, message_id, now, body) for kind, message_id, body in messages],
    )


def drop_pending_of(db: sqlite3.Connection, path: str) -> None:
    """Drop the outbox rows (and their chunk progress) still waiting to send `path`."""
    db.execute(
        "DELETE FROM outbox_chunks WHERE row_id IN "
        "(SELECT id FROM outbox WHERE path = ? AND kind = ?)",
        (path, FILE_KIND),
    )
    db.execute("DELETE FROM outbox WHERE path = ? AND kind = ?", (path, FILE_KIND))


def next_seq(db: sqlite3.Connection) -> int:
    """Take the next source_seq."""
    row = db.execute("SELECT value FROM meta WHERE key = 'source_seq'").fetchone()
    seq = 1 if row is None else int(row[0]) + 1
    set_meta(db, "source_seq", str(seq))
    return seq


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    """Set one `meta` key."""
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
