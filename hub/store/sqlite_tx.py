"""One write transaction on the SQLite metadata database (`MetadataTransaction`)."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

import msgspec

from hub.store import sqlite_bulk
from hub.store.models import MissingKomponenta
from hub.store.sqlite_console import insert_audit
from hub.store.sqlite_diagnostics import insert_row, select_row, update_row
from hub.store.sqlite_rows import (
    FILE_VERSION_COLUMNS,
    SPIS_STATE_COLUMNS,
    content_row,
    encode_snapshot,
    file_version_row,
    placeholders,
    spis_state_row,
    to_ts,
)
from protocol import utc_now

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from datetime import datetime

    from hub.store.diagnostics import DiagnosticsRow, RequestState
    from hub.store.models import (
        ContentRow,
        FileVersionRow,
        RegistryTable,
        SpisStateRow,
    )
    from hub.store.sqlite_write import WriteConnection
    from protocol import (
        DokumentSnapshot,
        Heartbeat,
        KomponentaSnapshot,
        SpisSnapshot,
        Udalost,
    )

__all__ = ["MISSING_KOMPONENTY_SQL", "NOT_RELEASED_SQL", "SqliteTransaction"]

_TABLES: dict[str, str] = {"spis": "spisy", "dokument": "dokumenty", "komponenta": "komponenty"}

# A file version `f` whose content's blobs were not released (see hub.store.sqlite_release).
NOT_RELEASED_SQL = (
    "NOT EXISTS (SELECT 1 FROM contents rc WHERE rc.sha256 = f.sha256 "
    "AND rc.released_at IS NOT NULL)"
)

# A komponenta lacks content when its path has no current version, the
# current version is a tombstone, or its content was released.
MISSING_KOMPONENTY_SQL = """
SELECT d.spis_id, k.id, k.dokument_id, k.soubor
FROM komponenty k
JOIN dokumenty d ON d.ico = k.ico AND d.id = k.dokument_id
WHERE k.ico = ? AND k.deleted = 0 AND d.deleted = 0 AND d.spis_id IS NOT NULL {extra}
  AND NOT EXISTS (
      SELECT 1 FROM files f WHERE f.ico = k.ico AND f.path = k.soubor AND f.deleted = 0
      AND NOT EXISTS (
          SELECT 1 FROM contents rc WHERE rc.sha256 = f.sha256 AND rc.released_at IS NOT NULL
      )
  )
