"""Many rows per statement: what a bundle of small files records, in a few round trips.

A bundle of 512 files applied one file at a time cost about fourteen
statements per file, each with its Python overhead. These take or return
every file of the bundle at once (`executemany`, `IN (...)` lists of at most
500 parameters, far below SQLite's limit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from hub.store.sqlite_rows import (
    FILE_VERSION_COLUMNS,
    content_row,
    file_version_row,
    placeholders,
    to_ts,
)
from protocol import utc_now

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence

    from hub.store.models import ContentRow, FileVersionRow
    from hub.store.sqlite_write import WriteConnection

__all__ = [
    "add_chunks",
    "add_file_versions",
    "add_new_contents",
    "clear_corrupt_chunks_of",
    "contents",
    "file_versions",
    "record_messages",
    "released_chunks",
]

_PART = 500


def _parts(values: Sequence[Any], size: int = _PART) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def file_versions(
    db: WriteConnection, ico: str, keys: Collection[tuple[str, int]]
) -> dict[tuple[str, int], FileVersionRow]:
    """Return the recorded versions among `(path, source_seq)` keys of obec `ico`."""
    found: dict[tuple[str, int], FileVersionRow] = {}
    # Two parameters per key: half as many keys per query.
    for part in _parts(list(set(keys)), _PART // 2):
        values = ", ".join("(?, ?)" for _ in part)
        sql = (
            f"SELECT {FILE_VERSION_COLUMNS} FROM file_versions "  # noqa: S608 - placeholders only
            f"WHERE ico = ? AND (path, source_seq) IN (VALUES {values})"
        )
        rows = await db.execute_fetchall(sql, (ico, *(v for key in part for v in key)))
        for row in rows:
            version = file_version_row(row)
            found[(version.path, version.source_seq)] = version
    return found


async def released_chunks(db: WriteConnection, sha256s: Collection[str]) -> set[str]:
    """Return which chunks among `sha256s` were (or are about to be) deleted by a release."""
    released: set[str] = set()
    for part in _parts(list(set(sha256s))):
        sql = f"SELECT sha256 FROM chunk_deletions WHERE sha256 IN ({placeholders(len(part))})"  # noqa: S608 - placeholders only
        released.update(str(row[0]) for row in await db.execute_fetchall(sql, part))
    return released


async def add_chunks(db: WriteConnection, ico: str, chunks: Sequence[tuple[str, int]]) -> None:
    """Record stored chunks `(sha256, size)` and that obec `ico` uploaded them."""
    now = to_ts(utc_now())
    await db.executemany(
        "INSERT INTO chunks (sha256, size, stored_at) VALUES (?, ?, ?) "
        "ON CONFLICT (sha256) DO UPDATE SET stored_at = excluded.stored_at",
        [(sha256, size, now) for sha256, size in chunks],
    )
    await db.executemany(
        "INSERT OR IGNORE INTO obec_chunks (ico, sha256) VALUES (?, ?)",
        [(ico, sha256) for sha256, _ in chunks],
    )


async def contents(db: WriteConnection, sha256s: Collection[str]) -> dict[str, ContentRow]:
    """Return the recorded contents among `sha256s`."""
    found: dict[str, ContentRow] = {}
    for part in _parts(list(set(sha256s))):
        sql = (
            "SELECT sha256, size, chunk_size, chunks FROM contents "  # noqa: S608 - placeholders only
            f"WHERE sha256 IN ({placeholders(len(part))})"
        )
        for row in await db.execute_fetchall(sql, part):
            found[str(row[0])] = content_row(row)
    return found


async def add_new_contents(db: WriteConnection, rows: Sequence[ContentRow]) -> None:
    """Record verified contents that have no row yet (`contents` said so in this transaction)."""
    now = to_ts(utc_now())
    await db.executemany(
        "INSERT INTO contents (sha256, size, chunk_size, chunks, verified_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        [
            (c.sha256, c.size, c.chunk_size, msgspec.json.encode(list(c.chunks)).decode(), now)
            for c in rows
        ],
    )
    await db.executemany(
        "INSERT OR IGNORE INTO content_chunks (chunk_sha256, content_sha256) VALUES (?, ?)",
        [(chunk, c.sha256) for c in rows for chunk in set(c.chunks)],
    )


async def add_file_versions(db: WriteConnection, rows: Sequence[FileVersionRow]) -> None:
    """Record file versions (not tombstones); their contents are live again if released."""
    await db.executemany(
        f"INSERT INTO file_versions ({FILE_VERSION_COLUMNS}) "  # noqa: S608 - constant columns
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.ico,
                r.path,
                r.source_seq,
                r.sha256,
                r.size,
                r.mtime_ns,
                int(r.deleted),
                to_ts(r.recorded_at),
            )
            for r in rows
        ],
    )
    await db.executemany(
        "UPDATE contents SET released_at = NULL WHERE sha256 = ? AND released_at IS NOT NULL",
        [(r.sha256,) for r in rows if r.sha256 is not None],
    )


async def clear_corrupt_chunks_of(
    db: WriteConnection, ico: str, object_sha256s: Collection[str]
) -> None:
    """Forget corrupt-chunk records of contents now recorded."""
    await db.executemany(
        "DELETE FROM corrupt_chunks WHERE ico = ? AND object_sha256 = ?",
        [(ico, sha256) for sha256 in set(object_sha256s)],
    )


async def record_messages(
    db: WriteConnection, message_ids: Sequence[str], ico: str, kind: str, instance: str
) -> None:
    """Remember that the messages were applied (idempotency)."""
    now = to_ts(utc_now())
    await db.executemany(
        "INSERT INTO processed_messages (message_id, ico, kind, hub_instance, processed_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [(message_id, ico, kind, instance, now) for message_id in message_ids],
    )
