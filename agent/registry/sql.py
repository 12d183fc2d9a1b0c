"""Any SQL registry (MariaDB/MySQL, PostgreSQL, SQLite) through views or queries in AGENT.toml.

Each of `[registry.queries]` `spis`, `dokument`, `komponenta` (and optionally
`subjekt`, `udalost`) is a table or view name or a `SELECT`, returning the
registry contract's columns (required ones, and whichever optional ones the
product has). Nothing is written: no triggers, no change-log table.

A poll reads what changed: rows whose `zmeneno` column (the row's last
modification, if the view has one) is not older than the newest `zmeneno`
of the previous poll minus an overlap; subjects and events with `zmeneno` /
`kdy` that recent bring their record along. A view without `zmeneno` is read
whole at every poll (fine for a small registry; fingerprints keep it cheap on
the wire). Deletions are found by the periodic reconciliation.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from agent.errors import RegistryError
from agent.registry.contract import (
    COLUMNS,
    EVENT_COLUMNS,
    OPTIONAL_COLUMNS,
    RECORD_TABLES,
    SUBJEKT_COLUMNS,
)
from agent.registry.source import Change, ChangeBatch, Snapshot

if TYPE_CHECKING:
    from agent.config import SqlQueries
    from agent.registry.contract import RawRow
    from agent.registry.db import Database, Session

__all__ = ["SqlSource"]

CHANGED: Final = "zmeneno"
"""The optional column with a row's last modification time."""

_OVERLAP = timedelta(seconds=30)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _source_sql(query: str) -> str:
    """A query as a derived table's body: a SELECT as it is, a name as `SELECT * FROM name`."""
    text = query.strip().rstrip(";")
    if text.lower().startswith(("select", "with")):
        return text
    if not _NAME.match(text):
        raise RegistryError(f"[registry.queries] {query!r} is neither a SELECT nor a table name")
    return f"SELECT * FROM {text}"  # noqa: S608 - a checked name from the operator's config


