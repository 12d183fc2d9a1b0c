"""Database connections for registry adapters: MariaDB/MySQL, PostgreSQL, SQLite, read-only.

Every poll is one `snapshot()`: a single read-only transaction at REPEATABLE
READ (MySQL `START TRANSACTION READ ONLY WITH CONSISTENT SNAPSHOT`, PostgreSQL
`REPEATABLE READ READ ONLY`, SQLite a `mode=ro` connection in one
transaction), so everything a poll reads belongs to one moment. Queries are
written with `?` placeholders and adapted to each driver. Text comes back per
cell (MySQL without decoding, SQLite as bytes) so that one undecodable cell
refuses only its record. A query that does not answer within
`query_timeout_s` or a lost connection raises `RegistryError`: the poll is
retried later, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, urlsplit

from agent.errors import RegistryError
from agent.registry.contract import Undecodable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from agent.registry.contract import RawRow

__all__ = ["Database", "DbUrl", "Session", "open_database", "parse_db_url"]

_SCHEMES = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}


@dataclass(frozen=True)
class DbUrl:
    """A parsed registry database URL (never with a password: that comes from a file).

    Attributes:
        dialect: `mysql`, `postgresql` or `sqlite`.
        user: The (read-only) database user.
        host: Server host.
        port: Server port.
        database: Database name (the SQLite file path for `sqlite`).
    """

    dialect: str
    user: str
    host: str
    port: int
    database: str

    def __str__(self) -> str:
        """The URL without any secret, for logs and problems."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.database}"
        return f"{self.dialect}://{quote(self.user)}@{self.host}:{self.port}/{self.database}"


def parse_db_url(url: str) -> DbUrl:
    """Parse `mysql://USER@HOST:PORT/DATABASE`, `postgresql://...` or `sqlite:///PATH`.

    Raises:
        ValueError: Naming what is wrong (a password in the URL, a missing part).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if not path:
            raise ValueError("a sqlite URL needs a path: sqlite:///PATH")
        return DbUrl("sqlite", "", "", 0, path)
    dialect = _SCHEMES.get(parts.scheme)
    if dialect is None:
        raise ValueError(
            f"unknown database {parts.scheme!r}: use mysql://, postgresql:// or sqlite:///"
        )
    if parts.password is not None:
        raise ValueError("put the password in password_file, not in the url")
    database = parts.path.lstrip("/")
    if not parts.username or not parts.hostname or not database:
        raise ValueError(f"expected {parts.scheme}://USER@HOST:PORT/DATABASE")
    default_port = 3306 if dialect == "mysql" else 5432
    return DbUrl(
        dialect, unquote(parts.username), parts.hostname, parts.port or default_port, database
    )


class Session(Protocol):
    """One read-only snapshot transaction."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[RawRow]:
        """Run one query (`?` placeholders) and return its rows keyed by column name."""
        ...

    async def columns(self, sql: str) -> list[str]:
        """Return the column names a query returns (reading no rows)."""
        ...


class Database(Protocol):
    """A registry database the agent reads.

    Attributes:
        url: Where it is (without secrets).
    """

    url: DbUrl

    def snapshot(self) -> contextlib.AbstractAsyncContextManager[Session]:
        """Open one consistent read-only transaction."""
        ...

    async def close(self) -> None:
        """Close the connection (the next snapshot reconnects)."""
        ...


def open_database(url: DbUrl, password: str, *, query_timeout_s: float) -> Database:
    """Return the database for `url` (connections are opened lazily, per need)."""
    if url.dialect == "mysql":
        return _MySql(url, password, query_timeout_s)
    if url.dialect == "postgresql":
        return _Postgres(url, password, query_timeout_s)
    return _Sqlite(url, query_timeout_s)