ORDER BY d.spis_id, k.dokument_id, k.id
"""


def _utc(value: datetime) -> str:
    """One instant, one key: an event redelivered with another offset is the same event."""
    return (value if value.tzinfo is None else value.astimezone(UTC)).isoformat()


class SqliteTransaction:
    """The operations handlers run inside one `BEGIN IMMEDIATE … COMMIT`.

    Args:
        db: The store's write connection, inside an open transaction.
        instance: This hub process's name, recorded with each applied message.
    """

    def __init__(self, db: WriteConnection, instance: str) -> None:
        self._db = db
        self._instance = instance

    async def _one(self, sql: str, *args: object) -> tuple[object, ...] | None:
        # execute_fetchall: one hop to aiosqlite's thread instead of three
        # (execute, fetch, close); these run for every message ingested.
        rows = list(await self._db.execute_fetchall(sql, args))
        return tuple(rows[0]) if rows else None

    async def touch_obec(self, ico: str, at: datetime) -> None:
        """Record that obec `ico` sent something at `at`."""
        await self._db.execute(
            "INSERT INTO obce (ico, first_seen_at, last_message_at) VALUES (?, ?, ?) "
            "ON CONFLICT (ico) DO UPDATE SET last_message_at = excluded.last_message_at",
            (ico, to_ts(at), to_ts(at)),
        )

    async def message_seen(self, message_id: str) -> bool:
        """Tell whether the message was already applied."""
        row = await self._one("SELECT 1 FROM processed_messages WHERE message_id = ?", message_id)
        return row is not None

    async def record_message(self, message_id: str, ico: str, kind: str) -> None:
        """Remember that the message was applied."""
        await self._db.execute(
            "INSERT INTO processed_messages (message_id, ico, kind, hub_instance, processed_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (message_id, ico, kind, self._instance, to_ts(utc_now())),
        )

    async def add_chunk(self, ico: str, sha256: str, size: int) -> None:
        """Record a stored chunk and its uploader."""
        # `stored_at` is the last upload: an unreferenced chunk is collected only
        # that long after anyone sent it (`collect_unreferenced_chunks`).
        await self._db.execute(
            "INSERT INTO chunks (sha256, size, stored_at) VALUES (?, ?, ?) "
            "ON CONFLICT (sha256) DO UPDATE SET stored_at = excluded.stored_at",
            (sha256, size, to_ts(utc_now())),
        )
        await self._db.execute(
            "INSERT OR IGNORE INTO obec_chunks (ico, sha256) VALUES (?, ?)", (ico, sha256)
        )

    async def owned_chunks(self, ico: str, sha256s: Collection[str]) -> dict[str, int]:
        """Return the sizes of the chunks among `sha256s` that obec `ico` uploaded and stored."""
        wanted = list(set(sha256s))
        owned: dict[str, int] = {}
        # SQLite limits bound parameters; 500 per query stays far below it.
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            sql = (
                "SELECT o.sha256, c.size FROM obec_chunks o JOIN chunks c ON c.sha256 = o.sha256 "  # noqa: S608 - placeholders only
                f"WHERE o.ico = ? AND o.sha256 IN ({placeholders(len(part))})"
            )
            rows = await self._db.execute_fetchall(sql, (ico, *part))
            owned.update((row[0], row[1]) for row in rows)
        return owned

    async def record_corrupt_chunk(
        self, ico: str, object_sha256: str, index: int, sha256: str
    ) -> None:
        """Remember a corrupt chunk (for the repair request's reason)."""
        await self._db.execute(
            "INSERT OR REPLACE INTO corrupt_chunks (ico, object_sha256, idx, sha256, seen_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (ico, object_sha256, index, sha256, to_ts(utc_now())),
        )

    async def corrupt_indexes(self, ico: str, object_sha256: str) -> set[int]:
        """Return indexes of `object_sha256` that arrived corrupt."""
        rows = await self._db.execute_fetchall(
            "SELECT idx FROM corrupt_chunks WHERE ico = ? AND object_sha256 = ?",
            (ico, object_sha256),
        )
        return {int(row[0]) for row in rows}

    async def content(self, sha256: str) -> ContentRow | None:
        """Return a verified content by hash."""
        row = await self._one(
            "SELECT sha256, size, chunk_size, chunks FROM contents WHERE sha256 = ?", sha256
        )
        return None if row is None else content_row(row)

    async def add_content(self, content: ContentRow) -> None:
        """Record a verified content (kept as is if held, replaced if it was released)."""
        # A released content's chunks are (being) deleted: bytes verified anew,
        # perhaps chunked differently, replace its chunk list.
        async with self._db.execute(
            "INSERT INTO contents (sha256, size, chunk_size, chunks, verified_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET "
            "size = excluded.size, chunk_size = excluded.chunk_size, chunks = excluded.chunks, "
            "verified_at = excluded.verified_at WHERE contents.released_at IS NOT NULL",
            (
                content.sha256,
                content.size,
                content.chunk_size,
                msgspec.json.encode(list(content.chunks)).decode(),
                to_ts(utc_now()),
            ),
        ) as cursor:
            written = cursor.rowcount > 0
        if not written:
            return
        await self._db.execute(
            "DELETE FROM content_chunks WHERE content_sha256 = ?", (content.sha256,)
        )
        await self._db.executemany(
            "INSERT OR IGNORE INTO content_chunks (chunk_sha256, content_sha256) VALUES (?, ?)",
            [(chunk, content.sha256) for chunk in set(content.chunks)],
        )

    async def file_version(self, ico: str, path: str, source_seq: int) -> FileVersionRow | None:
        """Return one recorded version."""
        row = await self._one(
            f"SELECT {FILE_VERSION_COLUMNS} FROM file_versions "  # noqa: S608 - constant columns
            "WHERE ico = ? AND path = ? AND source_seq = ?",
            ico,
            path,
            source_seq,
        )
        return None if row is None else file_version_row(row)

    async def epoch_base(self, ico: str, epoch: str, at: datetime) -> int:
        """Return the base of obec `ico`'s epoch `epoch` (see `MetadataTransaction`)."""
        if not epoch:
            return 0
        row = await self._one(
            "SELECT base FROM obec_epochs WHERE ico = ? AND epoch = ?", ico, epoch
        )
        if row is not None and isinstance(row[0], int):
            return row[0]
        base = await self.highest_source_seq(ico)
        await self._db.execute(
            "INSERT INTO obec_epochs (ico, epoch, base, first_seen_at) VALUES (?, ?, ?, ?)",
            (ico, epoch, base, to_ts(at)),
        )
        return base

    async def highest_source_seq(self, ico: str) -> int:
        """Return the highest `source_seq` recorded for obec `ico` (0 if none)."""
        row = await self._one("SELECT max(source_seq) FROM file_versions WHERE ico = ?", ico)
        highest = row[0] if row else None
        return highest if isinstance(highest, int) else 0

    async def add_file_version(self, row: FileVersionRow) -> None:
        """Record a version or tombstone."""
        await self._db.execute(
            f"INSERT INTO file_versions ({FILE_VERSION_COLUMNS}) "  # noqa: S608 - constant columns
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.ico,
                row.path,
                row.source_seq,
                row.sha256,
                row.size,
                row.mtime_ns,
                int(row.deleted),
                to_ts(row.recorded_at),
            ),
        )
        if row.sha256 is not None:
            # Recorded only with every chunk present again (uploaded anew after a
            # release): the content is live again.
            await self._db.execute(
                "UPDATE contents SET released_at = NULL "
                "WHERE sha256 = ? AND released_at IS NOT NULL",
                (row.sha256,),
            )

    # -- many rows at once (a bundle of small files; see hub.store.sqlite_bulk) --

    async def file_versions(
        self, ico: str, keys: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], FileVersionRow]:
        """Return the recorded versions among `(path, source_seq)` keys."""
        return await sqlite_bulk.file_versions(self._db, ico, keys)

    async def released_chunks(self, sha256s: Collection[str]) -> set[str]:
        """Return which of the chunks were (or are about to be) deleted by a release."""
        return await sqlite_bulk.released_chunks(self._db, sha256s)

    async def add_chunks(self, ico: str, chunks: Sequence[tuple[str, int]]) -> None:
        """Record stored chunks `(sha256, size)` and their uploader."""
        await sqlite_bulk.add_chunks(self._db, ico, chunks)

    async def contents(self, sha256s: Collection[str]) -> dict[str, ContentRow]:
        """Return the recorded contents among `sha256s`."""
        return await sqlite_bulk.contents(self._db, sha256s)

    async def add_new_contents(self, rows: Sequence[ContentRow]) -> None:
        """Record verified contents that have no row yet."""
        await sqlite_bulk.add_new_contents(self._db, rows)

    async def add_file_versions(self, rows: Sequence[FileVersionRow]) -> None:
        """Record file versions (not tombstones)."""
        await sqlite_bulk.add_file_versions(self._db, rows)

    async def clear_corrupt_chunks_of(self, ico: str, object_sha256s: Collection[str]) -> None:
        """Forget corrupt-chunk records of contents now recorded."""
        await sqlite_bulk.clear_corrupt_chunks_of(self._db, ico, object_sha256s)

    async def record_messages(self, message_ids: Sequence[str], ico: str, kind: str) -> None:
        """Remember that the messages were applied."""
        await sqlite_bulk.record_messages(self._db, message_ids, ico, kind, self._instance)

    async def chunk_was_released(self, sha256: str) -> bool:
        """Tell whether the chunk's blob was (or is about to be) deleted by a release."""
        row = await self._one("SELECT 1 FROM chunk_deletions WHERE sha256 = ?", sha256)
        return row is not None

    async def record_version(self, table: RegistryTable, ico: str, record_id: str) -> int | None:
        """Return the `source_version` held for a registry record."""
        row = await self._one(
            f"SELECT source_version FROM {_TABLES[table]} "  # noqa: S608 - table from a fixed map
            "WHERE ico = ? AND id = ?",
            ico,
            record_id,
        )
        return None if row is None else int(str(row[0]))

    async def put_spis(self, ico: str, snapshot: SpisSnapshot) -> None:
        """Store a spis snapshot."""
        await self._db.execute(
            "INSERT INTO spisy (ico, id, source_version, deleted, spisova_znacka, nazev, stav, "
            "snapshot, updated_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?) "
            "ON CONFLICT (ico, id) DO UPDATE SET source_version = excluded.source_version, "
            "deleted = 0, spisova_znacka = excluded.spisova_znacka, nazev = excluded.nazev, "
            "stav = excluded.stav, snapshot = excluded.snapshot, updated_at = excluded.updated_at",
            (
                ico,
                snapshot.spis_id,
                snapshot.source_version,
                snapshot.spisova_znacka,
                snapshot.nazev,
                snapshot.stav,
                encode_snapshot(snapshot),
                to_ts(utc_now()),
            ),
        )
        await self._put_events(
            ico, "spis", snapshot.spis_id, snapshot.source_version, snapshot.udalosti
        )

    async def put_dokument(self, ico: str, snapshot: DokumentSnapshot) -> None:
        """Store a dokument snapshot."""
        await self._db.execute(
            "INSERT INTO dokumenty (ico, id, source_version, deleted, spis_id, snapshot, "
            "updated_at) VALUES (?, ?, ?, 0, ?, ?, ?) "
            "ON CONFLICT (ico, id) DO UPDATE SET source_version = excluded.source_version, "
            "deleted = 0, spis_id = excluded.spis_id, snapshot = excluded.snapshot, "
            "updated_at = excluded.updated_at",
            (
                ico,
                snapshot.dokument_id,
                snapshot.source_version,
                snapshot.spis_id,
                encode_snapshot(snapshot),
                to_ts(utc_now()),
            ),
        )
        await self._put_events(
            ico, "dokument", snapshot.dokument_id, snapshot.source_version, snapshot.udalosti
        )

    async def put_komponenta(self, ico: str, snapshot: KomponentaSnapshot) -> None:
        """Store a komponenta snapshot."""
        await self._db.execute(
            "INSERT INTO komponenty (ico, id, source_version, deleted, dokument_id, soubor, "
            "snapshot, updated_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?) "
            "ON CONFLICT (ico, id) DO UPDATE SET source_version = excluded.source_version, "
            "deleted = 0, dokument_id = excluded.dokument_id, soubor = excluded.soubor, "
            "snapshot = excluded.snapshot, updated_at = excluded.updated_at",
            (
                ico,
                snapshot.komponenta_id,
                snapshot.source_version,
                snapshot.dokument_id,
                snapshot.soubor,
                encode_snapshot(snapshot),
                to_ts(utc_now()),
            ),
        )
        await self._put_events(
            ico, "komponenta", snapshot.komponenta_id, snapshot.source_version, snapshot.udalosti
        )

    async def _put_events(
        self,
        ico: str,
        table: RegistryTable,
        record_id: str,
        source_version: int,
        udalosti: tuple[Udalost, ...],
    ) -> None:
        if not udalosti:
            return
        await self._db.executemany(
            "INSERT OR IGNORE INTO registry_events "
            "(ico, tabulka, zaznam_id, kdy, typ, kdo, popis, source_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (ico, table, record_id, _utc(u.kdy), u.typ, u.kdo or "", u.popis, source_version)
                for u in udalosti
            ],
        )

    async def delete_record(
        self, table: RegistryTable, ico: str, record_id: str, source_version: int
    ) -> None:
        """Mark a registry record deleted, keeping its last snapshot for the record."""
        await self._db.execute(
            f"INSERT INTO {_TABLES[table]} "  # noqa: S608 - table from a fixed map
            "(ico, id, source_version, deleted, updated_at) VALUES (?, ?, ?, 1, ?) "
            "ON CONFLICT (ico, id) DO UPDATE SET source_version = excluded.source_version, "
            "deleted = 1, updated_at = excluded.updated_at",
            (ico, record_id, source_version, to_ts(utc_now())),
        )

    async def spis_exists(self, ico: str, spis_id: str) -> bool:
        """Tell whether a non-deleted snapshot of the spis is held."""
        row = await self._one(
            "SELECT 1 FROM spisy WHERE ico = ? AND id = ? AND deleted = 0 AND snapshot IS NOT NULL",
            ico,
            spis_id,
        )
        return row is not None

    async def spis_state(self, ico: str, spis_id: str) -> SpisStateRow | None:
        """Return the hub state of a spis."""
        row = await self._one(
            f"SELECT {SPIS_STATE_COLUMNS} FROM spis_state "  # noqa: S608 - constant columns
            "WHERE ico = ? AND spis_id = ?",
            ico,
            spis_id,
        )
        return None if row is None else spis_state_row(row)

    async def put_spis_state(self, row: SpisStateRow) -> None:
        """Store the hub state of a spis."""
        await self._db.execute(
            f"INSERT OR REPLACE INTO spis_state ({SPIS_STATE_COLUMNS}, updated_at) "  # noqa: S608 - constant columns
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.ico,
                row.spis_id,
                row.state,
                row.state_version,
                row.closing_seq,
                to_ts(row.closed_at),
                to_ts(row.complete_at),
                to_ts(row.forwarded_at),
                to_ts(row.archived_at),
                row.sip_name,
                row.sip_sha256,
                to_ts(utc_now()),
            ),
        )

    async def waiting_spisy(self, ico: str) -> list[SpisStateRow]:
        """Return obec `ico`'s closed spisy not yet found complete."""
        rows = await self._db.execute_fetchall(
            f"SELECT {SPIS_STATE_COLUMNS} FROM spis_state "  # noqa: S608 - constant columns
            "WHERE ico = ? AND state = 'closed' AND complete_at IS NULL",
            (ico,),
        )
        return [spis_state_row(row) for row in rows]

    async def failed_closings(self, ico: str) -> list[SpisStateRow]:
        """Return obec `ico`'s complete closed spisy whose SIP could not be built.

        Only those with a registry record (the spis, a dokument, a komponenta)
        changed since the build failed.
        """
        columns = ", ".join(f"s.{c.strip()}" for c in SPIS_STATE_COLUMNS.split(","))
        rows = await self._db.execute_fetchall(
            f"SELECT {columns} FROM spis_state s JOIN sips p "  # noqa: S608 - constant columns
            "ON p.ico = s.ico AND p.spis_id = s.spis_id AND p.closing_seq = s.closing_seq "
            "WHERE s.ico = ? AND s.state = 'closed' AND s.complete_at IS NOT NULL "
            "AND p.state = 'failed' AND ("
            # Only when one of its registry records changed since the failure: a
            # fix may have come; anything else would rebuild it at every batch.
            "EXISTS (SELECT 1 FROM spisy r WHERE r.ico = s.ico AND r.id = s.spis_id "
            "AND r.updated_at > p.updated_at) "
            "OR EXISTS (SELECT 1 FROM dokumenty d WHERE d.ico = s.ico AND d.spis_id = s.spis_id "
            "AND d.updated_at > p.updated_at) "
            "OR EXISTS (SELECT 1 FROM komponenty k JOIN dokumenty d "
            "ON d.ico = k.ico AND d.id = k.dokument_id "
            "WHERE d.ico = s.ico AND d.spis_id = s.spis_id AND k.updated_at > p.updated_at))",
            (ico,),
        )
        return [spis_state_row(row) for row in rows]

    async def missing_komponenty(self, ico: str, spis_id: str) -> list[MissingKomponenta]:
        """Return the komponenty of a spis without current content."""
        rows = await self._db.execute_fetchall(
            MISSING_KOMPONENTY_SQL.format(extra="AND d.spis_id = ?"), (ico, spis_id)
        )
        return [
            MissingKomponenta(komponenta_id=row[1], dokument_id=row[2], soubor=row[3])
            for row in rows
        ]

    async def record_heartbeat(self, ico: str, received_at: datetime, heartbeat: Heartbeat) -> None:
        """Keep the latest heartbeat of obec `ico`."""
        await self._db.execute(
            "INSERT INTO heartbeats (ico, received_at, sent_at, heartbeat) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ico) DO UPDATE SET received_at = excluded.received_at, "
            "sent_at = excluded.sent_at, heartbeat = excluded.heartbeat "
            "WHERE excluded.sent_at >= heartbeats.sent_at",
            (ico, to_ts(received_at), to_ts(heartbeat.sent_at), encode_snapshot(heartbeat)),
        )

    async def diagnostics_row(self, request_id: str) -> DiagnosticsRow | None:
        """Return a diagnostics request."""
        return await select_row(self._db, request_id)

    async def put_diagnostics_row(
        self, row: DiagnosticsRow, *, expected: RequestState | None
    ) -> bool:
        """Insert a row (`expected` None) or replace one still in state `expected`."""
        if expected is None:
            await insert_row(self._db, row)
            return True
        return await update_row(self._db, row, expected=expected)

    async def append_audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        ico: str | None,
        detail: str,
        result: str,
    ) -> None:
        """Append an audit entry that commits (or not) with this transaction."""
        await insert_audit(
            self._db, at=at, actor=actor, action=action, ico=ico, detail=detail, result=result
        )
