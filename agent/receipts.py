"""Versions the broker took but the hub never confirmed: sent again, however long ago.

The broker's publisher confirm only says the broker has a message; the hub can
still lose it (a delivery dead-lettered after repeated failures, a queue purged
by hand). So for every path the agent remembers the newest version the broker
confirmed (`sent_versions`) and the newest the hub confirmed with a
`FileReceipt`. A version still unconfirmed `receipt_timeout_s` after it went
out, and still the file's current version, is queued again: a manifest (the
chunks too unless the hub confirmed that content), which the hub applies
idempotently (same path, source_seq and SHA-256), answering with a receipt or a
request for the chunks it lacks. A bounded batch per check keeps a long outage
from flooding the outbox; the check runs at start and then periodically.

Registry snapshots get no receipt from the hub; they are not tracked here (the
registry's periodic full reconciliation compares with what was last sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import TYPE_CHECKING

import structlog

from agent.records import FILE_KIND
from protocol import new_message_id

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterable

    from agent.state import State

__all__ = [
    "RESEND_BATCH",
    "ReceiptWatch",
    "queue_unconfirmed",
    "record_receipt",
    "record_sent",
    "seed_sent_versions",
]

log = structlog.get_logger(__name__)

RESEND_BATCH = 256
"""Most versions queued again per check."""

_CHECK_MAX_S = 60.0
_SEEDED = "sent_versions_seeded"


# -- run in the state database's thread (inside its transactions) ------------------


def record_sent(db: sqlite3.Connection, row_ids: Iterable[tuple[int]], now: float) -> None:
    """Remember the file versions of outbox rows the broker confirmed (before they are deleted)."""
    db.executemany(
        "INSERT INTO sent_versions (path, source_seq, sha256, sent_at) "
        "SELECT path, source_seq, sha256, ?2 FROM outbox "
        "WHERE id = ?1 AND kind = 'file_version' AND path IS NOT NULL AND sha256 IS NOT NULL "
        "ON CONFLICT (path) DO UPDATE SET source_seq = excluded.source_seq, "
        "sha256 = excluded.sha256, sent_at = excluded.sent_at "
        "WHERE excluded.source_seq >= sent_versions.source_seq",
        [(row_id, now) for (row_id,) in row_ids],
    )


def record_receipt(
    db: sqlite3.Connection, path: str, sha256: str, source_seq: int, now: float
) -> None:
    """Remember that the hub confirmed version `source_seq` of `path` (and holds `sha256`)."""
    db.execute(
        "INSERT OR REPLACE INTO held (sha256, path, source_seq, received_at) VALUES (?, ?, ?, ?)",
        (sha256, path, source_seq, now),
    )
    db.execute(
        "INSERT INTO sent_versions (path, source_seq, sha256, sent_at, receipted_seq) "
        "VALUES (?1, ?2, ?3, ?4, ?2) "
        "ON CONFLICT (path) DO UPDATE SET receipted_seq = max(receipted_seq, excluded.source_seq)",
        (path, source_seq, sha256, now),
    )


def seed_sent_versions(db: sqlite3.Connection) -> int:
    """Start tracking an index kept by an agent that did not track receipts yet.

    Every indexed version not waiting in the outbox was sent; those whose content
    the hub confirmed count as confirmed, the others are due at the first check.
    """
    if db.execute("SELECT 1 FROM meta WHERE key = ?", (_SEEDED,)).fetchone() is not None:
        return 0
    cursor = db.execute(
        "INSERT OR IGNORE INTO sent_versions (path, source_seq, sha256, sent_at, receipted_seq) "
        "SELECT f.path, f.source_seq, f.sha256, 0, "
        "CASE WHEN EXISTS (SELECT 1 FROM held h WHERE h.sha256 = f.sha256) "
        "THEN f.source_seq ELSE 0 END FROM files f "
        "WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.path = f.path)"
    )
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (_SEEDED,))
    return cursor.rowcount


def queue_unconfirmed(
    db: sqlite3.Connection, *, sent_before: float, limit: int, now: float
) -> list[tuple[str, int, int]]:
    """Queue again the current versions the hub has not confirmed since `sent_before`.

    Returns:
        `(path, source_seq, resends so far)` of each version queued.
    """
    due = db.execute(
        "SELECT s.path, s.source_seq, s.resends, f.folder, f.disk_path, f.size, f.mtime_ns, "
        "f.sha256, f.chunk_size, f.chunk_sha256 FROM sent_versions s "
        "JOIN files f ON f.path = s.path AND f.source_seq = s.source_seq "
        "WHERE s.receipted_seq < s.source_seq AND s.sent_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.path = s.path) "
        "ORDER BY s.sent_at LIMIT ?",
        (sent_before, limit),
    ).fetchall()
    for path, seq, _, folder, disk_path, size, mtime_ns, sha256, chunk_size, chunks in due:
        db.execute(
            "INSERT INTO outbox (kind, message_id, created_at, path, folder, disk_path, size, "
            "mtime_ns, sha256, chunk_size, chunk_sha256, source_seq) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                FILE_KIND,
                new_message_id(),
                now,
                path,
                folder,
                disk_path,
                size,
                mtime_ns,
                sha256,
                chunk_size,
                chunks if isinstance(chunks, str) else json.dumps(chunks),
                seq,
            ),
        )
    db.executemany(
        "UPDATE sent_versions SET sent_at = ?, resends = resends + 1 WHERE path = ?",
        [(now, row[0]) for row in due],
    )
    # Versions no longer current (changed or deleted since) wait for nothing.
    db.execute(
        "DELETE FROM sent_versions WHERE receipted_seq < source_seq AND sent_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM files f WHERE f.path = sent_versions.path "
        "AND f.source_seq = sent_versions.source_seq)",
        (sent_before,),
    )
    return [(str(row[0]), int(row[1]), int(row[2])) for row in due]


# -- the periodic check -------------------------------------------------------------


class ReceiptWatch:
    """Queues again, at start and then periodically, what the hub has not confirmed.

    Args:
        state: The state database.
        timeout_s: `[agent] receipt_timeout_s`.
        on_queued: Called when versions were queued (wakes the publisher).
    """

    def __init__(self, *, state: State, timeout_s: float, on_queued: Callable[[], None]) -> None:
        self._state = state
        self._timeout = timeout_s
        self._on_queued = on_queued

    async def check(self) -> int:
        """Queue one bounded batch of overdue versions; return how many."""
        queued = await self._state.queue_unconfirmed(
            sent_before=time.time() - self._timeout, limit=RESEND_BATCH
        )
        if queued:
            log.warning(
                "unconfirmed_versions_resent",
                count=len(queued),
                paths=[path for path, _, _ in queued[:10]],
                waited_s=self._timeout,
                reason="the broker took them but the hub never confirmed them",
            )
            self._on_queued()
        return len(queued)

    async def run(self, stop: asyncio.Event) -> None:
        """Check at start, then every `min(timeout / 4, 60 s)` until `stop` is set."""
        seeded = await self._state.seed_sent_versions()
        if seeded:
            log.info("sent_versions_seeded", versions=seeded)
        interval = min(self._timeout / 4, _CHECK_MAX_S)
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