def _cell(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            return Undecodable(bytes(value))
    return value


_QMARK = re.compile(r"'[^']*'|\?")


def _placeholders(sql: str, style: str) -> str:
    """Turn `?` placeholders (outside quoted literals) into `%s` or `$n`."""
    counter = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal counter
        if match.group(0) != "?":
            return match.group(0).replace("%", "%%") if style == "format" else match.group(0)
        counter += 1
        return "%s" if style == "format" else f"${counter}"

    return _QMARK.sub(replace, sql)


class _MySql:
    def __init__(self, url: DbUrl, password: str, timeout: float) -> None:
        self.url = url
        self._password = password
        self._timeout = timeout
        self._connection: Any = None

    async def _connect(self) -> Any:
        import asyncmy  # noqa: PLC0415 - optional driver, only for MySQL registries

        if self._connection is None:
            try:
                self._connection = await asyncio.wait_for(
                    asyncmy.connect(
                        host=self.url.host,
                        port=self.url.port,
                        user=self.url.user,
                        password=self._password,
                        database=self.url.database,
                        charset="utf8mb4",
                        # Bytes per cell: one undecodable cell refuses its record, not the read.
                        use_unicode=False,
                        autocommit=True,
                        connect_timeout=max(1, int(self._timeout)),
                    ),
                    timeout=self._timeout,
                )
            except (TimeoutError, OSError, asyncmy.errors.Error) as exc:
                raise RegistryError(f"registry {self.url}: cannot connect: {_reason(exc)}") from exc
        return self._connection

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Session]:
        connection = await self._connect()
        session = _MySqlSession(self, connection)
        await session.run("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await session.run("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT")
        try:
            yield session
        finally:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await session.run("COMMIT")

    def drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.drop()


class _MySqlSession:
    def __init__(self, database: _MySql, connection: Any) -> None:
        self._database = database
        self._connection = connection

    async def run(self, sql: str) -> None:
        await self.fetch(sql)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[RawRow]:
        import asyncmy  # noqa: PLC0415 - optional driver

        try:
            async with self._connection.cursor(asyncmy.cursors.DictCursor) as cursor:
                await asyncio.wait_for(
                    cursor.execute(_placeholders(sql, "format"), tuple(params) or None),
                    timeout=self._database._timeout,  # noqa: SLF001 - the session belongs to it
                )
                rows = await cursor.fetchall()
        except (TimeoutError, OSError, asyncmy.errors.Error, TypeError) as exc:
            self._database.drop()
            raise RegistryError(f"registry {self._database.url}: {_reason(exc)}") from exc
        return [{str(k): _cell(v) for k, v in row.items()} for row in rows or ()]

    async def columns(self, sql: str) -> list[str]:
        import asyncmy  # noqa: PLC0415 - optional driver

        try:
            async with self._connection.cursor() as cursor:
                await asyncio.wait_for(
                    cursor.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0"),  # noqa: S608 - the operator's query
                    timeout=self._database._timeout,  # noqa: SLF001 - the session belongs to it
                )
                await cursor.fetchall()
                return [str(_cell(d[0])) for d in cursor.description or ()]
        except (TimeoutError, OSError, asyncmy.errors.Error) as exc:
            self._database.drop()
            raise RegistryError(f"registry {self._database.url}: {_reason(exc)}") from exc


class _Postgres:
    def __init__(self, url: DbUrl, password: str, timeout: float) -> None:
        self.url = url
        self._password = password
        self._timeout = timeout
        self._connection: Any = None

    async def _connect(self) -> Any:
        import asyncpg  # noqa: PLC0415 - optional driver, only for PostgreSQL registries

        if self._connection is None or self._connection.is_closed():
            try:
                self._connection = await asyncpg.connect(
                    host=self.url.host,
                    port=self.url.port,
                    user=self.url.user,
                    password=self._password or None,
                    database=self.url.database,
                    timeout=self._timeout,
                    command_timeout=self._timeout,
                )
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                raise RegistryError(f"registry {self.url}: cannot connect: {_reason(exc)}") from exc
        return self._connection

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Session]:
        import asyncpg  # noqa: PLC0415 - optional driver

        connection = await self._connect()
        transaction = connection.transaction(isolation="repeatable_read", readonly=True)
        try:
            await transaction.start()
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            await self.close()
            raise RegistryError(f"registry {self.url}: {_reason(exc)}") from exc
        try:
            yield _PostgresSession(self, connection)
        finally:
            with contextlib.suppress(Exception):
                await transaction.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.close(), timeout=self._timeout)
            self._connection = None


class _PostgresSession:
    def __init__(self, database: _Postgres, connection: Any) -> None:
        self._database = database
        self._connection = connection

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[RawRow]:
        import asyncpg  # noqa: PLC0415 - optional driver

        try:
            rows = await self._connection.fetch(_placeholders(sql, "numeric"), *params)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self._database.close()
            raise RegistryError(f"registry {self._database.url}: {_reason(exc)}") from exc
        return [dict(row) for row in rows]

    async def columns(self, sql: str) -> list[str]:
        import asyncpg  # noqa: PLC0415 - optional driver

        try:
            statement = await self._connection.prepare(sql)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise RegistryError(f"registry {self._database.url}: {_reason(exc)}") from exc
        return [a.name for a in statement.get_attributes()]


class _Sqlite:
    def __init__(self, url: DbUrl, timeout: float) -> None:
        self.url = url
        self._timeout = timeout

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Session]:
        path = Path(self.url.database)
        if not path.is_file():
            raise RegistryError(f"registry {self.url}: the file does not exist")

        def connect() -> sqlite3.Connection:
            uri = f"file:{quote(str(path.resolve()))}?mode=ro"
            db = sqlite3.connect(
                uri, uri=True, timeout=5, isolation_level=None, check_same_thread=False
            )
            db.text_factory = bytes
            db.execute("PRAGMA query_only = ON")
            db.execute("BEGIN")
            return db

        try:
            db = await asyncio.to_thread(connect)
        except sqlite3.Error as exc:
            raise RegistryError(f"registry {self.url}: {exc}") from exc
        try:
            yield _SqliteSession(self, db)
        finally:
            await asyncio.to_thread(db.close)

    async def close(self) -> None:
        return None


class _SqliteSession:
    def __init__(self, database: _Sqlite, db: sqlite3.Connection) -> None:
        self._database = database
        self._db = db

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[RawRow]:
        def run() -> list[RawRow]:
            cursor = self._db.execute(sql, tuple(params))
            names = [_cell(d[0]) for d in cursor.description or ()]
            return [dict(zip(names, map(_cell, row), strict=True)) for row in cursor.fetchall()]

        try:
            return await asyncio.wait_for(asyncio.to_thread(run), timeout=self._database._timeout)  # noqa: SLF001
        except (TimeoutError, sqlite3.Error) as exc:
            raise RegistryError(f"registry {self._database.url}: {_reason(exc)}") from exc

    async def columns(self, sql: str) -> list[str]:
        def run() -> list[str]:
            cursor = self._db.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")  # noqa: S608 - the operator's query
            return [str(_cell(d[0])) for d in cursor.description or ()]

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise RegistryError(f"registry {self._database.url}: {exc}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the database did not answer in time"
    return str(exc) or type(exc).__name__
