"""A Spisovka 3 database on the machine's MariaDB, for tests and benchmarks.

Each `SpisovkaDb` is its own database with the tables and columns of
Spisovka's schema that the agent reads (revision 1660 by default, or the
layout before 1450 with `dokument_to_spis`), a read-only user with `SELECT`
only, and helpers that write as Spisovka would (rows plus its log entries).
It never touches another database and drops its own at the end.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

import asyncmy

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

__all__ = ["MARIADB_HOST", "MARIADB_PORT", "SpisovkaDb"]

MARIADB_HOST = "127.0.0.1"
MARIADB_PORT = 3306

_TABLES = """
CREATE TABLE settings (name VARCHAR(50) PRIMARY KEY, value VARCHAR(4000) NOT NULL);
CREATE TABLE osoba (id INT AUTO_INCREMENT PRIMARY KEY, prijmeni VARCHAR(255) NOT NULL,
  jmeno VARCHAR(150) NOT NULL DEFAULT '', titul_pred VARCHAR(50), titul_za VARCHAR(50),
  email VARCHAR(200), pozice VARCHAR(50));
CREATE TABLE orgjednotka (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  plny_nazev VARCHAR(200) NOT NULL);
CREATE TABLE user (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, username VARCHAR(150) NOT NULL,
  osoba_id INT, orgjednotka_id INT UNSIGNED);
CREATE TABLE spousteci_udalost (id INT AUTO_INCREMENT PRIMARY KEY, nazev TEXT NOT NULL);
CREATE TABLE spisovy_znak (id INT AUTO_INCREMENT PRIMARY KEY, nazev VARCHAR(80) NOT NULL,
  popis VARCHAR(200) NOT NULL, skartacni_znak ENUM('A','S','V'), skartacni_lhuta INT,
  spousteci_udalost_id INT);
CREATE TABLE zpusob_vyrizeni (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  nazev VARCHAR(80) NOT NULL);
CREATE TABLE dokument_typ (id INT AUTO_INCREMENT PRIMARY KEY, nazev VARCHAR(100) NOT NULL,
  smer TINYINT NOT NULL DEFAULT 0);
CREATE TABLE spis (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT, typ VARCHAR(5) NOT NULL
  DEFAULT 'S', nazev VARCHAR(80) NOT NULL, popis VARCHAR(200) NOT NULL DEFAULT '',
  stav TINYINT NOT NULL DEFAULT 1, spisovy_znak_id INT, spousteci_udalost_id INT,
  orgjednotka_id INT UNSIGNED, skartacni_znak ENUM('A','S','V') NOT NULL DEFAULT 'A',
  skartacni_lhuta INT NOT NULL DEFAULT 10, datum_otevreni DATETIME, datum_uzavreni DATETIME,
  date_created DATETIME NOT NULL, user_created INT UNSIGNED, date_modified DATETIME,
  user_modified INT UNSIGNED);
CREATE TABLE dokument (id INT AUTO_INCREMENT PRIMARY KEY, dokument_typ_id INT NOT NULL,
  {spis_column} jid VARCHAR(100) NOT NULL, nazev VARCHAR(100) NOT NULL,
  cislo_jednaci VARCHAR(50), cislo_jednaci_odesilatele VARCHAR(50),
  stav TINYINT NOT NULL DEFAULT 1, datum_vzniku DATETIME, date_created DATETIME,
  date_modified DATETIME, owner_user_id INT UNSIGNED, owner_orgunit_id INT UNSIGNED,
  zpusob_vyrizeni_id INT UNSIGNED, zpusob_doruceni_id INT UNSIGNED, datum_vyrizeni DATETIME,
  poznamka_vyrizeni TEXT, pocet_listu INT, pocet_priloh INT, ulozeni_dokumentu TEXT,
  KEY spis_id ({spis_key}));
CREATE TABLE subjekt (id INT AUTO_INCREMENT PRIMARY KEY, type VARCHAR(15) NOT NULL,
  ic VARCHAR(8), nazev_subjektu VARCHAR(255), jmeno VARCHAR(24), prijmeni VARCHAR(35),
  titul_pred VARCHAR(35), titul_za VARCHAR(10), adresa_mesto VARCHAR(48),
  adresa_ulice VARCHAR(48), adresa_cp VARCHAR(10), adresa_co VARCHAR(10),
  adresa_psc VARCHAR(10), adresa_stat VARCHAR(3), email VARCHAR(250), id_isds VARCHAR(50),
  date_created DATETIME, date_modified DATETIME);
CREATE TABLE dokument_to_subjekt (dokument_id INT NOT NULL, subjekt_id INT NOT NULL,
  typ ENUM('A','O','AO') NOT NULL DEFAULT 'AO', PRIMARY KEY (dokument_id, subjekt_id));
CREATE TABLE dokument_odeslani (id INT AUTO_INCREMENT PRIMARY KEY, dokument_id INT NOT NULL,
  subjekt_id INT NOT NULL, datum_odeslani DATETIME NOT NULL, date_created DATETIME NOT NULL);
