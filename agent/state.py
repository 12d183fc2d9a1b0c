"""The agent's durable state: `state_dir/state.sqlite` (WAL, `synchronous=FULL`).

It holds the file index (what the hub was last told about each path), the
outbox (every change waiting for a publisher confirm), per-row chunk progress
(so a resumed transfer skips chunks the broker already confirmed), the content
the hub confirmed it holds (receipts), the registry cursor and what was last
sent of each registry record.

A change is committed here, and fsynced, before anything is published: that is
what makes "nothing is lost" survive a power cut at any moment.

Every operation runs whole (all its statements and the commit) in one call to
the database's own thread. aiosqlite would hop to its thread and back for each
statement and cursor step, about 50 hops per synced file; profiling the initial
sync showed those hops as the agent's largest cost. One thread also keeps the
operations in order without a lock, and an operation whose caller is cancelled
still finishes (committed or rolled back) instead of stopping mid-transaction.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from agent import receipts, state_db
from agent.errors import StateError
from agent.records import (
    FILE_KIND,
    OUTBOX_COLUMNS,
    SCHEMA_VERSION,
    Signature,
    entry_from_row,
    outbox_row_from_row,
)

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
    from pathlib import Path

    from agent.records import IndexEntry, OutboxRow, StatUpdate, VersionRecord
    from protocol import RecordReceipt

__all__ = ["State"]

_T = TypeVar("_T")

# Columns in the order `entry_from_row` takes them.
_SELECT_FILES = (
    "SELECT path, folder, disk_path, size, mtime_ns, inode, sha256, chunk_size, "
    "chunk_sha256, source_seq FROM files"
)


class State:
    """The agent's state database; one connection, served by its own thread.

    Use `await State.open(path)` and `await state.close()`.
    """

    def __init__(self, db: sqlite3.Connection, path: Path, thread: ThreadPoolExecutor) -> None:
        self._db = db
        self.path = path
        self._thread = thread
        self.source_epoch = ""

    @classmethod
    async def open(cls, path: Path) -> State:
        """Open (creating if needed) the state database at `path`.

        Raises:
            StateError: If the file cannot be opened or belongs to a newer agent.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-state")
        loop = asyncio.get_running_loop()
        try:
            db = await loop.run_in_executor(thread, state_db.connect, path)
        except Exception as exc:
            thread.shutdown()
            raise StateError(f"state database {path} cannot be opened: {exc}") from exc
        state = cls(db, path, thread)
        version = await state.get_meta("schema_version")
        if version is None:
            await state.set_meta("schema_version", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            await state.close()
            raise StateError(f"state database {path} has schema {version}, expected 1")
        state.source_epoch = await state._source_epoch()
        return state

    async def _source_epoch(self) -> str:
        """This state's `source_epoch`: new with the database, so a fresh one counts anew.

        A state that counted before epochs existed keeps the empty epoch, so its
        numbers go on where they were.
        """
        epoch = await self.get_meta("source_epoch")
        if epoch is None:
            counted = await self.get_meta("source_seq") is not None
            epoch = "" if counted else uuid.uuid4().hex
            await self.set_meta("source_epoch", epoch)
        return epoch

    async def close(self) -> None:
        """Close the database and stop its thread."""
        await self._run(lambda db: db.close())
        self._thread.shutdown()

    async def _run(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, operation, self._db)

    async def _write(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `operation` in one write transaction, committed (and fsynced) before return."""
        return await self._run(lambda db: state_db.in_transaction(db, operation))

    async def _fetchall(
        self, sql: str, parameters: tuple[object, ...] = ()
    ) -> list[tuple[Any, ...]]:
        return await self._run(lambda db: [tuple(r) for r in db.execute(sql, parameters)])

    async def _fetchone(
        self, sql: str, parameters: tuple[object, ...] = ()
    ) -> tuple[Any, ...] | None:
        rows = await self._fetchall(sql, parameters)
        return rows[0] if rows else None

    # -- meta -----------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """Return a meta value, or None."""
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        """Set a meta value (its own transaction)."""
        await self._write(lambda db: state_db.set_meta(db, key, value))

    async def set_meta_absent(self, key: str) -> None:
        """Delete a meta value if present."""
        await self._write(lambda db: db.execute("DELETE FROM meta WHERE key = ?", (key,)))

    # -- file index -----------------------------------------------------------

    async def folder_index(self, folder: str) -> dict[str, IndexEntry]:
        """Return the index entries of one folder by wire path."""
        rows = await self._fetchall(f"{_SELECT_FILES} WHERE folder = ?", (folder,))
        return {row[0]: entry_from_row(row) for row in rows}

    async def get_file(self, path: str) -> IndexEntry | None:
        """Return the index entry of one wire path, or None."""
        row = await self._fetchone(f"{_SELECT_FILES} WHERE path = ?", (path,))
        return None if row is None else entry_from_row(row)

    async def disk_paths_under(self, folder: str, directory: str) -> list[str]:
        """Return the indexed disk paths inside `directory` (a disk path) of `folder`."""
        # '0' sorts right after '/', so this range is exactly "starts with directory/".
        rows = await self._fetchall(
            "SELECT disk_path FROM files WHERE folder = ? AND disk_path > ? AND disk_path < ?",
            (folder, f"{directory}/", f"{directory}0"),
        )
        return [str(r[0]) for r in rows]

    async def count_files(self, folder: str | None = None) -> int:
        """Return how many files the index holds, in one folder or in all."""
        if folder is None:
            row = await self._fetchone("SELECT count(*) FROM files")
        else:
            row = await self._fetchone("SELECT count(*) FROM files WHERE folder = ?", (folder,))
        return int(row[0]) if row else 0

    async def get_files(self, paths: Iterable[str]) -> dict[str, IndexEntry]:
        """Return the index entries of those wire `paths` that are indexed."""
        wanted = list(set(paths))

        def read(db: sqlite3.Connection) -> dict[str, IndexEntry]:
            sql = f"{_SELECT_FILES} WHERE path IN ({{}})"
            return {row[0]: entry_from_row(row) for row in _select_in(db, sql, wanted)}

        return await self._run(read)

    async def first_chunk_indexed(self, sha256: str) -> bool:
        """Whether an indexed file begins with chunk `sha256` (a copy or a rename, most likely)."""

        def read(db: sqlite3.Connection) -> bool:
            # The expression of the index files_first_chunk, so the lookup uses it.
            sql = "SELECT 1 FROM files WHERE substr(chunk_sha256, 3, 64) = ? LIMIT 1"
            return db.execute(sql, (sha256,)).fetchone() is not None

        return await self._run(read)

    async def record_changes(
        self, versions: Sequence[tuple[VersionRecord, str]], moved: Sequence[StatUpdate]
    ) -> list[int]:
        """Index and queue new versions and record stat-only changes, in one durable transaction.

        One commit for many files (a scan finds hundreds at once) costs one
        fsync instead of one per file; until it returns nothing of them is
        queued, so a crash before it only means they are looked at again.
        Older unsent rows of a path given a new version are dropped: their
        content is no longer on disk, so they could never be sent anyway.

        Args:
            versions: `(version, message_id)` of each new version.
            moved: New spelling, mtime or inode of content that did not change.

        Returns:
            The source_seq of each version, in order.
        """

        def record(db: sqlite3.Connection) -> list[int]:
            db.executemany(
                "UPDATE files SET disk_path = ?, mtime_ns = ?, inode = ? WHERE path = ?",
                [(m.disk_path, m.mtime_ns, m.inode, m.path) for m in moved],
            )
            return [
                state_db.record_version(db, version, message_id) for version, message_id in versions
            ]

        return await self._write(record)

    async def record_deletions(
        self, paths: Iterable[str], encode_tombstone: Callable[[str, int], tuple[str, bytes]]
    ) -> list[int]:
        """Remove paths from the index and queue their tombstones, in one transaction.

        Args:
            paths: Wire paths that are gone.
            encode_tombstone: Builds the tombstone's (message_id, body) from path and seq.

        Returns:
            The source_seq of each tombstone.
        """
        wanted = list(paths)

        def record(db: sqlite3.Connection) -> list[int]:
            seqs: list[int] = []
            for path in wanted:
                seq = state_db.next_seq(db)
                message_id, body = encode_tombstone(path, seq)
                db.execute("DELETE FROM files WHERE path = ?", (path,))
                db.execute("DELETE FROM sent_versions WHERE path = ?", (path,))
                state_db.drop_pending_of(db, path)
                db.execute(
                    "INSERT INTO outbox (kind, message_id, created_at, body, path, source_seq) "
                    "VALUES ('tombstone', ?, ?, ?, ?, ?)",
                    (message_id, time.time(), body, path, seq),
                )
                seqs.append(seq)
            return seqs

        return await self._write(record)

    async def queue_repair(
        self, entry: IndexEntry, message_id: str, indexes: tuple[int, ...] | None
    ) -> None:
        """Queue a resend of an indexed version's chunks (all if `indexes` is None)."""
        values = (
            FILE_KIND,
            message_id,
            time.time(),
            entry.path,
            entry.folder,
            entry.disk_path,
            entry.size,
            entry.mtime_ns,
            entry.sha256,
            entry.chunk_size,
            json.dumps(list(entry.chunk_sha256)),
            entry.source_seq,
            None if indexes is None else json.dumps(list(indexes)),
        )
        await self._write(
            lambda db: db.execute(
                "INSERT INTO outbox (kind, message_id, created_at, path, folder, disk_path, size, "
                "mtime_ns, sha256, chunk_size, chunk_sha256, source_seq, only_chunks, "
                "force_content) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,1)",
                values,
            )
        )

    # -- outbox ---------------------------------------------------------------

    async def add_messages(self, messages: Iterable[tuple[str, str, bytes]]) -> None:
        """Queue encoded messages `(kind, message_id, body)` in one transaction."""
        rows = list(messages)
        await self._write(lambda db: state_db.insert_messages(db, rows))

    async def queue_attachment(
        self,
        *,
        kind: str,
        message_id: str,
        body: bytes,
        folder: str,
        disk_path: str,
        size: int,
        sha256: str,
        chunk_size: int,
        chunk_sha256: tuple[str, ...],
    ) -> None:
        """Queue a file that is not the office's (a diagnostics attachment) and its manifest.

        Its chunks are read from `folder`/`disk_path` at send time like a file
        version's; `body` (the encoded manifest) follows them.
        """
        values = (
            kind,
            message_id,
            time.time(),
            body,
            f"{folder}/{disk_path}",
            folder,
            disk_path,
            size,
            sha256,
            chunk_size,
            json.dumps(list(chunk_sha256)),
        )
        await self._write(
            lambda db: db.execute(
                "INSERT INTO outbox (kind, message_id, created_at, body, path, folder, disk_path, "
                "size, sha256, chunk_size, chunk_sha256, force_content) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,1)",
                values,
            )
        )

    async def due_rows(self, after_id: int, limit: int = 64) -> list[OutboxRow]:
        """Return rows with id > `after_id` whose retry time has come, oldest first."""
        sql = (
            f"SELECT {OUTBOX_COLUMNS} FROM outbox "  # noqa: S608 - constant column list
            "WHERE id > ? AND next_attempt_at <= ? ORDER BY id LIMIT ?"
        )
        rows = await self._fetchall(sql, (after_id, time.time(), limit))
        return [outbox_row_from_row(r) for r in rows]

    async def next_retry_at(self) -> float | None:
        """Return when the earliest deferred row becomes due, or None."""
        row = await self._fetchone(
            "SELECT min(next_attempt_at) FROM outbox WHERE next_attempt_at > ?", (time.time(),)
        )
        return None if row is None or row[0] is None else float(row[0])

    async def confirmed_chunks(self, row_id: int) -> set[int]:
        """Return the chunk indexes of a row the broker already confirmed."""
        rows = await self._fetchall("SELECT idx FROM outbox_chunks WHERE row_id = ?", (row_id,))
        return {int(r[0]) for r in rows}

    async def mark_chunks_confirmed(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Record confirmed chunks `(row_id, index)` of rows that still exist."""
        rows = list(pairs)
        await self._write(
            lambda db: db.executemany(
                "INSERT OR IGNORE INTO outbox_chunks (row_id, idx) "
                "SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM outbox WHERE id = ?1)",
                rows,
            )
        )

    async def delete_row(self, row_id: int) -> None:
        """Delete a row that will never be sent (superseded), with its chunk progress."""
        await self.delete_rows([row_id], confirmed=False)

    async def delete_rows(
        self,
        row_ids: Iterable[int],
        *,
        confirmed: bool = True,
        signatures: Sequence[Signature] = (),
    ) -> None:
        """Delete rows whose messages were all confirmed, in one transaction.

        Still durable: every row given was confirmed by the broker, so one commit
        for many rows changes only how many fsyncs they cost; a crash before it
        leaves them queued, and their resend is an idempotent duplicate at the hub.
        The file versions among them now wait for the hub's receipt
        (`agent.receipts`). `signatures`: of the versions whose content they sent,
        each replacing its path's last one (`agent.deltas`).
        """
        ids = [(row_id,) for row_id in row_ids]
        now = time.time()
        signed = [
            (s.path, s.sha256, s.size, s.chunk_size, json.dumps(s.chunks), s.blocks)
            for s in signatures
        ]

        def delete(db: sqlite3.Connection) -> None:
            if confirmed:
                receipts.record_sent(db, ids, now)
            db.executemany("DELETE FROM outbox WHERE id = ?", ids)
            db.executemany("DELETE FROM outbox_chunks WHERE row_id = ?", ids)
            db.executemany(
                "INSERT OR REPLACE INTO sent_signatures VALUES (?, ?, ?, ?, ?, ?)", signed
            )

        await self._write(delete)

    async def defer_row(self, row_id: int, delay_s: float, error: str) -> None:
        """Keep a row for a later attempt, recording why it failed."""
        values = (time.time() + delay_s, error[:500], row_id)
        await self._write(
            lambda db: db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                "WHERE id = ?",
                values,
            )
        )

    async def outbox_depth(self) -> tuple[int, float | None]:
        """Return the number of rows and the creation time of the oldest one."""
        row = await self._fetchone("SELECT count(*), min(created_at) FROM outbox")
        if row is None:
            return 0, None
        return int(row[0]), None if row[1] is None else float(row[1])

    async def outbox_files_and_bytes(self) -> tuple[int, int]:
        """Return the file versions waiting and every byte waiting (sizes and bodies)."""
        row = await self._fetchone(
            "SELECT coalesce(sum(kind = 'file_version'), 0),"
            " coalesce(sum(coalesce(size, 0) + coalesce(length(body), 0)), 0) FROM outbox"
        )
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def outbox_bytes(self) -> int:
        """Return the bytes waiting in the outbox: file sizes and message bodies."""
        row = await self._fetchone(
            "SELECT coalesce(sum(coalesce(size, 0) + coalesce(length(body), 0)), 0) FROM outbox"
        )
        return 0 if row is None else int(row[0])

    # -- receipts -------------------------------------------------------------

    async def record_receipt(self, sha256: str, path: str, source_seq: int) -> None:
        """Record the hub's receipt: it holds `sha256`, and version `source_seq` of `path`."""
        now = time.time()
        await self._write(lambda db: receipts.record_receipt(db, path, sha256, source_seq, now))

    async def record_receipts(self, confirmed: Iterable[tuple[str, str, int]]) -> None:
        """Record several receipts `(path, sha256, source_seq)` in one transaction."""
        entries, now = list(confirmed), time.time()
        await self._write(lambda db: receipts.record_receipts(db, entries, now))

    async def record_record_receipt(self, receipt: RecordReceipt) -> None:
        """Record the hub's receipt of a tombstone or registry message."""
        now = time.time()
        await self._write(lambda db: receipts.record_record_receipt(db, receipt, now))

    async def seed_sent_versions(self) -> int:
        """Start tracking receipts for an index kept before they were tracked."""
        return await self._write(receipts.seed_sent_versions)

    async def queue_unconfirmed(
        self, *, sent_before: float, limit: int
    ) -> list[tuple[str, int, int]]:
        """Queue again the current versions the hub has not confirmed (`agent.receipts`)."""
        now = time.time()
        return await self._write(
            lambda db: receipts.queue_unconfirmed(db, sent_before=sent_before, limit=limit, now=now)
        )

    async def is_held(self, sha256: str) -> bool:
        """Tell whether the hub confirmed it holds content `sha256`."""
        return await self._fetchone("SELECT 1 FROM held WHERE sha256 = ?", (sha256,)) is not None

    async def held_among(self, sha256s: Iterable[str]) -> set[str]:
        """Return which of `sha256s` the hub confirmed it holds (one call for a bundle's files)."""
        return await self._among("held", sha256s)

    async def held_chunks_among(self, sha256s: Iterable[str]) -> set[str]:
        """Return which of the chunks `sha256s` belong to content the hub confirmed it holds."""
        return await self._among("held_chunks", sha256s)

    async def delta_bases(self, paths: Iterable[str]) -> dict[str, Signature]:
        """Return the signature of each path's last version sent, where the hub holds it."""
        wanted = list(set(paths))
        sql = (
            "SELECT s.path, s.sha256, s.size, s.chunk_size, s.chunks, s.blocks "
            "FROM sent_signatures s JOIN held h ON h.sha256 = s.sha256 WHERE s.path IN ({})"
        )

        def read(db: sqlite3.Connection) -> dict[str, Signature]:
            return {
                path: Signature(
                    path=path,
                    sha256=sha256,
                    size=size,
                    chunk_size=chunk_size,
                    chunks=tuple(json.loads(chunks)),
                    blocks=blocks,
                )
                for path, sha256, size, chunk_size, chunks, blocks in _select_in(db, sql, wanted)
            }

        return await self._run(read) if wanted else {}

    async def _among(self, table: str, sha256s: Iterable[str]) -> set[str]:
        wanted = list(set(sha256s))
        sql = f"SELECT sha256 FROM {table} WHERE sha256 IN ({{}})"  # noqa: S608 - a table of ours

        def read(db: sqlite3.Connection) -> set[str]:
            return {str(row[0]) for row in _select_in(db, sql, wanted)}

        return await self._run(read)

    # -- registry -------------------------------------------------------------

    async def registry_seen(
        self, tabulka: str, record_ids: Collection[str] | None = None
    ) -> dict[str, tuple[str, str | None]]:
        """Return `record_id -> (fingerprint, stav)` of what was last sent of a table.

        Args:
            tabulka: The table.
            record_ids: Only these records (a poll's few), or None for all (a reconciliation).
        """
        if record_ids is None:
            rows = await self._fetchall(
                "SELECT record_id, fingerprint, stav FROM registry_seen WHERE tabulka = ?",
                (tabulka,),
            )
        else:
            ids, rows = list(record_ids), []
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                rows += await self._fetchall(
                    "SELECT record_id, fingerprint, stav FROM registry_seen "  # noqa: S608 - placeholders only
                    f"WHERE tabulka = ? AND record_id IN ({', '.join('?' * len(part))})",
                    (tabulka, *part),
                )
        return {str(r[0]): (str(r[1]), None if r[2] is None else str(r[2])) for r in rows}

    async def commit_registry_batch(
        self,
        messages: Iterable[tuple[str, str, bytes]],
        seen: Iterable[tuple[str, str, str, str | None]],
        forgotten: Iterable[tuple[str, str]],
        cursor: int | None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Queue registry messages, remember what was sent and move the cursor, atomically.

        Args:
            messages: `(kind, message_id, body)` to queue, in order.
            seen: `(tabulka, record_id, fingerprint, stav)` now sent.
            forgotten: `(tabulka, record_id)` deleted at the source.
            cursor: The change-log `seq` read up to, or None to keep it.
            meta: Further meta values to set in the same transaction (an
                adapter's own cursor, the last version the agent numbered).
        """
        queued, sent, gone = list(messages), list(seen), list(forgotten)

        def commit(db: sqlite3.Connection) -> None:
            state_db.insert_messages(db, queued)
            db.executemany(
                "INSERT OR REPLACE INTO registry_seen (tabulka, record_id, fingerprint, stav) "
                "VALUES (?, ?, ?, ?)",
                sent,
            )
            db.executemany("DELETE FROM registry_seen WHERE tabulka = ? AND record_id = ?", gone)
            if cursor is not None:
                state_db.set_meta(db, "registry_cursor", str(cursor))
            for key, value in (meta or {}).items():
                state_db.set_meta(db, key, value)

        await self._write(commit)


def _select_in(db: sqlite3.Connection, sql: str, values: list[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql`, whose `IN ({})` takes `values` 500 at a time (SQLite bounds parameters)."""
    for start in range(0, len(values), 500):
        part = values[start : start + 500]
        yield from db.execute(sql.format(", ".join("?" * len(part))), part)
