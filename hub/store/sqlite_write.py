"""The write connection as a transaction sees it: statements run on the event loop itself.

A batch's transaction is a run of small indexed reads and writes (about ten
per file version), each done by SQLite in tens of microseconds. Handing each
one to aiosqlite's thread cost far more than the statement: a thread hop, a
wake-up of the loop and a GIL hand-over per call, which made the hub's SQLite
work the largest part of its CPU per small file. Inside `BEGIN IMMEDIATE …
COMMIT` this process holds the database's write lock, so no statement waits
for a lock; what may wait (BEGIN, for the lock; COMMIT, for fsync and the WAL
checkpoint) still runs on aiosqlite's thread (`SqliteMetadataStore._write_tx`).

The write lock of the store (an `asyncio.Lock`) ensures that aiosqlite's
thread is idle while statements run here, so the connection (opened with
`check_same_thread=False`) is never used by two threads at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Generator, Iterable, Sequence
    from types import TracebackType

__all__ = ["WriteConnection"]


class _Cursor:
    """A finished statement's cursor with aiosqlite's (awaitable) reading methods."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        """Rows changed by the statement."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """Row id of the last row inserted."""
        return self._cursor.lastrowid

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        """The remaining rows."""
        return self._cursor.fetchall()


class _Statement:
    """`execute`'s result: awaited, or used as `async with … as cursor`, like aiosqlite's."""

    def __init__(self, cursor: _Cursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, _Cursor]:
        return self._done().__await__()

    async def _done(self) -> _Cursor:
        return self._cursor

    async def __aenter__(self) -> _Cursor:
        return self._cursor

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._cursor._cursor.close()  # noqa: SLF001 - the wrapper owns it


class WriteConnection:
    """The methods of `aiosqlite.Connection` a transaction uses, done straight away.

    Args:
        db: The store's write connection, inside its open transaction.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> _Statement:
        """Run one statement."""
        return _Statement(_Cursor(self._db.execute(sql, tuple(parameters))))

    async def execute_fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        """Run one statement and return all its rows."""
        return self._db.execute(sql, tuple(parameters)).fetchall()

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Cursor:
        """Run one statement for each set of parameters."""
        return _Cursor(self._db.executemany(sql, parameters))
