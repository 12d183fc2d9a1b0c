"""The metadata store in SQLite (aiosqlite, WAL, `synchronous=FULL`), one file under `data_dir`.

One write connection serves transactions, guarded by an asyncio lock so that a
caller outside the batcher can never slip a statement into a batch's
transaction; a second connection serves reads (WAL lets it read while a
transaction is open). `BEGIN IMMEDIATE` and a busy timeout let several hub
processes on one machine share the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiosqlite
import structlog

from hub.errors import StoreError
from hub.store.models import (
    DokumentDetail,
    FileSummary,
    KomponentaContent,
    MissingKomponenta,
    ReadySpis,
    SpisDetail,
    SpisStateRow,
    SpisSummary,
)
from hub.store.schema import MIGRATIONS
from hub.store.sqlite_console import SqliteAuditLog, SqliteOperatorAccounts
from hub.store.sqlite_deadletters import SqliteDeadLetters
from hub.store.sqlite_diagnostics import SqliteDiagnosticsLedger
from hub.store.sqlite_errors import as_unavailable, is_unavailable
from hub.store.sqlite_open import data_dir_failure, open_failure
from hub.store.sqlite_overview import SqliteOverviewReader
from hub.store.sqlite_release import UNREFERENCED_CANDIDATES_SQL, collect_unreferenced_chunks
from hub.store.sqlite_rows import (
    FILE_SUMMARY_SELECT,
    FILE_VERSION_COLUMNS,
    SPIS_STATE_COLUMNS,
    content_row,
    decode_snapshot,
    file_summary,
    file_version_row,
    placeholders,
    spis_state_row,
    to_ts,
)
from hub.store.sqlite_sips import SqliteSipLedger
from hub.store.sqlite_tx import MISSING_KOMPONENTY_SQL, NOT_RELEASED_SQL, SqliteTransaction
from hub.store.sqlite_write import WriteConnection
from protocol import DokumentSnapshot, KomponentaSnapshot, SpisSnapshot, Udalost, utc_now

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection
    from pathlib import Path

    from hub.store.models import ContentRow, FileVersionRow

__all__ = ["DATABASE_NAME", "SqliteMetadataStore"]

DATABASE_NAME = "hub.sqlite"

log = structlog.get_logger(__name__)

_BUSY_TIMEOUT_MS = 30_000
_OPEN_BUSY_TIMEOUT_MS = 500
_OPEN_RETRY_S = 0.2
_F_FILE_COLUMNS = ", ".join("f." + c.strip() for c in FILE_VERSION_COLUMNS.split(","))


async def _connect(
    path: Path, *, busy_timeout_ms: int = _BUSY_TIMEOUT_MS, writer: bool = False
) -> aiosqlite.Connection:
    # The writer's statements also run on the event loop (see hub.store.sqlite_write).
    db = await aiosqlite.connect(path, isolation_level=None, check_same_thread=not writer)
    try:
        await db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        await db.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk before the broker is told to forget the delivery.
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        # An unclosed connection's thread is not a daemon: it would keep the process alive.
        await db.close()
        raise
    return db


async def _migrate(db: aiosqlite.Connection, path: Path) -> None:
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    if row is not None and int(row[0]) == len(MIGRATIONS):
        # Up to date: no write lock needed, so `hub spisy` opens beside a busy hub.
        return
    await db.execute("BEGIN IMMEDIATE")
    try:
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise StoreError(  # noqa: TRY301 - the rollback below must run for it too
                f"{path} has schema version {version}, newer than this hub "
                f"understands ({len(MIGRATIONS)}); upgrade spisync"
            )
        for number in range(version, len(MIGRATIONS)):
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    await db.execute(statement)
            log.info("metadata_schema_migrated", path=str(path), version=number + 1)
        await db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        await db.execute("COMMIT")
    except BaseException:
        # A failed ROLLBACK (no transaction was begun) must not hide the first error.
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise


def _probe(path: Path) -> None:
    db = sqlite3.connect(path, timeout=_OPEN_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        db.execute("PRAGMA schema_version").fetchone()
    finally:
        db.close()


async def _open_pair(path: Path) -> tuple[aiosqlite.Connection, aiosqlite.Connection]:
    """Open, migrate and return the writer and the reader connection."""
    # aiosqlite leaves a thread behind when its connect fails; a plain probe first
    # turns an unopenable or damaged file into an error with nothing left over.
    await asyncio.to_thread(_probe, path)
    writer = await _connect(path, busy_timeout_ms=_OPEN_BUSY_TIMEOUT_MS, writer=True)
    try:
        await _migrate(writer, path)
        reader = await _connect(path, busy_timeout_ms=_OPEN_BUSY_TIMEOUT_MS)
    except BaseException:
        await writer.close()
        raise
    for db in (writer, reader):
        await db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return writer, reader


class SqliteMetadataStore:
    """A `MetadataStore` in one SQLite file; create it with `SqliteMetadataStore.open`.

    Args:
        writer: Connection for transactions.
        reader: Connection for queries.
        instance: This hub process's name, recorded with each applied message.
    """

    def __init__(
        self, writer: aiosqlite.Connection, reader: aiosqlite.Connection, instance: str
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._instance = instance
        self._lock = asyncio.Lock()
        self._commits = 0
        self._sips = SqliteSipLedger(self._write_tx, self._all)
        self._audit = SqliteAuditLog(self._write_tx, self._all)
        self._operators = SqliteOperatorAccounts(self._write_tx, self._all)
        self._dead_letters = SqliteDeadLetters(self._write_tx, self._all)
        self._overview = SqliteOverviewReader(self._all)
        self._diagnostics = SqliteDiagnosticsLedger(self._write_tx, self._all)

    @classmethod
    async def open(cls, data_dir: Path, *, instance: str = "hub") -> SqliteMetadataStore:
        """Open (creating and migrating if needed) `<data_dir>/hub.sqlite`.

        Raises:
            StoreError: If the database cannot be opened (one line saying what,
                where and how to fix it) or its schema is newer than this code.
        """
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(data_dir_failure(data_dir, exc)) from exc
        path = data_dir / DATABASE_NAME
        # SQLite's busy wait cannot be interrupted: while another process holds the
        # lock, wait in short steps here, so that a shutdown at start-up is prompt.
        deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                writer, reader = await _open_pair(path)
            except (sqlite3.Error, OSError) as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StoreError(open_failure(path, exc)) from exc
            else:
                break
            await asyncio.sleep(_OPEN_RETRY_S)
        return cls(writer, reader, instance)

    @property
    def commits(self) -> int:
        """How many write transactions this object has committed."""
        return self._commits

    @property
    def sips(self) -> SqliteSipLedger:
        """The SIP ledger, on this store's connections and write lock."""
        return self._sips

    @property
    def audit(self) -> SqliteAuditLog:
        """The audit log, on this store's connections and write lock."""
        return self._audit

    @property
    def operators(self) -> SqliteOperatorAccounts:
        """Operator accounts and console sessions, on this store's connections."""
        return self._operators

    @property
    def dead_letters(self) -> SqliteDeadLetters:
        """Dead letters kept for the console, on this store's connections."""
        return self._dead_letters

    @property
    def overview(self) -> SqliteOverviewReader:
        """The console's read-only figures, on this store's read connection."""
        return self._overview

    @property
    def diagnostics(self) -> SqliteDiagnosticsLedger:
        """The helpdesk's diagnostics requests, on this store's connections and write lock."""
        return self._diagnostics

    @contextlib.asynccontextmanager
    async def _write_tx(self) -> AsyncIterator[WriteConnection]:
        """One `BEGIN IMMEDIATE … COMMIT`, rolled back on any failure, the commit's included.

        BEGIN and COMMIT (which wait for the lock and for fsync) run on aiosqlite's
        thread; the statements between them on the event loop (`WriteConnection`).

        Raises:
            StoreUnavailableError: If the database cannot serve now (disk full,
                I/O error, locked); nothing of the transaction is kept.
        """
        async with self._lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except Exception as exc:
                if is_unavailable(exc):
                    raise as_unavailable(exc) from exc
                raise
            try:
                # aiosqlite's own sqlite3 connection (`_conn`): its thread is idle
                # until the COMMIT below, since every write holds `self._lock`.
                yield WriteConnection(self._writer._conn)  # noqa: SLF001
                # A COMMIT that fails (SQLITE_FULL, SQLITE_IOERR) leaves the
                # transaction open: it must be rolled back like any other failure.
                await self._writer.execute("COMMIT")
            except BaseException as exc:
                await self._rollback()
                if is_unavailable(exc):
                    raise as_unavailable(exc) from exc
                raise
            self._commits += 1

    async def _rollback(self) -> None:
        # SQLite may have rolled back by itself already (it does on SQLITE_FULL
        # at times); a ROLLBACK without a transaction then fails harmlessly.
        with contextlib.suppress(Exception):
            await asyncio.shield(self._writer.execute("ROLLBACK"))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        """Open a write transaction (see `MetadataStore.transaction`)."""
        async with self._write_tx() as db:
            yield SqliteTransaction(db, self._instance)

    async def close(self) -> None:
        """Close both connections."""
        await self._reader.close()
        await self._writer.close()

    async def _all(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        try:
            rows = await self._reader.execute_fetchall(sql, args)
        except Exception as exc:
            if is_unavailable(exc):
                raise as_unavailable(exc) from exc
            raise
        return [tuple(row) for row in rows]

    async def stored_chunks(self, sha256s: Collection[str]) -> set[str]:
        """Return those of `sha256s` whose blobs the hub already stores."""
        wanted = list(set(sha256s))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = await self._all(
                f"SELECT sha256 FROM chunks WHERE sha256 IN ({placeholders(len(part))})",  # noqa: S608 - placeholders only
                *part,
            )
            found.update(row[0] for row in rows)
        return found

    async def owns_chunk(self, ico: str, sha256: str) -> bool:
        """Tell whether obec `ico` uploaded the chunk `sha256` and the hub stores it."""
        rows = await self._all(
            "SELECT 1 FROM obec_chunks o JOIN chunks c ON c.sha256 = o.sha256 "
            "WHERE o.ico = ? AND o.sha256 = ?",
            ico,
            sha256,
        )
        return bool(rows)

    async def content(self, sha256: str) -> ContentRow | None:
        """Return a verified content by hash."""
        rows = await self._all(
            "SELECT sha256, size, chunk_size, chunks FROM contents WHERE sha256 = ?", sha256
        )
        return content_row(rows[0]) if rows else None

    async def current_files(self, ico: str) -> list[FileSummary]:
        """Return the current version of each path of obec `ico`."""
        rows = await self._all(
            FILE_SUMMARY_SELECT + "WHERE f.ico = ? ORDER BY f.path",
            ico,
        )
        return [file_summary(row) for row in rows]

    async def file_history(self, ico: str, path: str) -> list[FileVersionRow]:
        """Return every version of one path, oldest first."""
        rows = await self._all(
            f"SELECT {FILE_VERSION_COLUMNS} FROM file_versions "  # noqa: S608 - constant columns
            "WHERE ico = ? AND path = ? ORDER BY source_seq",
            ico,
            path,
        )
        return [file_version_row(row) for row in rows]

    async def _missing_by_spis(self, ico: str) -> dict[str, list[MissingKomponenta]]:
        rows = await self._all(MISSING_KOMPONENTY_SQL.format(extra=""), ico)
        missing: dict[str, list[MissingKomponenta]] = defaultdict(list)
        for spis_id, komponenta_id, dokument_id, soubor in rows:
            missing[spis_id].append(MissingKomponenta(komponenta_id, dokument_id, soubor))
        return missing

    async def spisy(self, ico: str) -> list[SpisSummary]:
        """Return every spis of obec `ico` with its hub state and missing content."""
        registry = {
            row[0]: row
            for row in await self._all(
                "SELECT id, spisova_znacka, nazev, stav, snapshot FROM spisy "
                "WHERE ico = ? AND deleted = 0 AND snapshot IS NOT NULL",
                ico,
            )
        }
        states = {
            row.spis_id: row
            for row in map(
                spis_state_row,
                await self._all(
                    f"SELECT {SPIS_STATE_COLUMNS} FROM spis_state WHERE ico = ?",  # noqa: S608 - constant columns
                    ico,
                ),
            )
        }
        missing = await self._missing_by_spis(ico)
        sips = {(row.spis_id, row.closing_seq): row for row in await self._sips.sips_of(ico)}
        summaries = []
        for spis_id in sorted(registry.keys() | states.keys()):
            fields = registry.get(spis_id, (spis_id, None, None, None, None))
            state = states.get(spis_id)
            sip = sips.get((spis_id, state.closing_seq)) if state else None
            archived = state is not None and state.state == "archived"
            summaries.append(
                SpisSummary(
                    id=spis_id,
                    spisova_znacka=fields[1],
                    nazev=fields[2],
                    stav=fields[3],
                    state=state.state if state else "open",
                    # An archived spis's content may be released on purpose: not "missing".
                    missing=() if archived else tuple(missing.get(spis_id, ())),
                    sip=(state.sip_name or (sip.name if sip else None)) if state else None,
                    sip_state=sip.state if sip else None,
                    archive_id=sip.archive_id if sip else None,
                    archive_failures=sip.failures if sip else (),
                    sip_notes=sip.notes if sip else (),
                    snapshot=decode_snapshot(fields[4], SpisSnapshot) if fields[4] else None,
                )
            )
        return summaries

    async def registry_events(self, ico: str, table: str, record_id: str) -> list[Udalost]:
        """Return every real event the hub holds of one registry record, oldest first."""
        rows = await self._all(
            "SELECT kdy, typ, kdo, popis FROM registry_events "
            "WHERE ico = ? AND tabulka = ? AND zaznam_id = ? ORDER BY kdy, typ",
            ico,
            table,
            record_id,
        )
        return [
            Udalost(kdy=datetime.fromisoformat(kdy), typ=typ, kdo=kdo or None, popis=popis)
            for kdy, typ, kdo, popis in rows
        ]

    async def spis_detail(self, ico: str, spis_id: str) -> SpisDetail | None:
        """Return a spis with its dokumenty, komponenty and their current content."""
        spis_rows = await self._all(
            "SELECT snapshot FROM spisy WHERE ico = ? AND id = ? AND deleted = 0 "
            "AND snapshot IS NOT NULL",
            ico,
            spis_id,
        )
        if not spis_rows:
            return None
        snapshot = decode_snapshot(spis_rows[0][0], SpisSnapshot)
        state_rows = await self._all(
            f"SELECT {SPIS_STATE_COLUMNS} FROM spis_state WHERE ico = ? AND spis_id = ?",  # noqa: S608 - constant columns
            ico,
            spis_id,
        )
        state = (
            spis_state_row(state_rows[0])
            if state_rows
            else SpisStateRow(
                ico=ico, spis_id=spis_id, state="open", state_version=0, closing_seq=0
            )
        )
        dokumenty = []
        for (dokument_json,) in await self._all(
            "SELECT snapshot FROM dokumenty WHERE ico = ? AND spis_id = ? AND deleted = 0 "
            "AND snapshot IS NOT NULL",
            ico,
            spis_id,
        ):
            dokument = decode_snapshot(dokument_json, DokumentSnapshot)
            komponenty = []
            for komponenta_json, *file_columns in await self._all(
                f"SELECT k.snapshot, {_F_FILE_COLUMNS} "  # noqa: S608 - constant columns
                "FROM komponenty k LEFT JOIN files f "
                f"ON f.ico = k.ico AND f.path = k.soubor AND f.deleted = 0 AND {NOT_RELEASED_SQL} "
                "WHERE k.ico = ? AND k.dokument_id = ? AND k.deleted = 0 "
                "AND k.snapshot IS NOT NULL",
                ico,
                dokument.dokument_id,
            ):
                file = (
                    file_version_row(tuple(file_columns)) if file_columns[0] is not None else None
                )
                komponenty.append(
                    KomponentaContent(
                        snapshot=decode_snapshot(komponenta_json, KomponentaSnapshot), file=file
                    )
                )
            komponenty.sort(key=lambda k: (k.snapshot.poradi, k.snapshot.verze))
            dokumenty.append(DokumentDetail(snapshot=dokument, komponenty=tuple(komponenty)))
        dokumenty.sort(key=lambda d: (d.snapshot.poradi, d.snapshot.dokument_id))
        return SpisDetail(ico=ico, snapshot=snapshot, state=state, dokumenty=tuple(dokumenty))

    async def ready_spisy(self) -> list[ReadySpis]:
        """Return closed, complete spisy not yet forwarded."""
        rows = await self._all(
            "SELECT ico, spis_id, closing_seq FROM spis_state "
            "WHERE state = 'closed' AND complete_at IS NOT NULL ORDER BY complete_at"
        )
        return [ReadySpis(ico=row[0], spis_id=row[1], closing_seq=row[2]) for row in rows]

    async def _update_state(self, sql: str, *args: object) -> bool:
        async with self._write_tx() as db, db.execute(sql, args) as cursor:
            return cursor.rowcount > 0

    async def mark_forwarded(
        self, ico: str, spis_id: str, closing_seq: int, *, sip_name: str, sip_sha256: str
    ) -> bool:
        """Move a complete closed spis to `forwarded` with its SIP's name and hash."""
        now = to_ts(utc_now())
        return await self._update_state(
            "UPDATE spis_state SET state = 'forwarded', forwarded_at = ?, sip_name = ?, "
            "sip_sha256 = ?, updated_at = ? WHERE ico = ? AND spis_id = ? AND closing_seq = ? "
            "AND state = 'closed' AND complete_at IS NOT NULL",
            now,
            sip_name,
            sip_sha256,
            now,
            ico,
            spis_id,
            closing_seq,
        )

    async def mark_archived(self, ico: str, spis_id: str, closing_seq: int) -> bool:
        """Move a forwarded spis to `archived`."""
        now = to_ts(utc_now())
        return await self._update_state(
            "UPDATE spis_state SET state = 'archived', archived_at = ?, updated_at = ? "
            "WHERE ico = ? AND spis_id = ? AND closing_seq = ? AND state = 'forwarded'",
            now,
            now,
            ico,
            spis_id,
            closing_seq,
        )

    async def collect_unreferenced_chunks(self, *, uploaded_before: datetime, limit: int) -> int:
        """Queue for deletion chunks uploaded before `uploaded_before` that no content uses.

        Returns how many were queued (at most `limit`); their blobs go in the
        deletion queue's phase 2 (see `hub.store.sqlite_release`).
        """
        rows = await self._all(UNREFERENCED_CANDIDATES_SQL, to_ts(uploaded_before), limit)
        if not rows:
            return 0
        async with self._write_tx() as db:
            return await collect_unreferenced_chunks(
                db, [str(row[0]) for row in rows], uploaded_before=uploaded_before, at=utc_now()
            )

    async def processed_messages(self, ico: str) -> int:
        """Return how many metadata messages of obec `ico` were applied."""
        rows = await self._all("SELECT count(*) FROM processed_messages WHERE ico = ?", ico)
        return int(rows[0][0])
