"""Reading the eSSL registry (SQLite): read-only, short read transactions.

The database is opened with a `mode=ro` URI and `query_only`, once per poll,
and every read is one short transaction: in WAL mode the eSSL writes freely
meanwhile, and even in rollback-journal mode its writers wait at most for one
small batch. Nothing here ever writes to the office's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agent.errors import RegistryError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["COLUMNS", "Change", "ChangeBatch", "RegistryReader", "Snapshot"]

COLUMNS: dict[str, tuple[str, ...]] = {
    "spis": (
        "id",
        "spisova_znacka",
        "nazev",
        "spisovy_znak",
        "skartacni_znak",
        "skartacni_lhuta",
        "datum_otevreni",
        "datum_uzavreni",
        "stav",
        "zpracovatel",
    ),
    "dokument": (
        "id",
        "spis_id",
        "cislo_jednaci",
        "nazev",
        "puvod",
        "datum",
        "odesilatel_autor",
        "poradi",
    ),
    "komponenta": ("id", "dokument_id", "poradi", "verze", "druh", "forma_uchovani", "soubor"),
    "zmeny": ("seq", "tabulka", "zaznam_id", "operace"),
}


@dataclass(frozen=True)
class Change:
    """The last change of one record within a batch, with the record as it is now.

    Attributes:
        seq: The change log's `seq` of the record's last change in the batch.
        table: `spis`, `dokument` or `komponenta`.
        record_id: The record's id.
        row: The record's columns, or None if it no longer exists.
    """

    seq: int
    table: str
    record_id: str
    row: dict[str, Any] | None


@dataclass(frozen=True)
class ChangeBatch:
    """Changes after a cursor, one per record, in change-log order.

    Attributes:
        changes: The changes.
        last_seq: The highest `seq` read (the new cursor).
    """

    changes: list[Change]
    last_seq: int


@dataclass
class Snapshot:
    """Every record of the registry, read in one transaction.

    Attributes:
        max_seq: The change log's highest `seq` at the time of reading.
        records: Rows by table.
    """

    max_seq: int
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class RegistryReader:
    """Reads one SQLite registry.

    Args:
        path: The registry database file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        if not self.path.is_file():
            raise RegistryError(f"registry {self.path} does not exist")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None)
        except sqlite3.Error as exc:
            raise RegistryError(f"registry {self.path} cannot be opened read-only: {exc}") from exc
        try:
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA query_only = ON")
            connection.execute("BEGIN")
            yield connection
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise RegistryError(f"registry {self.path}: {exc}") from exc
        finally:
            connection.close()

    def contract_problems(self) -> list[str]:
        """Return what the database lacks of the registry contract (blocking)."""
        problems: list[str] = []
        with self._read() as db:
            for table, columns in COLUMNS.items():
                found = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
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
            rows = db.execute(
                "SELECT seq, tabulka, zaznam_id FROM zmeny WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, limit),
            ).fetchall()
            last: dict[tuple[str, str], int] = {}
            for seq, table, record_id in rows:
                if table in ("spis", "dokument", "komponenta"):
                    last[(str(table), str(record_id))] = int(seq)
            changes = [
                Change(seq, table, record_id, _fetch(db, table, record_id))
                for (table, record_id), seq in sorted(last.items(), key=lambda kv: kv[1])
            ]
        return ChangeBatch(changes, int(rows[-1][0]) if rows else cursor)

    def read_all(self) -> Snapshot:
        """Return every record and the change log's highest seq, consistently (blocking)."""
        with self._read() as db:
            row = db.execute("SELECT coalesce(max(seq), 0) FROM zmeny").fetchone()
            snapshot = Snapshot(max_seq=int(row[0]))
            for table in ("spis", "dokument", "komponenta"):
                columns = ", ".join(COLUMNS[table])
                snapshot.records[table] = [
                    dict(r)
                    for r in db.execute(f"SELECT {columns} FROM {table} ORDER BY id")  # noqa: S608 - fixed names
                ]
        return snapshot

    async def changes_after(self, cursor: int, limit: int = 500) -> ChangeBatch:
        """`read_changes` in a worker thread."""
        return await asyncio.to_thread(self.read_changes, cursor, limit)

    async def everything(self) -> Snapshot:
        """`read_all` in a worker thread."""
        return await asyncio.to_thread(self.read_all)


def _fetch(db: sqlite3.Connection, table: str, record_id: str) -> dict[str, Any] | None:
    columns = ", ".join(COLUMNS[table])
    row = db.execute(
        f"SELECT {columns} FROM {table} WHERE id = ?",  # noqa: S608 - fixed names
        (record_id,),
    ).fetchone()
    return None if row is None else dict(row)
