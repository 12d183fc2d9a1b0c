"""Releasing a content's blobs in SQLite: the live-reference rule and the two deletion phases.

Everything here runs inside a write transaction (`BEGIN IMMEDIATE`), so no
ingest batch of any hub process on this database can commit in between. The
invariant kept is: *a `chunks` row exists ⇒ its blob exists*.

- Phase 1 (`release_content`): if nothing live references the content, mark
  it released, delete the `chunks` and `obec_chunks` rows of those of its
  chunks that no unreleased content uses, and queue them in `chunk_deletions`.
  From the commit on, ingest treats those chunks as absent: an obec that sends
  the same bytes again is asked for them (`NeedChunks`) and uploads them anew.
- Phase 2 (`delete_released_blobs`): for each queued chunk that still has no
  `chunks` row, delete its blob; one that was re-added keeps its blob. A crash
  in between leaves the queue entry, and the deletion is simply redone.
- Collection (`collect_unreferenced_chunks`): a chunk uploaded before a cutoff
  that no unreleased content uses (its manifest never came) goes through the
  same phase 1 and 2.
- Ingest (`hub.handlers.content.handle_chunk`): a chunk that appears in
  `chunk_deletions` gets its blob checked *inside* the batch's transaction
  before its row is written; if phase 2 removed it after the batch decided it
  was stored, the batch is retried and the blob written again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.store.sqlite_rows import placeholders, to_ts

if TYPE_CHECKING:
    from datetime import datetime

    from hub.store.blobs import BlobStore
    from hub.store.sips import ReleaseOutcome
    from hub.store.sqlite_write import WriteConnection

__all__ = [
    "UNREFERENCED_CANDIDATES_SQL",
    "collect_unreferenced_chunks",
    "delete_released_blobs",
    "live_reference",
    "release_content",
]

# The newest version of its path (the `files` view spelled out, so that the
# sha256 index is used).
_CURRENT = (
    "fv.deleted = 0 AND NOT EXISTS (SELECT 1 FROM file_versions n "
    "WHERE n.ico = fv.ico AND n.path = fv.path AND n.source_seq > fv.source_seq)"
)

# 1. A komponenta that is not part of an archived spis (open, closed, forwarded,
#    or of a dokument outside any spis or not yet known) resolves to the content.
_REFERENCED_BY_LIVE_KOMPONENTA = f"""
SELECT 'komponenta ' || k.ico || '/' || k.id FROM file_versions fv
JOIN komponenty k ON k.ico = fv.ico AND k.soubor = fv.path AND k.deleted = 0
LEFT JOIN dokumenty d ON d.ico = k.ico AND d.id = k.dokument_id
LEFT JOIN spis_state s ON s.ico = k.ico AND s.spis_id = d.spis_id
WHERE fv.sha256 = ? AND {_CURRENT}
  AND (d.id IS NULL OR d.deleted = 0)
  AND (s.state IS NULL OR s.state != 'archived')
LIMIT 1
"""  # noqa: S608 - constant fragments only

# 2. A SIP still in flight lists it (it may need rebuilding), or one of the
#    current closing of its spis that was rejected or failed (it may be rebuilt).
_REFERENCED_BY_UNFINISHED_SIP = """
SELECT 'sip ' || p.name FROM sip_components sc
JOIN sips p ON p.name = sc.sip_name
LEFT JOIN spis_state s ON s.ico = p.ico AND s.spis_id = p.spis_id
WHERE sc.content_sha256 = ?
  AND (p.state IN ('built', 'forwarded')
       OR (p.state IN ('rejected', 'failed') AND s.closing_seq = p.closing_seq))
LIMIT 1
"""

# 3. It is the current version of a path no komponenta references: a working
#    file of the office (a scan not yet registered, a copy) the hub keeps.
_CURRENT_UNFILED_FILE = f"""
SELECT 'file ' || fv.ico || '/' || fv.path FROM file_versions fv
WHERE fv.sha256 = ? AND {_CURRENT}
  AND NOT EXISTS (
      SELECT 1 FROM komponenty k WHERE k.ico = fv.ico AND k.soubor = fv.path AND k.deleted = 0
  )
LIMIT 1
"""  # noqa: S608 - constant fragments only

_DROPPABLE_CHUNKS = """
SELECT cc.chunk_sha256 FROM content_chunks cc
WHERE cc.content_sha256 = ?
  AND NOT EXISTS (
      SELECT 1 FROM content_chunks o JOIN contents oc ON oc.sha256 = o.content_sha256
      WHERE o.chunk_sha256 = cc.chunk_sha256 AND oc.released_at IS NULL
  )