CREATE TABLE file (id INT AUTO_INCREMENT PRIMARY KEY, typ TINYINT NOT NULL DEFAULT 1,
  nazev VARCHAR(255) NOT NULL, mime_type VARCHAR(60), real_name VARCHAR(255) NOT NULL,
  {path_column} VARCHAR(255) NOT NULL, date_created DATETIME, date_modified DATETIME,
  size INT);
CREATE TABLE dokument_to_file (dokument_id INT NOT NULL, file_id INT NOT NULL
  {active_column}, PRIMARY KEY (dokument_id, file_id));
CREATE TABLE log_spis (id INT AUTO_INCREMENT PRIMARY KEY, spis_id INT NOT NULL,
  user_id INT UNSIGNED NOT NULL, typ TINYINT NOT NULL, poznamka TEXT, date DATETIME NOT NULL);
CREATE TABLE log_dokument (id INT AUTO_INCREMENT PRIMARY KEY, dokument_id INT NOT NULL,
  user_id INT UNSIGNED NOT NULL, typ TINYINT NOT NULL, poznamka TEXT,
  date DATETIME NOT NULL);
INSERT INTO dokument_typ (id, nazev, smer) VALUES (1, 'příchozí', 0), (2, 'vlastní', 1);
INSERT INTO zpusob_vyrizeni (id, nazev) VALUES (1, 'vyřízení prvopisem'), (2, 'postoupení'),
  (3, 'vzetí na vědomí'), (4, 'úřední záznam'), (5, 'storno'), (6, 'jiný způsob');
INSERT INTO spousteci_udalost (id, nazev) VALUES
  (3, 'Skartační lhůta začíná plynout po uzavření dokumentu.');
INSERT INTO osoba (id, prijmeni, jmeno, titul_pred, pozice) VALUES
  (1, 'Kovářová', 'Jana', 'Ing.', 'referentka stavebního úřadu');
INSERT INTO orgjednotka (id, plny_nazev) VALUES (1, 'Stavební úřad');
INSERT INTO user (id, username, osoba_id, orgjednotka_id) VALUES (1, 'kovarova', 1, 1);
INSERT INTO spisovy_znak (id, nazev, popis, skartacni_znak, skartacni_lhuta,
  spousteci_udalost_id) VALUES (1, '2.4.3', 'Stavební povolení', 'A', 10, 3);
INSERT INTO spis (id, parent_id, typ, nazev, popis, stav, date_created, skartacni_znak,
  skartacni_lhuta) VALUES (1, NULL, 'SP', 'SPISY', '', 1, NOW(), 'V', 100);
