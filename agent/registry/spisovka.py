"""Spisovka 3 on MariaDB/MySQL as a registry source: read-only, revision-aware.

Spisovka records its schema revision in `settings` (`name = 'db_revision'`)
and upgrades its schema by the scripts in `app/aktualizace/`. The revisions
this adapter reads (from `SUPPORTED_REVISIONS`) differ where it matters:

- before 1450 a dokument belongs to a spis through `dokument_to_spis`
  (1450.sql adds `dokument.spis_id` and drops that table), and before 1440 the
  link carries the dokument's `poradi` (1440.sql drops it); later the order
  in a spis is the order of the dokumenty's ids, as Spisovka lists them;
- before 1640 a file's path is `file.real_path` (1640.sql renames it to
  `storage_path`); before 1641 `dokument_to_file.active` marks removed links.

An unknown revision is refused with a clear problem, never guessed at.

Change capture writes nothing: every poll is one consistent snapshot that
finds what changed since the last one from Spisovka's own records (rows'
`date_created` / `date_modified`, files and subjects they link, dispatches,
and the append-only `log_spis` / `log_dokument`), with a safety overlap; what
this misses, deletions above all, the periodic reconciliation finds by
fingerprint.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from agent.errors import RegistryError
from agent.registry.source import Change, ChangeBatch, Snapshot
from agent.registry.spisovka_map import (
    LOGGED_TYPES,
    PAPER_DELIVERY,
    dokument_row,
    event_row,
    komponenta_rows,
    spis_row,
    subjekt_rows,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agent.registry.contract import RawRow
    from agent.registry.db import Database, Session

__all__ = ["SUPPORTED_REVISIONS", "SpisovkaSource"]

SUPPORTED_REVISIONS: Final = range(1410, 1661)
"""Revisions 1410 (3.x with owners and persons on `user`) to 1660 (the newest known)."""

# Transactions that were still open at the last snapshot may commit rows
# stamped earlier, and log ids may commit out of order; re-reading recent
# records (stamped within the overlap) costs only their fingerprints.
_OVERLAP = timedelta(seconds=30)
_LOG_OVERLAP = 100
_CHUNK = 500
# A row's newest stamp (either may be NULL).
_STAMP = "GREATEST(COALESCE(date_created, date_modified), COALESCE(date_modified, date_created))"
# Tables and the columns in which Spisovka stamps when it wrote a row.
_STAMPED = {
    "spis": ("date_created", "date_modified"),
    "dokument": ("date_created", "date_modified"),
    "file": ("date_created", "date_modified"),
    "subjekt": ("date_created", "date_modified"),
    "dokument_odeslani": ("date_created",),
}


@dataclass(frozen=True)
class _Layout:
    revision: int

    @property
    def spis_in_dokument(self) -> bool:
        return self.revision >= 1450

    @property
    def poradi_in_link(self) -> bool:
        return self.revision < 1440

    @property
    def file_path(self) -> str:
        return "storage_path" if self.revision >= 1640 else "real_path"

    @property
    def link_active(self) -> bool:
        return self.revision < 1641


class SpisovkaSource:
    """Reads Spisovka's database through a read-only user.

    Args:
        database: The MariaDB/MySQL connection.
        table_prefix: The install's table prefix (`""` for none).
        folder_prefix: What the files' paths start with on the wire (the
            `files_folder`'s prefix).
        files_root: The `files_folder`'s path on disk: an absolute stored path
            under it is taken relative to it.
    """

    numbers_versions = False

    def __init__(
        self,
        database: Database,
        *,
        table_prefix: str,
        folder_prefix: str,
        files_root: str | None = None,
    ) -> None:
        self._db = database
        self._prefix = table_prefix
        self._folder_prefix = folder_prefix
        self._files_root = files_root
        self.name = str(database.url)

    def _t(self, table: str) -> str:
        return f"`{self._prefix}{table}`"

    async def _layout(self, s: Session) -> _Layout:
        try:
            rows = await s.fetch(
                f"SELECT value FROM {self._t('settings')} WHERE name = 'db_revision'"  # noqa: S608 - fixed names
            )
        except RegistryError as exc:
            raise RegistryError(
                f"{exc}; is this Spisovka's database, and is table_prefix {self._prefix!r} right?"
            ) from None
        if not rows:
            raise RegistryError(f"registry {self.name}: settings has no db_revision")
        revision = int(str(rows[0]["value"]).strip())
        if revision not in SUPPORTED_REVISIONS:
            raise RegistryError(
                f"Spisovka {self.name} má revizi databáze {revision}; spisync umí číst revize "
                f"{SUPPORTED_REVISIONS.start} až {SUPPORTED_REVISIONS.stop - 1}. Nic se nečte, "
                "dokud spisync nepovýšíte (novější Spisovka) nebo Spisovku neaktualizujete "
                "(starší)."
            )
        return _Layout(revision)

    async def contract_problems(self) -> list[str]:
        """Return why this database cannot be read as Spisovka (empty when it can)."""
        async with self._db.snapshot() as s:
            layout = await self._layout(s)
            needed = {
                "spis": ("id", "nazev", "popis", "stav", "typ", "date_modified"),
                "dokument": ("id", "stav", "owner_user_id", "date_modified"),
                "file": ("id", layout.file_path),
                "log_spis": ("id", "spis_id", "typ", "date"),
                "log_dokument": ("id", "dokument_id", "typ", "date"),
                "dokument_to_subjekt": ("dokument_id", "subjekt_id", "typ"),
            }
            if layout.spis_in_dokument:
                needed["dokument"] += ("spis_id",)
            problems = []
            for table, columns in needed.items():
                rows = await s.fetch(
                    "SELECT column_name AS c FROM information_schema.columns "
                    "WHERE table_schema = DATABASE() AND table_name = ?",
                    (self._prefix + table,),
                )
                found = {str(r["c"]).lower() for r in rows}
                if not found:
                    problems.append(f"table {self._prefix}{table} is missing or not readable")
                elif missing := [c for c in columns if c not in found]:
                    problems.append(f"table {self._prefix}{table} lacks {', '.join(missing)}")
        return problems

    async def changes_after(self, cursor: str | None, limit: int = 500) -> ChangeBatch:
        """Return what changed since `cursor` (JSON: DB time and log ids), in one snapshot."""
        del limit  # one snapshot holds every change: splitting it would break consistency
        since: dict[str, Any] = json.loads(cursor) if cursor else {}
        async with self._db.snapshot() as s:
            layout = await self._layout(s)
            mark = await self._mark(s, stamps=False)
            # Spisovka stores naive local times; the cursor holds the newest of them.
            last = datetime.fromisoformat(str(since["t"])) if since.get("t") else None
            t = last - _OVERLAP if last else datetime.min  # noqa: DTZ901 - naive like Spisovka's
            spis_ids, spis_t = await self._changed_spisy(s, t, int(since.get("ls", 0)))
            dok_ids, dok_t = await self._changed_dokumenty(
                s, layout, t, int(since.get("ld", 0)), spis_ids
            )
            records = await self._records(s, layout, spis_ids, dok_ids)
        newest = _newest((last, spis_t, dok_t))
        mark["t"] = None if newest is None else newest.isoformat()
        changes = [
            Change(None, "spis", i, records["spis"].get(i)) for i in sorted(spis_ids, key=int)
        ]
        changes += [
            Change(None, "dokument", i, records["dokument"].get(i))
            for i in sorted(dok_ids, key=int)
        ]
        changes += [
            Change(None, "komponenta", row["id"], row) for row in records["komponenta"].values()
        ]
        return ChangeBatch(changes, json.dumps(mark))

    async def everything(self) -> Snapshot:
        """Return every spis, dokument and komponenta, in one snapshot."""
        async with self._db.snapshot() as s:
            layout = await self._layout(s)
            mark = await self._mark(s, stamps=True)
            records = await self._records(s, layout, None, None)
        return Snapshot(
            cursor=json.dumps(mark),
            records={table: list(rows.values()) for table, rows in records.items()},
        )

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def _mark(self, s: Session, *, stamps: bool) -> dict[str, Any]:
        """Where the next poll starts: the logs' last ids and (with `stamps`) the newest stamp.

        Spisovka's own stamps, not the server's NOW(): the application writes
        them in its time zone, which need not be the database server's. A poll
        takes the newest stamp from the rows it found, so it needs no scan here.
        """
        t_ = self._t
        rows = await s.fetch(
            f"SELECT (SELECT COALESCE(MAX(id), 0) FROM {t_('log_spis')}) AS ls, "  # noqa: S608 - fixed names
            f"(SELECT COALESCE(MAX(id), 0) FROM {t_('log_dokument')}) AS ld"
        )
        mark: dict[str, Any] = {"t": None, "ls": int(rows[0]["ls"]), "ld": int(rows[0]["ld"])}
        if stamps:
            union = " UNION ALL ".join(
                f"SELECT MAX({column}) AS t FROM {t_(table)}"  # noqa: S608 - fixed names
                for table, columns in _STAMPED.items()
                for column in columns
            )
            newest = _newest(r["t"] for r in await s.fetch(union))
            mark["t"] = None if newest is None else newest.isoformat()
        return mark

    async def _ids(
        self, s: Session, sql: str, params: tuple[Any, ...]
    ) -> tuple[set[str], datetime | None]:
        rows = await s.fetch(sql, params)
        return {str(r["id"]) for r in rows if r["id"] is not None}, _newest(r["t"] for r in rows)

    async def _changed_spisy(
        self, s: Session, t: datetime, log_id: int
    ) -> tuple[set[str], datetime | None]:
        t_ = self._t
        return await self._ids(
            s,
            f"SELECT id, {_STAMP} AS t FROM {t_('spis')} WHERE typ = 'S' AND "  # noqa: S608 - fixed names
            f"(date_created >= ? OR date_modified >= ?) "
            f"UNION SELECT spis_id AS id, date AS t FROM {t_('log_spis')} "
            "WHERE id > ? OR (id > ? AND date >= ?)",
            (t, t, log_id, log_id - _LOG_OVERLAP, t),
        )

    async def _changed_dokumenty(
        self, s: Session, layout: _Layout, t: datetime, log_id: int, spis_ids: set[str]
    ) -> tuple[set[str], datetime | None]:
        t_ = self._t
        ids, newest = await self._ids(
            s,
            f"SELECT id, {_STAMP} AS t FROM {t_('dokument')} "  # noqa: S608 - fixed names
            "WHERE date_created >= ? OR date_modified >= ? "
            f"UNION SELECT dokument_id AS id, date AS t FROM {t_('log_dokument')} "
            "WHERE id > ? OR (id > ? AND date >= ?) "
            f"UNION SELECT df.dokument_id AS id, {_STAMP.replace('date_', 'f.date_')} AS t "
            f"FROM {t_('dokument_to_file')} df JOIN {t_('file')} f ON f.id = df.file_id "
            "WHERE f.date_created >= ? OR f.date_modified >= ? "
            f"UNION SELECT dokument_id AS id, date_created AS t FROM {t_('dokument_odeslani')} "
            "WHERE date_created >= ? "
            f"UNION SELECT ds.dokument_id AS id, {_STAMP.replace('date_', 'sb.date_')} AS t "
            f"FROM {t_('dokument_to_subjekt')} ds JOIN {t_('subjekt')} sb ON sb.id = ds.subjekt_id "
            "WHERE sb.date_created >= ? OR sb.date_modified >= ?",
            (t, t, log_id, log_id - _LOG_OVERLAP, t, t, t, t, t, t),
        )
        # A spis that changed may have gained or lost dokumenty: their order in it moves.
        for chunk in _chunks(sorted(spis_ids)):
            where = f"d.spis_id IN ({_marks(chunk)})"
            if not layout.spis_in_dokument:
                where = (
                    f"d.id IN (SELECT dokument_id FROM {t_('dokument_to_spis')} "  # noqa: S608 - fixed names
                    f"WHERE spis_id IN ({_marks(chunk)}))"
                )
            sql = f"SELECT d.id, NULL AS t FROM {t_('dokument')} d WHERE {where}"  # noqa: S608 - fixed names
            ids |= (await self._ids(s, sql, tuple(chunk)))[0]
        return ids, newest

    async def _records(
        self, s: Session, layout: _Layout, spis_ids: set[str] | None, dok_ids: set[str] | None
    ) -> dict[str, dict[str, RawRow]]:
        """Read spisy and dokumenty (all, or those ids) with subjects, files and events."""
        spis_events = await self._events(s, "spis", spis_ids)
        spisy: dict[str, RawRow] = {}
        for raw in sorted(await self._select(s, self._spis_sql(), "s.id", spis_ids), key=_by_id):
            events = spis_events.get(str(raw["id"]), [])
            closed = next((e["kdy"] for e in reversed(events) if e["typ"] == "SpisUzavreni"), None)
            row = spis_row(raw, closed)
            row["udalosti"] = events
            spisy[row["id"]] = row
        # Rows in id order everywhere: the same data must always fingerprint the same.
        subjects: dict[str, list[RawRow]] = defaultdict(list)
        for raw in sorted(
            await self._select(s, self._subjekt_sql(), "ds.dokument_id", dok_ids), key=_by_id
        ):
            subjects[str(raw["dokument_id"])].append(raw)
        files: dict[str, list[RawRow]] = defaultdict(list)
        file_rows = await self._select(s, self._file_sql(layout), "df.dokument_id", dok_ids)
        for raw in sorted(file_rows, key=lambda r: (int(r["dokument_id"]), int(r["id"]))):
            files[str(raw["dokument_id"])].append(raw)
        dok_events = await self._events(s, "dokument", dok_ids)
        dokumenty: dict[str, RawRow] = {}
        komponenty: dict[str, RawRow] = {}
        dok_rows = await self._select(s, self._dokument_sql(layout), "d.id", dok_ids)
        for raw in sorted(dok_rows, key=_by_id):
            dok_id = str(raw["id"])
            doruceny = int(raw.get("smer") or 0) == 0
            linked = [
                row
                for link in subjects.get(dok_id, [])
                for row in subjekt_rows(
                    link, doruceny=doruceny, cislo_odesilatele=raw.get("cislo_jednaci_odesilatele")
                )
            ]
            row = dokument_row(raw, linked)
            row["udalosti"] = dok_events.get(dok_id, [])
            dokumenty[dok_id] = row
            scans = doruceny and int(raw.get("zpusob_doruceni_id") or 0) == PAPER_DELIVERY
            for k in komponenta_rows(
                files.get(dok_id, []),
                scans=scans,
                folder_prefix=self._folder_prefix,
                files_root=self._files_root,
            ):
                # A file linked to several dokumenty belongs to the first one.
                komponenty.setdefault(k["id"], k)
        return {"spis": spisy, "dokument": dokumenty, "komponenta": komponenty}

    async def _select(
        self, s: Session, sql: str, column: str, ids: set[str] | None
    ) -> list[RawRow]:
        if ids is None:
            return await s.fetch(sql)
        rows: list[RawRow] = []
        joiner = " AND " if " WHERE " in sql else " WHERE "
        for chunk in _chunks(sorted(ids)):
            rows += await s.fetch(f"{sql}{joiner}{column} IN ({_marks(chunk)})", tuple(chunk))
        return rows

    async def _events(
        self, s: Session, table: str, ids: set[str] | None
    ) -> dict[str, list[RawRow]]:
        t_ = self._t
        sql = (
            f"SELECT l.id AS log_id, l.{table}_id AS zaznam_id, l.typ, l.poznamka, l.date, "  # noqa: S608 - fixed names
            "o.jmeno, o.prijmeni, o.titul_pred, o.titul_za "
            f"FROM {t_('log_' + table)} l LEFT JOIN {t_('user')} u ON u.id = l.user_id "
            f"LEFT JOIN {t_('osoba')} o ON o.id = u.osoba_id "
            f"WHERE l.typ IN ({', '.join(map(str, LOGGED_TYPES))})"
        )
        grouped: dict[str, list[RawRow]] = defaultdict(list)
        # Log order (time, then id) keeps a record's fingerprint stable between reads.
        rows = sorted(await self._select(s, sql, f"l.{table}_id", ids), key=_log_order)
        for raw in rows:
            grouped[str(raw["zaznam_id"])].append(event_row(raw, table))
        return grouped

    def _spis_sql(self) -> str:
        t_ = self._t
        return (
            "SELECT s.id, s.nazev, s.popis, s.stav, s.datum_otevreni, s.datum_uzavreni, "  # noqa: S608 - fixed names
            "s.date_created, s.skartacni_znak, s.skartacni_lhuta, sz.nazev AS sz_znak, "
            "sz.popis AS sz_popis, su.nazev AS su_nazev, oj.plny_nazev AS oj_nazev, "
            "o.jmeno, o.prijmeni, o.titul_pred, o.titul_za, o.pozice "
            f"FROM {t_('spis')} s "
            f"LEFT JOIN {t_('spisovy_znak')} sz ON sz.id = s.spisovy_znak_id "
            f"LEFT JOIN {t_('spousteci_udalost')} su ON su.id = s.spousteci_udalost_id "
            f"LEFT JOIN {t_('orgjednotka')} oj ON oj.id = s.orgjednotka_id "
            f"LEFT JOIN {t_('user')} u ON u.id = s.user_created "
            f"LEFT JOIN {t_('osoba')} o ON o.id = u.osoba_id "
            "WHERE s.typ = 'S'"
        )

    def _dokument_sql(self, layout: _Layout) -> str:
        t_ = self._t
        if layout.spis_in_dokument:
            spis, link = "d.spis_id", ""
            poradi = (
                f"(SELECT COUNT(*) FROM {t_('dokument')} d2 WHERE d2.spis_id = d.spis_id "  # noqa: S608 - fixed names
                "AND d2.stav > 0 AND d2.id <= d.id)"
            )
        else:
            spis = "ds.spis_id"
            link = f"LEFT JOIN {t_('dokument_to_spis')} ds ON ds.dokument_id = d.id "
            poradi = (
                "ds.poradi"
                if layout.poradi_in_link
                else f"(SELECT COUNT(*) FROM {t_('dokument_to_spis')} x JOIN {t_('dokument')} d2 "  # noqa: S608 - fixed names
                "ON d2.id = x.dokument_id WHERE x.spis_id = ds.spis_id AND d2.stav > 0 "
                "AND x.dokument_id <= d.id)"
            )
        return (
            f"SELECT d.id, {spis} AS spis_id, {poradi} AS poradi, d.cislo_jednaci, d.jid, "  # noqa: S608 - fixed names
            "d.nazev, d.stav, dt.smer, d.datum_vzniku, d.date_created, "
            "d.cislo_jednaci_odesilatele, d.datum_vyrizeni, d.poznamka_vyrizeni, "
            "zv.nazev AS zv_nazev, d.zpusob_doruceni_id, d.pocet_listu, d.pocet_priloh, "
            "d.ulozeni_dokumentu, oj.plny_nazev AS oj_nazev, o.jmeno, o.prijmeni, "
            "o.titul_pred, o.titul_za, o.pozice, "
            f"(SELECT MAX(od.datum_odeslani) FROM {t_('dokument_odeslani')} od "
            "WHERE od.dokument_id = d.id) AS datum_odeslani "
            f"FROM {t_('dokument')} d JOIN {t_('dokument_typ')} dt ON dt.id = d.dokument_typ_id "
            f"{link}"
            f"LEFT JOIN {t_('zpusob_vyrizeni')} zv ON zv.id = d.zpusob_vyrizeni_id "
            f"LEFT JOIN {t_('user')} u ON u.id = d.owner_user_id "
            f"LEFT JOIN {t_('osoba')} o ON o.id = u.osoba_id "
            f"LEFT JOIN {t_('orgjednotka')} oj ON oj.id = d.owner_orgunit_id "
            "WHERE d.stav > 0"
        )

    def _subjekt_sql(self) -> str:
        t_ = self._t
        return (
            "SELECT ds.dokument_id, ds.typ AS vazba, sb.id, sb.type, sb.ic, sb.nazev_subjektu, "  # noqa: S608 - fixed names
            "sb.jmeno, sb.prijmeni, sb.titul_pred, sb.titul_za, sb.adresa_mesto, "
            "sb.adresa_ulice, sb.adresa_cp, sb.adresa_co, sb.adresa_psc, sb.adresa_stat, "
            "sb.email, sb.id_isds, "
            f"(SELECT MAX(od.datum_odeslani) FROM {t_('dokument_odeslani')} od "
            "WHERE od.dokument_id = ds.dokument_id AND od.subjekt_id = sb.id) AS datum_odeslani "
            f"FROM {t_('dokument_to_subjekt')} ds JOIN {t_('subjekt')} sb ON sb.id = ds.subjekt_id"
        )

    def _file_sql(self, layout: _Layout) -> str:
        t_ = self._t
        active = " WHERE df.active = 1" if layout.link_active else ""
        return (
            "SELECT df.dokument_id, f.id, f.typ, f.nazev, f.mime_type, f.real_name, "  # noqa: S608 - fixed names
            f"f.{layout.file_path} AS cesta, f.date_created, f.size "
            f"FROM {t_('dokument_to_file')} df JOIN {t_('file')} f ON f.id = df.file_id{active}"
        )


def _newest(values: Iterable[Any]) -> datetime | None:
    times = [v for v in values if isinstance(v, datetime)]
    return max(times) if times else None


def _by_id(row: RawRow) -> int:
    return int(row["id"])


def _log_order(row: RawRow) -> tuple[datetime, int]:
    return row["date"], int(row["log_id"])


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    items = list(ids)
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _marks(chunk: list[str]) -> str:
    return ", ".join("?" * len(chunk))
