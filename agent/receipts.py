"""What the broker took but the hub never confirmed: sent again, however long ago.

The broker's publisher confirm only says the broker has a message; the hub can
still lose it (a delivery dead-lettered after repeated failures, a queue purged
by hand, a hub database restored from a backup). So for every path the agent
remembers the newest version the broker confirmed (`sent_versions`) and the
newest the hub confirmed with a `FileReceipt`. A version still unconfirmed
`receipt_timeout_s` after it went out, and still the file's current version, is
queued again: a manifest (the chunks too unless the hub confirmed that
content), which the hub applies idempotently (same path, source_seq and
SHA-256), answering with a receipt or a request for the chunks it lacks.

Tombstones and registry messages are tracked the same way in `sent_records`,
one row per record holding the newest message about it the broker confirmed
(a deletion replaces the record's snapshot, a reopening its closing), until
the hub's `RecordReceipt`. Unconfirmed after the timeout, that message is
queued again as it was (same id and `source_version`): the record's current
state as last sent, which the hub applies once or ignores as not newer, and
confirms either way. A tombstone whose path has a file again waits for nothing.

A bounded batch per check (files first) keeps a long outage from flooding the
outbox; the check runs at start and then periodically.
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
    from protocol import RecordReceipt

__all__ = [
    "RECORD_KINDS",
    "RESEND_BATCH",
    "ReceiptWatch",
    "queue_unconfirmed",
    "record_receipt",
    "record_receipts",
    "record_record_receipt",
    "record_sent",
    "record_tabulka",
    "seed_sent_versions",
]

log = structlog.get_logger(__name__)

RESEND_BATCH = 256
"""Most versions queued again per check."""

RECORD_KINDS: dict[str, tuple[str, str]] = {
    "tombstone": ("path", "source_seq"),
    "spis": ("spis_id", "source_version"),
    "dokument": ("dokument_id", "source_version"),
    "komponenta": ("komponenta_id", "source_version"),
    "record_deleted": ("record_id", "source_version"),
    "spis_closed": ("spis_id", "source_version"),
    "spis_reopened": ("spis_id", "source_version"),
}
"""Wire kinds tracked in `sent_records`: the fields naming the record and its version."""

_CHECK_MAX_S = 60.0
_SEEDED = "sent_versions_seeded"
_TRACKED_ROW = (
    "SELECT kind, body FROM outbox WHERE id = ? AND body IS NOT NULL "  # noqa: S608 - placeholders only
    f"AND kind IN ({', '.join('?' * len(RECORD_KINDS))})"
)


def record_tabulka(kind: str, table: str = "") -> str:
    """Name what a message is tracked under: the record whose newest state it carries.

    Args:
        kind: The message's wire kind.
        table: A `RecordDeleted`'s table (a deletion replaces the snapshot).
    """
    if kind == "record_deleted":
        return table
    if kind in {"spis_closed", "spis_reopened"}:
        return "spis_closing"
    return kind


# -- run in the state database's thread (inside its transactions) ------------------


def record_sent(db: sqlite3.Connection, row_ids: Iterable[tuple[int]], now: float) -> None:
    """Remember the file versions, tombstones and registry messages the broker confirmed.

    Runs before their outbox rows are deleted.
    """
    row_ids = list(row_ids)
    for (row_id,) in row_ids:
        row = db.execute(_TRACKED_ROW, (row_id, *RECORD_KINDS)).fetchone()
        if row is not None:
            _record_sent_record(db, str(row[0]), bytes(row[1]), now)
    db.executemany(
        "INSERT INTO sent_versions (path, source_seq, sha256, sent_at) "
        "SELECT path, source_seq, sha256, ?2 FROM outbox "
        "WHERE id = ?1 AND kind = 'file_version' AND path IS NOT NULL AND sha256 IS NOT NULL "
        "ON CONFLICT (path) DO UPDATE SET source_seq = excluded.source_seq, "
        "sha256 = excluded.sha256, sent_at = excluded.sent_at "
        "WHERE excluded.source_seq >= sent_versions.source_seq",
        [(row_id, now) for (row_id,) in row_ids],
    )


def _record_sent_record(db: sqlite3.Connection, kind: str, body: bytes, now: float) -> None:
    message = json.loads(body)
    id_field, version_field = RECORD_KINDS[kind]
    db.execute(
        "INSERT INTO sent_records (tabulka, record_id, source_version, kind, body, sent_at) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (tabulka, record_id) DO UPDATE SET source_version = excluded.source_version, "
        "kind = excluded.kind, sent_at = excluded.sent_at, queued = 0, "
        "body = CASE WHEN receipted_version >= excluded.source_version THEN x'' "
        "ELSE excluded.body END "
        "WHERE excluded.source_version >= sent_records.source_version",
        (
            record_tabulka(kind, message.get("table", "")),
            message[id_field],
            message[version_field],
            kind,
            body,
            now,
        ),
    )


def record_record_receipt(db: sqlite3.Connection, receipt: RecordReceipt, now: float) -> None:
    """Remember that the hub holds a tombstone or registry message (or a newer state)."""
    db.execute(
        "INSERT INTO sent_records (tabulka, record_id, source_version, kind, body, sent_at, "
        "receipted_version) VALUES (?1, ?2, ?3, ?4, x'', ?5, ?3) "
        "ON CONFLICT (tabulka, record_id) DO UPDATE SET "
        "receipted_version = max(receipted_version, excluded.receipted_version), "
        "body = CASE WHEN excluded.receipted_version >= source_version THEN x'' ELSE body END",
        (
            record_tabulka(receipt.record_kind, receipt.table),
            receipt.record_id,
            receipt.source_version,
            receipt.record_kind,
            now,
        ),
    )


def record_receipt(
    db: sqlite3.Connection, path: str, sha256: str, source_seq: int, now: float
) -> None:
    """Remember that the hub confirmed version `source_seq` of `path` (and holds `sha256`)."""
    db.execute(
        "INSERT OR REPLACE INTO held (sha256, path, source_seq, received_at) VALUES (?, ?, ?, ?)",
        (sha256, path, source_seq, now),
    )
    # The chunk list is the indexed version's, if that is still the content confirmed.
    db.execute(
        "INSERT OR IGNORE INTO held_chunks (sha256) SELECT DISTINCT chunk.value "
        "FROM files f, json_each(f.chunk_sha256) AS chunk "
        "WHERE f.path = ? AND f.sha256 = ? AND json_array_length(f.chunk_sha256) > 1",
        (path, sha256),
    )
    db.execute(
        "INSERT INTO sent_versions (path, source_seq, sha256, sent_at, receipted_seq) "
        "VALUES (?1, ?2, ?3, ?4, ?2) "
        "ON CONFLICT (path) DO UPDATE SET receipted_seq = max(receipted_seq, excluded.source_seq)",
        (path, source_seq, sha256, now),
    )


def record_receipts(
    db: sqlite3.Connection, receipts: Iterable[tuple[str, str, int]], now: float
) -> None:
    """Remember several receipts `(path, sha256, source_seq)` (a hub's `FileReceipts`)."""
    for path, sha256, source_seq in receipts:
        record_receipt(db, path, sha256, source_seq, now)


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
    """Queue again what the hub has not confirmed since `sent_before`, at most `limit`.

    Current file versions first, then tombstones and registry messages.

    Returns:
        `(path or tabulka/record_id, source_seq or source_version, resends so far)`
        of each message queued.
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
    queued = [(str(row[0]), int(row[1]), int(row[2])) for row in due]
    if len(queued) < limit:
        queued += _queue_records(db, sent_before=sent_before, limit=limit - len(queued), now=now)
    return queued


def _queue_records(
    db: sqlite3.Connection, *, sent_before: float, limit: int, now: float
) -> list[tuple[str, int, int]]:
    # A deleted file that came back: its tombstone is no longer the path's state.
    db.execute(
        "DELETE FROM sent_records WHERE tabulka = 'tombstone' "
        "AND receipted_version < source_version "
        "AND EXISTS (SELECT 1 FROM files f WHERE f.path = sent_records.record_id)"
    )
    due = db.execute(
        "SELECT tabulka, record_id, source_version, kind, body, resends FROM sent_records "
        "WHERE receipted_version < source_version AND sent_at < ? AND queued = 0 "
        "ORDER BY sent_at LIMIT ?",
        (sent_before, limit),
    ).fetchall()
    for _, record_id, version, kind, body, _ in due:
        # Sent as it was: the same message id and version (see `Message.message_id`).
        tombstone = kind == "tombstone"
        db.execute(
            "INSERT INTO outbox (kind, message_id, created_at, body, path, source_seq) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                kind,
                json.loads(body)["message_id"],
                now,
                body,
                record_id if tombstone else None,
                version if tombstone else None,
            ),
        )
    db.executemany(
        "UPDATE sent_records SET sent_at = ?, queued = 1, resends = resends + 1 "
        "WHERE tabulka = ? AND record_id = ?",
        [(now, row[0], row[1]) for row in due],
    )
    return [
        (str(r[1]) if r[0] == "tombstone" else f"{r[0]}/{r[1]}", int(r[2]), int(r[5])) for r in due
    ]


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
