"""Conversions between SQLite rows and the store's values (shared by store and transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec

from hub.store.models import ContentRow, FileSummary, FileVersionRow, HubState, SpisStateRow

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "FILE_SUMMARY_SELECT",
    "FILE_VERSION_COLUMNS",
    "SPIS_STATE_COLUMNS",
    "content_row",
    "decode_snapshot",
    "encode_snapshot",
    "file_summary",
    "file_version_row",
    "from_ts",
    "placeholders",
    "spis_state_row",
    "to_ts",
]

T = TypeVar("T")

FILE_SUMMARY_SELECT = (
    "SELECT f.path, f.size, f.sha256, f.versions, f.deleted, f.source_seq, "
    "f.recorded_at, c.released_at IS NOT NULL FROM files f "
    "LEFT JOIN contents c ON c.sha256 = f.sha256 "
)
"""The current files with whether their content was released; the caller adds WHERE and ORDER."""
FILE_VERSION_COLUMNS = "ico, path, source_seq, sha256, size, mtime_ns, deleted, recorded_at"
SPIS_STATE_COLUMNS = (
    "ico, spis_id, state, state_version, closing_seq, closed_at, complete_at, "
    "forwarded_at, archived_at, sip_name, sip_sha256"
)


def to_ts(value: datetime | None) -> str | None:
    """Store a timezone-aware time as ISO 8601 text."""
    return None if value is None else value.isoformat()


def from_ts(value: str | None) -> datetime | None:
    """Read back a time stored by `to_ts`."""
    return None if value is None else datetime.fromisoformat(value)


def placeholders(count: int) -> str:
    """Return `?, ?, …` for an `IN (...)` list of `count` values."""
    return ", ".join("?" * count)


def encode_snapshot(snapshot: msgspec.Struct) -> str:
    """Encode a registry snapshot as JSON text."""
    return msgspec.json.encode(snapshot).decode()


def decode_snapshot(text: str, snapshot_type: type[T]) -> T:
    """Decode a registry snapshot stored by `encode_snapshot`."""
    return msgspec.json.decode(text, type=snapshot_type)


def file_version_row(row: sqlite3.Row | tuple[Any, ...]) -> FileVersionRow:
    """Build a `FileVersionRow` from the columns in `FILE_VERSION_COLUMNS` order."""
    recorded_at = from_ts(row[7])
    assert recorded_at is not None
    return FileVersionRow(
        ico=row[0],
        path=row[1],
        source_seq=row[2],
        sha256=row[3],
        size=row[4],
        mtime_ns=row[5],
        deleted=bool(row[6]),
        recorded_at=recorded_at,
    )


def file_summary(row: sqlite3.Row | tuple[Any, ...]) -> FileSummary:
    """Build a `FileSummary` from a row of `FILE_SUMMARY_SELECT`."""
    path, size, sha256, versions, deleted, source_seq, recorded_at, released = row
    when = from_ts(recorded_at)
    assert when is not None
    return FileSummary(
        path=path,
        size=size,
        sha256=sha256,
        versions=versions,
        deleted=bool(deleted),
        source_seq=source_seq,
        recorded_at=when,
        released=bool(released),
    )


def content_row(row: sqlite3.Row | tuple[Any, ...]) -> ContentRow:
    """Build a `ContentRow` from (sha256, size, chunk_size, chunks JSON)."""
    return ContentRow(
        sha256=row[0],
        size=row[1],
        chunk_size=row[2],
        chunks=tuple(msgspec.json.decode(row[3], type=list[str])),
    )


def spis_state_row(row: sqlite3.Row | tuple[Any, ...]) -> SpisStateRow:
    """Build a `SpisStateRow` from the columns in `SPIS_STATE_COLUMNS` order."""
    return SpisStateRow(
        ico=row[0],
        spis_id=row[1],
        state=cast("HubState", row[2]),
        state_version=row[3],
        closing_seq=row[4],
        closed_at=from_ts(row[5]),
        complete_at=from_ts(row[6]),
        forwarded_at=from_ts(row[7]),
        archived_at=from_ts(row[8]),
        sip_name=row[9],
        sip_sha256=row[10],
    )