"""


_UNUSED = """
NOT EXISTS (
    SELECT 1 FROM content_chunks cc JOIN contents oc ON oc.sha256 = cc.content_sha256
    WHERE cc.chunk_sha256 = c.sha256 AND oc.released_at IS NULL
)
"""

UNREFERENCED_CANDIDATES_SQL = f"""
SELECT c.sha256 FROM chunks c WHERE c.stored_at < ? AND {_UNUSED} LIMIT ?
"""  # noqa: S608 - constant fragments only
"""Chunks uploaded before `?` that no unreleased content uses (read side, no lock)."""


async def _drop_chunks(db: WriteConnection, chunks: list[str], at: datetime) -> None:
    """Forget `chunks` and queue their blobs for deletion (`delete_released_blobs` deletes them)."""
    for start in range(0, len(chunks), 500):
        part = chunks[start : start + 500]
        marks = placeholders(len(part))
        await db.execute(f"DELETE FROM chunks WHERE sha256 IN ({marks})", part)  # noqa: S608 - placeholders only
        await db.execute(f"DELETE FROM obec_chunks WHERE sha256 IN ({marks})", part)  # noqa: S608 - placeholders only
    await db.executemany(
        "INSERT INTO chunk_deletions (sha256, queued_at, blob_deleted_at) VALUES (?, ?, NULL) "
        "ON CONFLICT (sha256) DO UPDATE SET queued_at = excluded.queued_at, blob_deleted_at = NULL",
        [(chunk, to_ts(at)) for chunk in chunks],
    )


async def collect_unreferenced_chunks(
    db: WriteConnection, candidates: list[str], *, uploaded_before: datetime, at: datetime
) -> int:
    """Phase 1 for chunks no content uses; return how many were queued for deletion.

    `candidates` come from a read without the write lock; each is checked
    again here, by primary key, so a manifest committed since keeps its chunks
    and the write lock is held only for these short lookups.
    """
    recheck = f"SELECT c.sha256 FROM chunks c WHERE c.sha256 = ? AND c.stored_at < ? AND {_UNUSED}"  # noqa: S608 - constant fragments only
    cutoff = to_ts(uploaded_before)
    queued = [sha for sha in candidates if await _first(db, recheck, sha, cutoff)]
    await _drop_chunks(db, queued, at)
    return len(queued)


async def _first(db: WriteConnection, sql: str, *args: object) -> str | None:
    async with db.execute(sql, args) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def live_reference(db: WriteConnection, sha256: str) -> str | None:
    """Return what still needs the content `sha256` (for the log), or None if nothing does."""
    for sql in (
        _REFERENCED_BY_LIVE_KOMPONENTA,
        _REFERENCED_BY_UNFINISHED_SIP,
        _CURRENT_UNFILED_FILE,
    ):
        found = await _first(db, sql, sha256)
        if found is not None:
            return found
    return None


async def release_content(
    db: WriteConnection, sha256: str, *, at: datetime
) -> tuple[ReleaseOutcome, str | None, int]:
    """Phase 1 for one content; return the outcome, the blocking reference, and chunks queued."""
    state = await _first(
        db, "SELECT coalesce(released_at, '') FROM contents WHERE sha256 = ?", sha256
    )
    if state is None:
        return "unknown", None, 0
    if state:
        return "already_released", None, 0
    blocker = await live_reference(db, sha256)
    if blocker is not None:
        return "referenced", blocker, 0
    await db.execute("UPDATE contents SET released_at = ? WHERE sha256 = ?", (to_ts(at), sha256))
    async with db.execute(_DROPPABLE_CHUNKS, (sha256,)) as cursor:
        chunks = [str(row[0]) for row in await cursor.fetchall()]
    await _drop_chunks(db, chunks, at)
    return "released", None, len(chunks)


async def delete_released_blobs(
    db: WriteConnection, blobs: BlobStore, *, limit: int, at: datetime
) -> int:
    """Phase 2: delete queued blobs that have no chunk row (again); return how many."""
    async with db.execute(
        "SELECT q.sha256, EXISTS (SELECT 1 FROM chunks c WHERE c.sha256 = q.sha256) "
        "FROM chunk_deletions q WHERE q.blob_deleted_at IS NULL LIMIT ?",
        (limit,),
    ) as cursor:
        queued = [(str(row[0]), bool(row[1])) for row in await cursor.fetchall()]
    deleted = 0
    for sha256, readded in queued:
        if readded:
            # Uploaded again since the release (with its blob): keep both.
            await db.execute("DELETE FROM chunk_deletions WHERE sha256 = ?", (sha256,))
            continue
        await blobs.delete(sha256)
        await db.execute(
            "UPDATE chunk_deletions SET blob_deleted_at = ? WHERE sha256 = ?", (to_ts(at), sha256)
        )
        deleted += 1
    return deleted
