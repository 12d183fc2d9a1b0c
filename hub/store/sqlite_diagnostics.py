"""The diagnostics ledger (`hub.store.diagnostics`) in the hub's SQLite database."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from hub.store.diagnostics import DiagnosticsRow
from hub.store.sqlite_rows import to_ts
from hub.store.sqlite_shared import SharedConnections

if TYPE_CHECKING:
    from datetime import datetime

    from hub.store.diagnostics import RequestState
    from hub.store.sqlite_write import WriteConnection

__all__ = ["SqliteDiagnosticsLedger", "insert_row", "select_row", "update_row"]

_decoder = msgspec.json.Decoder(DiagnosticsRow)


def _values(row: DiagnosticsRow) -> tuple[object, ...]:
    return (
        row.id,
        row.ico,
        row.verb,
        row.operator,
        row.state,
        to_ts(row.created_at),
        to_ts(row.expires_at),
        to_ts(row.updated_at),
        msgspec.json.encode(row).decode(),
    )


async def insert_row(db: WriteConnection, row: DiagnosticsRow) -> None:
    """Insert a row (inside the caller's transaction)."""
    await db.execute(
        "INSERT INTO diagnostics (id, ico, verb, operator, state, created_at, expires_at, "
        "updated_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _values(row),
    )


async def update_row(db: WriteConnection, row: DiagnosticsRow, *, expected: RequestState) -> bool:
    """Replace a row whose state is still `expected`; False if it is not."""
    async with db.execute(
        "UPDATE diagnostics SET state = ?, updated_at = ?, record = ? WHERE id = ? AND state = ?",
        (row.state, to_ts(row.updated_at), msgspec.json.encode(row).decode(), row.id, expected),
    ) as cursor:
        return cursor.rowcount > 0


async def select_row(db: WriteConnection, request_id: str) -> DiagnosticsRow | None:
    """Return one row, or None."""
    rows = list(
        await db.execute_fetchall("SELECT record FROM diagnostics WHERE id = ?", (request_id,))
    )
    return _decoder.decode(rows[0][0]) if rows else None


class SqliteDiagnosticsLedger(SharedConnections):
    """A `DiagnosticsLedger` sharing the metadata store's connections and write lock."""

    async def create(self, row: DiagnosticsRow) -> None:
        """Record a new request."""
        async with self._write() as db:
            await insert_row(db, row)

    async def get(self, request_id: str) -> DiagnosticsRow | None:
        """Return one request."""
        rows = await self._read("SELECT record FROM diagnostics WHERE id = ?", request_id)
        return _decoder.decode(rows[0][0]) if rows else None

    async def of_obec(self, ico: str, limit: int = 100) -> list[DiagnosticsRow]:
        """Return an obec's latest requests, newest first."""
        rows = await self._read(
            "SELECT record FROM diagnostics WHERE ico = ? ORDER BY created_at DESC LIMIT ?",
            ico,
            limit,
        )
        return [_decoder.decode(r[0]) for r in rows]

    async def open_past(self, now: datetime) -> list[DiagnosticsRow]:
        """Return unfinished requests whose time to live ran out before `now`."""
        rows = await self._read(
            "SELECT record FROM diagnostics WHERE state IN ('queued', 'delivered', 'running') "
            "AND expires_at < ?",
            to_ts(now),
        )
        return [_decoder.decode(r[0]) for r in rows]

    async def replace(self, row: DiagnosticsRow, *, expected: RequestState) -> bool:
        """Store `row` if the stored state is still `expected`."""
        async with self._write() as db:
            return await update_row(db, row, expected=expected)