class SqlSource:
    """Reads a registry through the contract's views or queries.

    Args:
        database: The connection.
        queries: The views or queries per table.
        folder_prefix: What `soubor` paths start with on the wire.
    """

    numbers_versions = False

    def __init__(self, database: Database, queries: SqlQueries, *, folder_prefix: str) -> None:
        self._db = database
        self._folder_prefix = folder_prefix
        self._queries: dict[str, str] = {
            name: _source_sql(q)
            for name, q in (
                ("spis", queries.spis),
                ("dokument", queries.dokument),
                ("komponenta", queries.komponenta),
                ("subjekt", queries.subjekt),
                ("udalost", queries.udalost),
            )
            if q is not None
        }
        self.name = str(database.url)

    async def _columns(self, s: Session) -> dict[str, set[str]]:
        return {name: set(await s.columns(sql)) for name, sql in self._queries.items()}

    async def contract_problems(self) -> list[str]:
        """Return what the queries lack of the contract's columns (empty when fine)."""
        problems = []
        async with self._db.snapshot() as s:
            for name, found in (await self._columns(s)).items():
                needed = COLUMNS.get(name) or (
                    SUBJEKT_COLUMNS[:5] if name == "subjekt" else (*EVENT_COLUMNS[:3], "typ")
                )
                if missing := [c for c in needed if c not in found]:
                    problems.append(f"[registry.queries] {name} lacks columns {', '.join(missing)}")
        return problems

    async def changes_after(self, cursor: str | None, limit: int = 500) -> ChangeBatch:
        """Return the records changed since `cursor` (JSON: newest `zmeneno` per query)."""
        del limit  # one snapshot holds every change
        marks = _load(cursor)
        async with self._db.snapshot() as s:
            columns = await self._columns(s)
            new_marks = await self._marks(s, columns)
            since = {k: _minus(v, _OVERLAP) for k, v in marks.items() if v is not None}
            touched: dict[str, set[str]] = defaultdict(set)
            for name in ("subjekt", "udalost"):
                column = "kdy" if name == "udalost" else CHANGED
                if name in columns and column in columns[name] and name in since:
                    for row in await self._rows(
                        s, name, columns[name], changed_column=column, since=since[name]
                    ):
                        table = "dokument" if name == "subjekt" else str(row["tabulka"])
                        key = "dokument_id" if name == "subjekt" else "zaznam_id"
                        touched[table].add(str(row[key]))
            changes: list[Change] = []
            for table in RECORD_TABLES:
                incremental = CHANGED in columns[table] and table in since
                rows = await self._rows(
                    s,
                    table,
                    columns[table],
                    changed_column=CHANGED if incremental else None,
                    since=since.get(table),
                )
                ids = touched[table] - {str(r["id"]) for r in rows}
                rows += [
                    r for r in await self._rows(s, table, columns[table]) if str(r["id"]) in ids
                ]
                await self._attach(s, table, rows, columns)
                changes += [Change(None, table, str(r["id"]), r) for r in rows]
                changes += [
                    Change(None, table, i, None) for i in ids - {str(r["id"]) for r in rows}
                ]
        return ChangeBatch(changes, _dump(new_marks))

    async def everything(self) -> Snapshot:
        """Return every record, in one snapshot."""
        async with self._db.snapshot() as s:
            columns = await self._columns(s)
            marks = await self._marks(s, columns)
            records: dict[str, list[RawRow]] = {}
            for table in RECORD_TABLES:
                rows = await self._rows(s, table, columns[table])
                await self._attach(s, table, rows, columns)
                records[table] = rows
        return Snapshot(cursor=_dump(marks), records=records)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def _marks(self, s: Session, columns: dict[str, set[str]]) -> dict[str, Any]:
        marks: dict[str, Any] = {}
        for name, found in columns.items():
            column = "kdy" if name == "udalost" else CHANGED
            if column in found:
                rows = await s.fetch(f"SELECT MAX({column}) AS m FROM ({self._queries[name]}) AS q")  # noqa: S608 - configured by the operator
                marks[name] = rows[0]["m"]
        return marks

    async def _rows(
        self,
        s: Session,
        name: str,
        found: set[str],
        *,
        changed_column: str | None = None,
        since: Any = None,
        where_in: tuple[str, list[str]] | None = None,
    ) -> list[RawRow]:
        wanted = {
            "subjekt": SUBJEKT_COLUMNS,
            "udalost": EVENT_COLUMNS,
        }.get(name) or (COLUMNS[name] + OPTIONAL_COLUMNS[name])
        select = [c for c in wanted if c in found]
        if changed_column and changed_column not in select:
            select.append(changed_column)
        sql = f"SELECT {', '.join(select)} FROM ({self._queries[name]}) AS q"  # noqa: S608 - configured by the operator
        params: tuple[Any, ...] = ()
        if changed_column is not None and since is not None:
            sql += f" WHERE {changed_column} >= ?"
            params = (since,)
        elif where_in is not None:
            column, ids = where_in
            if not ids:
                return []
            # Compared as text: ids may be numbers in the product and strings here.
            text = "CHAR(100)" if self._db.url.dialect == "mysql" else "VARCHAR(100)"
            sql += f" WHERE CAST({column} AS {text}) IN ({', '.join('?' * len(ids))})"
            params = tuple(ids)
        rows = await s.fetch(sql, params)
        if name in RECORD_TABLES:
            for row in rows:
                # A touch without a change must not look like a new version.
                row.pop(CHANGED, None)
                if name == "komponenta" and isinstance(row.get("soubor"), str):
                    row["soubor"] = self._folder_prefix + row["soubor"].lstrip("/")
        rows.sort(key=lambda r: str(r.get("id")))
        return rows

    async def _attach(
        self, s: Session, table: str, rows: list[RawRow], columns: dict[str, set[str]]
    ) -> None:
        """Give dokument rows their `subjekty` and every row its `udalosti`."""
        if not rows:
            return
        if table == "dokument" and "subjekt" in columns:
            by_dokument: dict[str, list[RawRow]] = defaultdict(list)
            ids = [str(r["id"]) for r in rows]
            for row in await self._rows(
                s, "subjekt", columns["subjekt"], where_in=("dokument_id", ids)
            ):
                row.pop(CHANGED, None)
                by_dokument[str(row["dokument_id"])].append(row)
            for row in rows:
                row["subjekty"] = by_dokument.get(str(row["id"]), [])
        if "udalost" in columns:
            events: dict[str, list[RawRow]] = defaultdict(list)
            ids = [str(r["id"]) for r in rows]
            for event in await self._rows(
                s, "udalost", columns["udalost"], where_in=("zaznam_id", ids)
            ):
                if str(event["tabulka"]) == table:
                    events[str(event["zaznam_id"])].append(event)
            for row in rows:
                found = events.get(str(row["id"]), [])
                row["udalosti"] = sorted(found, key=lambda e: (str(e["kdy"]), str(e["typ"])))


def _dump(marks: dict[str, Any]) -> str:
    """A cursor: each query's newest change time, with its type (a driver wants it back typed)."""
    typed = {}
    for name, value in marks.items():
        if isinstance(value, datetime):
            typed[name] = ["datetime", value.isoformat()]
        elif isinstance(value, date):
            typed[name] = ["date", value.isoformat()]
        elif value is not None:
            typed[name] = ["text", str(value)]
    return json.dumps(typed, sort_keys=True)


def _load(cursor: str | None) -> dict[str, Any]:
    marks: dict[str, Any] = {}
    for name, (kind, text) in (json.loads(cursor) if cursor else {}).items():
        if kind == "datetime":
            marks[name] = datetime.fromisoformat(text)
        elif kind == "date":
            marks[name] = date.fromisoformat(text)
        else:
            marks[name] = text
    return marks


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _minus(value: Any, delta: timedelta) -> Any:
    if isinstance(value, datetime | date):
        return value - delta
    if isinstance(value, str) and isinstance(parsed := _parse(value), datetime):
        # Text times (SQLite) compare as text: keep the stored form's separator.
        return (parsed - delta).isoformat(sep="T" if "T" in value else " ")
    return value
