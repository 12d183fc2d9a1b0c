"""The console's records (`hub.store.console`) in the hub's SQLite database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from hub.store.console import AuditEntry, OperatorRow, Role, SessionRow
from hub.store.sqlite_rows import from_ts, to_ts
from hub.store.sqlite_shared import SharedConnections
from protocol import utc_now

if TYPE_CHECKING:
    from datetime import datetime

    from hub.store.sqlite_write import WriteConnection

__all__ = ["SqliteAuditLog", "SqliteOperatorAccounts", "insert_audit"]

_OPERATOR_COLUMNS = "name, role, password_hash, token_hash IS NOT NULL, created_at, updated_at"


def _when(value: str) -> datetime:
    when = from_ts(value)
    assert when is not None
    return when


def _operator(row: tuple[Any, ...]) -> OperatorRow:
    return OperatorRow(
        name=row[0],
        role=cast("Role", row[1]),
        password_hash=row[2],
        has_token=bool(row[3]),
        created_at=_when(row[4]),
        updated_at=_when(row[5]),
    )


async def insert_audit(
    db: WriteConnection,
    *,
    at: datetime,
    actor: str,
    action: str,
    ico: str | None,
    detail: str,
    result: str,
) -> int:
    """Insert one audit entry inside the caller's transaction; return its id.

    Shared by the audit log and by handlers that audit inside the batch's
    transaction (a diagnostics result), so the entry commits with the change.
    """
    async with db.execute(
        "INSERT INTO audit_log (at, actor, action, ico, detail, result) VALUES (?, ?, ?, ?, ?, ?)",
        (to_ts(at), actor, action, ico, detail, result),
    ) as cursor:
        entry_id = cursor.lastrowid
    assert entry_id is not None
    return entry_id


class SqliteAuditLog(SharedConnections):
    """An `AuditLog` sharing the metadata store's connections and write lock."""

    async def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        ico: str | None,
        detail: str,
        result: str,
    ) -> int:
        """Record one entry; return its id."""
        async with self._write() as db:
            return await insert_audit(
                db, at=at, actor=actor, action=action, ico=ico, detail=detail, result=result
            )

    async def entries(
        self, *, limit: int = 200, ico: str | None = None, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Return the newest entries first."""
        where: list[str] = []
        args: list[object] = []
        if ico is not None:
            where.append("ico = ?")
            args.append(ico)
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self._read(
            "SELECT id, at, actor, action, ico, detail, result FROM audit_log "  # noqa: S608 - fixed clauses
            f"{clause}ORDER BY id DESC LIMIT ?",
            *args,
            limit,
        )
        return [
            AuditEntry(
                id=row[0],
                at=_when(row[1]),
                actor=row[2],
                action=row[3],
                ico=row[4],
                detail=row[5],
                result=row[6],
            )
            for row in rows
        ]


class SqliteOperatorAccounts(SharedConnections):
    """`OperatorAccounts` sharing the metadata store's connections and write lock."""

    async def _execute(self, sql: str, *args: object) -> int:
        async with self._write() as db, db.execute(sql, args) as cursor:
            return cursor.rowcount

    async def put_operator(self, name: str, role: Role, password_hash: str) -> bool:
        """Create the account or set its role and password; True if created."""
        now = to_ts(utc_now())
        async with self._write() as db:
            async with db.execute("SELECT 1 FROM operators WHERE name = ?", (name,)) as cursor:
                existed = await cursor.fetchone() is not None
            await db.execute(
                "INSERT INTO operators (name, role, password_hash, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
                "password_hash = excluded.password_hash, updated_at = excluded.updated_at",
                (name, role, password_hash, now, now),
            )
            if existed:
                # A new password or role ends the sessions opened under the old one.
                await db.execute("DELETE FROM console_sessions WHERE operator = ?", (name,))
        return not existed

    async def operator(self, name: str) -> OperatorRow | None:
        """Return one account."""
        rows = await self._read(
            f"SELECT {_OPERATOR_COLUMNS} FROM operators WHERE name = ?",  # noqa: S608 - constant columns
            name,
        )
        return _operator(rows[0]) if rows else None

    async def operators(self) -> list[OperatorRow]:
        """Return every account, by name."""
        rows = await self._read(f"SELECT {_OPERATOR_COLUMNS} FROM operators ORDER BY name")  # noqa: S608 - constant columns
        return [_operator(row) for row in rows]

    async def remove_operator(self, name: str) -> bool:
        """Delete the account, its sessions and token."""
        async with self._write() as db:
            await db.execute("DELETE FROM console_sessions WHERE operator = ?", (name,))
            async with db.execute("DELETE FROM operators WHERE name = ?", (name,)) as cursor:
                return cursor.rowcount > 0

    async def set_token_hash(self, name: str, token_hash: str) -> bool:
        """Replace the account's API token hash."""
        return (
            await self._execute(
                "UPDATE operators SET token_hash = ?, updated_at = ? WHERE name = ?",
                token_hash,
                to_ts(utc_now()),
                name,
            )
            > 0
        )

    async def operator_by_token(self, token_hash: str) -> OperatorRow | None:
        """Return the account whose API token has this hash."""
        rows = await self._read(
            f"SELECT {_OPERATOR_COLUMNS} FROM operators WHERE token_hash = ?",  # noqa: S608 - constant columns
            token_hash,
        )
        return _operator(rows[0]) if rows else None

    async def create_session(
        self, id_hash: str, operator: str, csrf_token: str, expires_at: datetime
    ) -> None:
        """Store a new session; expired ones are swept on the way."""
        now = utc_now()
        async with self._write() as db:
            await db.execute("DELETE FROM console_sessions WHERE expires_at < ?", (to_ts(now),))
            await db.execute(
                "INSERT INTO console_sessions (id_hash, operator, csrf_token, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                (id_hash, operator, csrf_token, to_ts(now), to_ts(expires_at)),
            )

    async def session(self, id_hash: str, now: datetime) -> SessionRow | None:
        """Return a live session with its account's current role."""
        rows = await self._read(
            "SELECT s.operator, o.role, s.csrf_token, s.expires_at FROM console_sessions s "
            "JOIN operators o ON o.name = s.operator WHERE s.id_hash = ? AND s.expires_at > ?",
            id_hash,
            to_ts(now),
        )
        if not rows:
            return None
        row = rows[0]
        return SessionRow(
            operator=row[0],
            role=cast("Role", row[1]),
            csrf_token=row[2],
            expires_at=_when(row[3]),
        )

    async def delete_session(self, id_hash: str) -> None:
        """End a session."""
        await self._execute("DELETE FROM console_sessions WHERE id_hash = ?", id_hash)

    async def record_login_failure(self, subject: str, at: datetime) -> None:
        """Remember a failed login."""
        await self._execute(
            "INSERT INTO login_failures (subject, at) VALUES (?, ?)", subject, to_ts(at)
        )

    async def login_failures(self, subject: str, since: datetime) -> int:
        """Count `subject`'s failed logins since `since`."""
        rows = await self._read(
            "SELECT count(*) FROM login_failures WHERE subject = ? AND at >= ?",
            subject,
            to_ts(since),
        )
        return int(rows[0][0])

    async def clear_login_failures(self, subject: str) -> None:
        """Forget `subject`'s failed logins."""
        await self._execute("DELETE FROM login_failures WHERE subject = ?", subject)
