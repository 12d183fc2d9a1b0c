"""The SIP ledger (`hub.store.sips.SipLedger`) in the hub's SQLite database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import msgspec

from hub.store.models import SipFailure, SipRow, SipState
from hub.store.sips import ReleaseResult
from hub.store.sqlite_release import delete_released_blobs, release_content
from hub.store.sqlite_rows import from_ts, to_ts
from hub.store.sqlite_shared import SharedConnections
from protocol import utc_now

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from hub.store.blobs import BlobStore

__all__ = ["SqliteSipLedger"]

_COLUMNS = (
    "name, ico, spis_id, closing_seq, state, sha256, size, resend_chunks, archive_id, "
    "failures, sends, built_at, sent_at, accepted_at, released_at, notes"
)


def _failures_json(failures: Collection[SipFailure]) -> str:
    return msgspec.json.encode(
        [{"code": f.code, "message": f.message, "location": f.location} for f in failures]
    ).decode()


def _failures(text: str) -> tuple[SipFailure, ...]:
    raw = msgspec.json.decode(text, type=list[dict[str, str]])
    return tuple(SipFailure(r["code"], r["message"], r.get("location", "")) for r in raw)


def _row(row: tuple[Any, ...]) -> SipRow:
    resend = None if row[7] is None else tuple(msgspec.json.decode(row[7], type=list[int]))
    return SipRow(
        name=row[0],
        ico=row[1],
        spis_id=row[2],
        closing_seq=row[3],
        state=cast("SipState", row[4]),
        sha256=row[5],
        size=row[6],
        resend_chunks=resend,
        archive_id=row[8],
        failures=_failures(row[9]),
        sends=row[10],
        built_at=from_ts(row[11]),
        sent_at=from_ts(row[12]),
        accepted_at=from_ts(row[13]),
        released_at=from_ts(row[14]),
        notes=_failures(row[15]),
    )


class SqliteSipLedger(SharedConnections):
    """A `SipLedger` sharing the metadata store's connections and write lock."""

    async def _one(self, where: str, *args: object) -> SipRow | None:
        rows = await self._read(f"SELECT {_COLUMNS} FROM sips WHERE {where}", *args)  # noqa: S608 - constant columns and conditions
        return _row(rows[0]) if rows else None

    async def _update(self, sql: str, *args: object) -> bool:
        async with self._write() as db, db.execute(sql, args) as cursor:
            return cursor.rowcount > 0

    async def sip(self, name: str) -> SipRow | None:
        """Return the SIP of that name."""
        return await self._one("name = ?", name)

    async def sip_for(self, ico: str, spis_id: str, closing_seq: int) -> SipRow | None:
        """Return the SIP of one closing of a spis."""
        return await self._one(
            "ico = ? AND spis_id = ? AND closing_seq = ?", ico, spis_id, closing_seq
        )

    async def sips_of(self, ico: str) -> list[SipRow]:
        """Return every SIP of obec `ico`."""
        rows = await self._read(
            f"SELECT {_COLUMNS} FROM sips WHERE ico = ? ORDER BY spis_id, closing_seq",  # noqa: S608 - constant columns
            ico,
        )
        return [_row(row) for row in rows]

    async def record_built(
        self,
        *,
        name: str,
        ico: str,
        spis_id: str,
        closing_seq: int,
        sha256: str,
        size: int,
        components: Collection[str],
        at: datetime,
        notes: Collection[SipFailure] = (),
    ) -> SipRow:
        """Record a built SIP with its component hashes and notes (kept if already recorded)."""
        async with self._write() as db:
            async with db.execute(
                "INSERT INTO sips (name, ico, spis_id, closing_seq, state, sha256, size, "
                "failures, built_at, updated_at, notes) "
                "VALUES (?, ?, ?, ?, 'built', ?, ?, '[]', ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET state = 'built', sha256 = excluded.sha256, "
                "size = excluded.size, failures = '[]', resend_chunks = NULL, "
                "built_at = excluded.built_at, updated_at = excluded.updated_at, "
                "notes = excluded.notes WHERE sips.state = 'failed'",
                (
                    name,
                    ico,
                    spis_id,
                    closing_seq,
                    sha256,
                    size,
                    to_ts(at),
                    to_ts(at),
                    _failures_json(notes),
                ),
            ) as cursor:
                fresh = cursor.rowcount > 0
            if fresh:
                await db.execute("DELETE FROM sip_components WHERE sip_name = ?", (name,))
                await db.executemany(
                    "INSERT OR IGNORE INTO sip_components (sip_name, content_sha256) VALUES (?, ?)",
                    [(name, sha) for sha in sorted(set(components))],
                )
        row = await self.sip(name)
        assert row is not None
        return row

    async def record_failed(
        self,
        *,
        name: str,
        ico: str,
        spis_id: str,
        closing_seq: int,
        failures: Collection[SipFailure],
        at: datetime,
    ) -> None:
        """Record a SIP that could not be built."""
        await self._update(
            "INSERT INTO sips (name, ico, spis_id, closing_seq, state, failures, updated_at) "
            "VALUES (?, ?, ?, ?, 'failed', ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET failures = excluded.failures, "
            "updated_at = excluded.updated_at WHERE sips.state = 'failed'",
            name,
            ico,
            spis_id,
            closing_seq,
            _failures_json(failures),
            to_ts(at),
        )

    async def due(self, *, resend_before: datetime) -> list[SipRow]:
        """Return SIPs to send now."""
        rows = await self._read(
            f"SELECT {_COLUMNS} FROM sips WHERE state = 'built' "  # noqa: S608 - constant columns
            "OR (state = 'forwarded' AND sent_at < ?) ORDER BY built_at",
            to_ts(resend_before),
        )
        return [_row(row) for row in rows]

    async def mark_sent(self, name: str, *, at: datetime) -> bool:
        """`built`/`forwarded` → `forwarded` once the manifest is confirmed."""
        return await self._update(
            "UPDATE sips SET state = 'forwarded', sent_at = ?, sends = sends + 1, "
            "resend_chunks = NULL, updated_at = ? "
            "WHERE name = ? AND state IN ('built', 'forwarded')",
            to_ts(at),
            to_ts(at),
            name,
        )

    async def mark_accepted(self, name: str, *, archive_id: str, at: datetime) -> bool:
        """Record the archive's acceptance (idempotent: the first acceptance's time is kept)."""
        return await self._update(
            "UPDATE sips SET state = 'accepted', archive_id = ?, "
            "accepted_at = coalesce(accepted_at, ?), resend_chunks = NULL, updated_at = ? "
            "WHERE name = ? AND state IN ('built', 'forwarded', 'accepted')",
            archive_id,
            to_ts(at),
            to_ts(at),
            name,
        )

    async def request_resend(self, name: str, chunks: Collection[int] | None) -> bool:
        """Queue a re-send of `chunks` (None: all of them) followed by the manifest."""
        current = await self.sip(name)
        if current is None or current.state not in {"built", "forwarded"}:
            return False
        if chunks is None:
            merged = None
        elif current.state == "built" and current.resend_chunks is None:
            merged = None  # A full send is already due and covers these.
        else:
            merged = sorted(set(chunks) | set(current.resend_chunks or ()))
        resend = None if merged is None else msgspec.json.encode(merged).decode()
        return await self._update(
            "UPDATE sips SET state = 'built', resend_chunks = ?, updated_at = ? "
            "WHERE name = ? AND state IN ('built', 'forwarded')",
            resend,
            to_ts(utc_now()),
            name,
        )

    async def mark_rejected(self, name: str, failures: Collection[SipFailure]) -> bool:
        """Record a final rejection (never over an acceptance)."""
        return await self._update(
            "UPDATE sips SET state = 'rejected', failures = ?, resend_chunks = NULL, "
            "updated_at = ? WHERE name = ? AND state IN ('built', 'forwarded', 'rejected')",
            _failures_json(failures),
            to_ts(utc_now()),
            name,
        )

    async def add_failure(self, name: str, failure: SipFailure) -> None:
        """Append a failure, state unchanged."""
        current = await self.sip(name)
        if current is None:
            return
        await self._update(
            "UPDATE sips SET failures = ?, updated_at = ? WHERE name = ?",
            _failures_json([*current.failures, failure]),
            to_ts(utc_now()),
            name,
        )

    async def releasable(self, *, accepted_before: datetime) -> list[SipRow]:
        """Return accepted, unreleased SIPs accepted before `accepted_before`."""
        rows = await self._read(
            f"SELECT {_COLUMNS} FROM sips WHERE state = 'accepted' AND released_at IS NULL "  # noqa: S608 - constant columns
            "AND accepted_at < ? ORDER BY accepted_at",
            to_ts(accepted_before),
        )
        return [_row(row) for row in rows]

    async def components(self, name: str) -> list[str]:
        """Return the content hashes a SIP was built from."""
        rows = await self._read(
            "SELECT content_sha256 FROM sip_components WHERE sip_name = ? ORDER BY 1", name
        )
        return [str(row[0]) for row in rows]

    async def release_content(self, sha256: str, *, at: datetime) -> ReleaseResult:
        """Release a content unless something live references it."""
        async with self._write() as db:
            outcome, blocker, chunks = await release_content(db, sha256, at=at)
        return ReleaseResult(outcome=outcome, blocker=blocker, chunks=chunks)

    async def mark_released(self, name: str, *, at: datetime) -> None:
        """Note that a SIP's release was done."""
        await self._update(
            "UPDATE sips SET released_at = ?, updated_at = ? WHERE name = ?",
            to_ts(at),
            to_ts(at),
            name,
        )

    async def delete_released_blobs(self, blobs: BlobStore, *, limit: int) -> int:
        """Delete up to `limit` queued blobs, holding the write lock throughout."""
        async with self._write() as db:
            return await delete_released_blobs(db, blobs, limit=limit, at=utc_now())

    async def prune_deletions(self, *, before: datetime) -> int:
        """Forget deletions done before `before`."""
        async with (
            self._write() as db,
            db.execute(
                "DELETE FROM chunk_deletions WHERE blob_deleted_at IS NOT NULL "
                "AND blob_deleted_at < ?",
                (to_ts(before),),
            ) as cursor,
        ):
            return cursor.rowcount
