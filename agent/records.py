"""The rows of `state.sqlite`: its schema and the typed records read from it."""

from __future__ import annotations

import json

import msgspec

__all__ = [
    "FILE_KIND",
    "OUTBOX_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "IndexEntry",
    "OutboxRow",
    "Signature",
    "StatUpdate",
    "VersionRecord",
    "entry_from_row",
    "outbox_row_from_row",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path         TEXT PRIMARY KEY,   -- wire path: NFC, with the folder prefix
    folder       TEXT NOT NULL,      -- the folder's key (its configured path)
    disk_path    TEXT NOT NULL,      -- path relative to the folder, as the disk spells it
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    inode        INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    chunk_size   INTEGER NOT NULL,
    chunk_sha256 TEXT NOT NULL,      -- JSON list
    source_seq   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_folder ON files (folder, disk_path);
-- The first chunk's hash (chunk_sha256 is a JSON list): is a new file a copy?
CREATE INDEX IF NOT EXISTS files_first_chunk ON files (substr(chunk_sha256, 3, 64));
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,   -- wire kind: file_version, tombstone, spis, ...
    message_id      TEXT NOT NULL,
    created_at      REAL NOT NULL,   -- unix time; also the manifest's sent_at
    body            BLOB,            -- the encoded message, for every kind but file_version
    path            TEXT,
    folder          TEXT,
    disk_path       TEXT,
    size            INTEGER,
    mtime_ns        INTEGER,
    sha256          TEXT,
    chunk_size      INTEGER,
    chunk_sha256    TEXT,
    source_seq      INTEGER,
    only_chunks     TEXT,            -- repair: JSON list of chunk indexes, NULL for all
    force_content   INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_path ON outbox (path);
CREATE TABLE IF NOT EXISTS outbox_chunks (
    row_id INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    PRIMARY KEY (row_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS held (
    sha256      TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    source_seq  INTEGER NOT NULL,
    received_at REAL NOT NULL
);
-- Chunks of contents of several chunks in `held`: a changed large file sends only
-- the chunks the hub does not hold already (an append sends its last chunks).
CREATE TABLE IF NOT EXISTS held_chunks (
    sha256 TEXT PRIMARY KEY
) WITHOUT ROWID;
-- The block signature of the last version sent of each file whose next version
-- may go as deltas (`agent.deltas`).
CREATE TABLE IF NOT EXISTS sent_signatures (
    path       TEXT PRIMARY KEY,   -- wire path
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    chunks     TEXT NOT NULL,      -- JSON list of the chunks' SHA-256
    blocks     BLOB NOT NULL       -- `protocol.delta.block_signature` of the whole file
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sent_versions (
    path          TEXT PRIMARY KEY,     -- wire path
    source_seq    INTEGER NOT NULL,     -- newest version of it the broker confirmed
    sha256        TEXT NOT NULL,
    sent_at       REAL NOT NULL,        -- when it was confirmed, or queued again
    resends       INTEGER NOT NULL DEFAULT 0,
    receipted_seq INTEGER NOT NULL DEFAULT 0  -- newest version the hub confirmed holding
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sent_records (
    tabulka           TEXT NOT NULL,  -- tombstone, spis, dokument, komponenta or spis_closing
    record_id         TEXT NOT NULL,  -- the tombstone's wire path, or the record's id
    source_version    INTEGER NOT NULL, -- of the newest message about it the broker confirmed
    kind              TEXT NOT NULL,  -- that message's wire kind
    body              BLOB NOT NULL,  -- the message, to send again; empty once confirmed
    sent_at           REAL NOT NULL,  -- when it was confirmed, or queued again
    queued            INTEGER NOT NULL DEFAULT 0, -- queued again, not yet confirmed again
    resends           INTEGER NOT NULL DEFAULT 0,
    receipted_version INTEGER NOT NULL DEFAULT 0, -- newest version the hub confirmed holding
    PRIMARY KEY (tabulka, record_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sent_records_due ON sent_records (sent_at)
    WHERE receipted_version < source_version;
CREATE TABLE IF NOT EXISTS registry_seen (
    tabulka     TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    stav        TEXT,
    PRIMARY KEY (tabulka, record_id)
) WITHOUT ROWID;
"""

SCHEMA_VERSION = "1"
FILE_KIND = "file_version"
OUTBOX_COLUMNS = (
    "id, kind, message_id, created_at, body, path, folder, disk_path, size, mtime_ns, sha256, "
    "chunk_size, chunk_sha256, source_seq, only_chunks, force_content, attempts"
)


class IndexEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What the index holds for one path: the last version the hub was told about."""

    path: str
    folder: str
    disk_path: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    chunk_size: int
    chunk_sha256: tuple[str, ...]
    source_seq: int

    def same_stat(self, size: int, mtime_ns: int, inode: int) -> bool:
        """Tell whether a stat result matches, so the file need not be read."""
        return (self.size, self.mtime_ns, self.inode) == (size, mtime_ns, inode)


class VersionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A new file version to record in the index and the outbox."""

    path: str
    folder: str
    disk_path: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    chunk_size: int
    chunk_sha256: tuple[str, ...]


class StatUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A new spelling, mtime or inode of an indexed path whose content did not change."""

    path: str
    disk_path: str
    mtime_ns: int
    inode: int


class Signature(msgspec.Struct, frozen=True, kw_only=True):
    """The block signature of a file version whose content was sent (`protocol.delta`)."""

    path: str
    sha256: str
    size: int
    chunk_size: int
    chunks: tuple[str, ...]
    blocks: bytes


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    """One outbox row: a message to publish, or a file version to send at publish time."""

    id: int
    kind: str
    message_id: str
    created_at: float
    body: bytes | None = None
    path: str | None = None
    folder: str | None = None
    disk_path: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    chunk_size: int | None = None
    chunk_sha256: tuple[str, ...] = ()
    source_seq: int | None = None
    only_chunks: tuple[int, ...] | None = None
    force_content: bool = False
    attempts: int = 0

    @property
    def is_file(self) -> bool:
        """Whether the row sends a file's chunks, then its manifest.

        A file version's manifest is built at send time; any other row with a
        file (a diagnostics attachment) carries its manifest in `body`.
        """
        return self.kind == FILE_KIND or self.disk_path is not None


def outbox_row_from_row(values: tuple[object, ...]) -> OutboxRow:
    """Build an `OutboxRow` from a row selected with `OUTBOX_COLUMNS`."""
    (
        row_id,
        kind,
        message_id,
        created_at,
        body,
        path,
        folder,
        disk_path,
        size,
        mtime_ns,
        sha256,
        chunk_size,
        chunk_sha256,
        source_seq,
        only_chunks,
        force_content,
        attempts,
    ) = values
    return msgspec.convert(
        {
            "id": row_id,
            "kind": kind,
            "message_id": message_id,
            "created_at": created_at,
            "body": body,
            "path": path,
            "folder": folder,
            "disk_path": disk_path,
            "size": size,
            "mtime_ns": mtime_ns,
            "sha256": sha256,
            "chunk_size": chunk_size,
            "chunk_sha256": json.loads(str(chunk_sha256)) if chunk_sha256 else [],
            "source_seq": source_seq,
            "only_chunks": None if only_chunks is None else json.loads(str(only_chunks)),
            "force_content": bool(force_content),
            "attempts": attempts,
        },
        OutboxRow,
    )


def entry_from_row(row: tuple[object, ...]) -> IndexEntry:
    """Build an `IndexEntry` from a `files` row in column order."""
    path, folder, disk_path, size, mtime_ns, inode, sha256, chunk_size, chunks, seq = row
    return msgspec.convert(
        {
            "path": path,
            "folder": folder,
            "disk_path": disk_path,
            "size": size,
            "mtime_ns": mtime_ns,
            "inode": inode,
            "sha256": sha256,
            "chunk_size": chunk_size,
            "chunk_sha256": json.loads(str(chunks)),
            "source_seq": seq,
        },
        IndexEntry,
    )
