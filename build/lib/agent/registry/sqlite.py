"""Reading the reference registry (SQLite): read-only, short read transactions.

The database is opened with a `mode=ro` URI and `query_only`, once per poll,
and every read is one short transaction: in WAL mode the eSSL writes freely
meanwhile, and even in rollback-journal mode its writers wait at most for one
small batch. Nothing here ever writes to the office's data.

Text comes back as bytes and is decoded per cell, so one cell that is not
UTF-8 refuses its own record (see `contract.clean_row`), not the whole read.
Optional contract columns and tables that a registry lacks (one made from an
older schema.sql) are simply not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import defaultdict
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agent.errors import RegistryError
from agent.registry.contract import (
    COLUMNS,
    EVENT_COLUMNS,
    OPTIONAL_COLUMNS,
    RECORD_TABLES,
    SUBJEKT_COLUMNS,
    RawRow,
    Undecodable,
)
from agent.registry.source import Change, ChangeBatch, Snapshot

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["RegistryReader"]

_LOG_COLUMNS = ("seq", "tabulka", "zaznam_id", "operace")


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return Undecodable(value)
    return value


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> RawRow:
    return {d[0]: _text(v) for d, v in zip(cursor.description, values, strict=True)}


def _key(value: Any) -> str:
    """An id as text, even if its bytes are not UTF-8 (they then name it visibly)."""
    if isinstance(value, Undecodable):
        return value.raw.decode(errors="backslashreplace")
    return str(value)


class RegistryReader:
    """Reads one SQLite registry.

    Args:
        path: The registry database file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)

    @contextlib.contextmanager
    def _read(self) -> Iterator[_Session]:
        if not self.path.is_file():
            raise RegistryError(f"registry {self.path} does not exist")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegistryError(f"registry {self.path} cannot be opened read-only: {exc}") from exc
        try:
            connection.text_factory = bytes
            connection.row_factory = _row
            connection.execute("PRAGMA query_only = ON")
            connection.execute("BEGIN")
            yield _Session(connection)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise RegistryError(f"registry {self.path}: {exc}") from exc
        finally:
            connection.close()

    def read_contract_problems(self) -> list[str]:
        """Return what the database lacks of the registry contract (blocking)."""
        problems: list[str] = []
        with self._read() as db:
            for table, columns in {**COLUMNS, "zmeny": _LOG_COLUMNS}.items():
                found = db.columns(table)
                if not found:
                    problems.append(f"table {table!r} (or a view of that name) is missing")
                    continue
                missing = [c for c in columns if c not in found]
                if missing:
                    problems.append(f"table {table!r} lacks columns {', '.join(missing)}")
        return problems

    def read_changes(self, cursor: int, limit: int) -> ChangeBatch:
        """Return up to `limit` change-log entries after `cursor`, merged per record (blocking)."""
        with self._read() as db:
            rows = db.all(
                "SELECT seq, tabulka, zaznam_id FROM zmeny WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, limit),
            )
            last: dict[tuple[str, str], int] = {}
            for row in rows:
                if row["tabulka"] in RECORD_TABLES:
                    last[(str(row["tabulka"]), _key(row["zaznam_id"]))] = int(row["seq"])
            changes = [
                Change(seq, table, record_id, db.record(table, record_id))
                for (table, record_id), seq in sorted(last.items(), key=lambda kv: kv[1])
            ]
        return ChangeBatch(changes, int(rows[-1]["seq"]) if rows else cursor)

    def read_all(self) -> Snapshot:
        """Return every record and the change log's highest seq, consistently (blocking)."""
        with self._read() as db:
            top = db.all("SELECT coalesce(max(seq), 0) AS top FROM zmeny", ())
            snapshot = Snapshot(max_seq=int(top[0]["top"]))
            subjekty = db.subjekty(None)
            udalosti = db.udalosti(None, None)
            for table in RECORD_TABLES:
                rows = db.all(f"SELECT {db.select(table)} FROM {table} ORDER BY id", ())  # noqa: S608 - fixed names
                for row in rows:
                    db.attach(table, row, subjekty, udalosti)
                snapshot.records[table] = rows
        return snapshot

    async def contract_problems(self) -> list[str]:
        """`read_contract_problems` in a worker thread."""
        return await asyncio.to_thread(self.read_contract_problems)

    async def changes_after(self, cursor: int, limit: int = 500) -> ChangeBatch:
        """`read_changes` in a worker thread."""
        return await asyncio.to_thread(self.read_changes, cursor, limit)

    async def everything(self) -> Snapshot:
        """`read_all` in a worker thread."""
        return await asyncio.to_thread(self.read_all)


class _Session:
    """One read transaction, knowing which optional columns and tables exist."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._columns: dict[str, set[str]] = {}

    def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            rows = self._db.execute(f"PRAGMA table_info({table})").fetchall()
            self._columns[table] = {_key(r["name"]) for r in rows}
        return self._columns[table]

    def all(self, sql: str, params: tuple[Any, ...]) -> list[RawRow]:
        return list(self._db.execute(sql, params).fetchall())

    def select(self, table: str) -> str:
        present = self.columns(table)
        return ", ".join([*COLUMNS[table], *(c for c in OPTIONAL_COLUMNS[table] if c in present)])

    def subjekty(self, dokument_id: str | None) -> dict[str, list[RawRow]] | None:
        present = self.columns("subjekt")
        if not present:
            return None
        columns = ", ".join(c for c in SUBJEKT_COLUMNS if c in present)
        where, params = ("WHERE dokument_id = ?", (dokument_id,)) if dokument_id else ("", ())
        grouped: dict[str, list[RawRow]] = defaultdict(list)
        for row in self.all(f"SELECT {columns} FROM subjekt {where} ORDER BY id", params):  # noqa: S608 - fixed names
            grouped[_key(row["dokument_id"])].append(row)
        return grouped

    def udalosti(
        self, table: str | None, record_id: str | None
    ) -> dict[tuple[str, str], list[RawRow]] | None:
        present = self.columns("udalost")
        if not present:
            return None
        columns = ", ".join(c for c in EVENT_COLUMNS if c in present)
        where, params = (
            ("WHERE tabulka = ? AND zaznam_id = ?", (table, record_id)) if table else ("", ())
        )
        grouped: dict[tuple[str, str], list[RawRow]] = defaultdict(list)
        for row in self.all(
            f"SELECT {columns} FROM udalost {where} ORDER BY kdy",  # noqa: S608 - fixed names
            params,
        ):
            grouped[(_key(row["tabulka"]), _key(row["zaznam_id"]))].append(row)
        return grouped

    def attach(
        self,
        table: str,
        row: RawRow,
        subjekty: dict[str, list[RawRow]] | None,
        udalosti: dict[tuple[str, str], list[RawRow]] | None,
    ) -> None:
        record_id = _key(row["id"])
        if table == "dokument" and subjekty is not None:
            row["subjekty"] = subjekty.get(record_id, [])
        if udalosti is not None:
            row["udalosti"] = udalosti.get((table, record_id), [])

    def record(self, table: str, record_id: str) -> RawRow | None:
        rows = self.all(f"SELECT {self.select(table)} FROM {table} WHERE id = ?", (record_id,))  # noqa: S608 - fixed names
        if not rows:
            return None
        row = rows[0]
        subjekty = self.subjekty(record_id) if table == "dokument" else None
        self.attach(table, row, subjekty, self.udalosti(table, record_id))
        return row