"""


class SpisovkaDb:
    """A throw-away Spisovka database and its read-only user.

    Args:
        revision: The `db_revision` to record; below 1450 the old layout with
            `dokument_to_spis` (and `poradi` there below 1440) is created, below
            1640 `file.real_path`, below 1641 `dokument_to_file.active`.
    """

    def __init__(self, revision: int = 1660) -> None:
        self.revision = revision
        tag = secrets.token_hex(4)
        self.database = f"spisync_t_{tag}"
        self.user = f"spisync_ro_{tag}"
        self.password = secrets.token_hex(12)
        self._root: Any = None

    async def create(self, password_dir: Path) -> Path:
        """Create the database, its tables and the read-only user; return the password file."""
        self._root = await asyncmy.connect(
            host=MARIADB_HOST, port=MARIADB_PORT, user="root", password="", autocommit=True
        )
        await self.execute(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4")
        await self.execute(f"USE {self.database}")
        old_link = self.revision < 1450
        ddl = _TABLES.format(
            spis_column="" if old_link else "spis_id INT,",
            spis_key="id" if old_link else "spis_id",
            path_column="storage_path" if self.revision >= 1640 else "real_path",
            active_column="" if self.revision >= 1641 else ", active TINYINT NOT NULL DEFAULT 1",
        )
        if old_link:
            poradi = " poradi INT NOT NULL DEFAULT 1," if self.revision < 1440 else ""
            ddl += (
                "CREATE TABLE dokument_to_spis (id INT AUTO_INCREMENT PRIMARY KEY, "
                f"dokument_id INT NOT NULL, spis_id INT NOT NULL,{poradi} "
                "stav TINYINT NOT NULL DEFAULT 1);"
            )
        for statement in filter(str.strip, ddl.split(";")):
            await self.execute(statement)
        await self.execute(
            "INSERT INTO settings (name, value) VALUES ('db_revision', %s)", str(self.revision)
        )
        await self.execute(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'")
        await self.execute(f"GRANT SELECT ON {self.database}.* TO '{self.user}'@'%'")
        password_file = password_dir / "spisovka.password"
        password_file.write_text(self.password + "\n")
        return password_file

    def url(self, port: int = MARIADB_PORT) -> str:
        """The agent's `[registry] url` (through a proxy when `port` is another one)."""
        return f"mysql://{self.user}@{MARIADB_HOST}:{port}/{self.database}"

    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement as root; return the last insert id."""
        async with self._root.cursor() as cursor:
            await cursor.execute(sql, params or None)
            return int(cursor.lastrowid or 0)

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one statement for many rows as root (multi-row inserts)."""
        async with self._root.cursor() as cursor:
            await cursor.executemany(sql, rows)

    async def fetch(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one query as root."""
        async with self._root.cursor() as cursor:
            await cursor.execute(sql, params or None)
            return list(await cursor.fetchall())

    async def drop(self) -> None:
        """Drop the database and the user."""
        if self._root is None:
            return
        await self.execute(f"DROP DATABASE IF EXISTS {self.database}")
        await self.execute(f"DROP USER IF EXISTS '{self.user}'@'%'")
        self._root.close()
        self._root = None

    # -- writing as Spisovka does ------------------------------------------------

    async def add_spis(self, nazev: str, popis: str = "Stavební povolení") -> int:
        """Open a spis (and log it, like Spisovka)."""
        spis_id = await self.execute(
            "INSERT INTO spis (parent_id, typ, nazev, popis, stav, spisovy_znak_id, "
            "spousteci_udalost_id, orgjednotka_id, skartacni_znak, skartacni_lhuta, "
            "datum_otevreni, date_created, user_created) VALUES (1, 'S', %s, %s, 1, 1, 3, 1, "
            "'A', 10, NOW(), NOW(), 1)",
            nazev,
            popis,
        )
        await self.log("spis", spis_id, 41)
        return spis_id

    async def add_dokument(
        self,
        spis_id: int | None,
        cislo_jednaci: str,
        *,
        vlastni: bool = False,
        paper: bool = False,
    ) -> int:
        """Register a dokument into a spis (and log it)."""
        spis = [] if self.revision < 1450 else [spis_id]
        dokument_id = await self.execute(
            f"INSERT INTO dokument (dokument_typ_id, {'' if self.revision < 1450 else 'spis_id, '}"
            "jid, nazev, cislo_jednaci, stav, datum_vzniku, date_created, owner_user_id, "
            "owner_orgunit_id, zpusob_doruceni_id, pocet_listu, pocet_priloh) VALUES "
            f"(%s, {'' if self.revision < 1450 else '%s, '}%s, 'Žádost o stavební povolení', "
            "%s, 1, NOW(), NOW(), 1, 1, %s, 2, 1)",
            2 if vlastni else 1,
            *spis,
            f"OVUP-{secrets.token_hex(3)}",
            cislo_jednaci,
            5 if paper else 2,
        )
        if self.revision < 1450 and spis_id is not None:
            await self.execute(
                "INSERT INTO dokument_to_spis (dokument_id, spis_id) VALUES (%s, %s)",
                dokument_id,
                spis_id,
            )
        await self.log("dokument", dokument_id, 11)
        return dokument_id

    async def add_subjekt(self, dokument_id: int, typ: str, **fields: Any) -> int:
        """Link a subject to a dokument (`typ` O, A or AO)."""
        columns = {"type": "PO", "nazev_subjektu": "Stavby s.r.o.", **fields}
        names = ", ".join(columns)
        subjekt_id = await self.execute(
            f"INSERT INTO subjekt ({names}, date_created) VALUES "
            f"({', '.join(['%s'] * len(columns))}, NOW())",
            *columns.values(),
        )
        await self.execute(
            "INSERT INTO dokument_to_subjekt (dokument_id, subjekt_id, typ) VALUES (%s, %s, %s)",
            dokument_id,
            subjekt_id,
            typ,
        )
        await self.log("dokument", dokument_id, 24)
        return subjekt_id

    async def add_file(self, dokument_id: int, path: str, *, main: bool = True) -> int:
        """Attach a stored file to a dokument."""
        column = "storage_path" if self.revision >= 1640 else "real_path"
        file_id = await self.execute(
            f"INSERT INTO file (typ, nazev, mime_type, real_name, {column}, date_created, size) "
            "VALUES (%s, %s, 'application/pdf', %s, %s, NOW(), 100)",
            1 if main else 2,
            path.rsplit("/", 1)[-1],
            path.rsplit("/", 1)[-1],
            path,
        )
        await self.execute(
            "INSERT INTO dokument_to_file (dokument_id, file_id) VALUES (%s, %s)",
            dokument_id,
            file_id,
        )
        await self.log("dokument", dokument_id, 34)
        return file_id

    async def log(self, table: str, record_id: int, typ: int, when: datetime | None = None) -> None:
        """Write a log_spis / log_dokument entry as user 1."""
        await self.execute(
            f"INSERT INTO log_{table} ({table}_id, user_id, typ, date) VALUES (%s, 1, %s, "
            f"{'%s' if when else 'NOW()'})",
            record_id,
            typ,
            *([when] if when else []),
        )
