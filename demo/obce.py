"""The demo's fictional obce: their folders, registries and the documents of a day.

Names are clearly fictional; their IČOs have valid check digits but belong to
no real obec (the 9999… range is not assigned to municipalities).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

__all__ = ["DEMO_OBCE", "DemoObec", "Registry", "fake_scan"]


@dataclass(frozen=True)
class DemoObec:
    """One fictional obec of the demo district."""

    ico: str
    name: str
    clerk: str

    def folder(self, base: Path) -> Path:
        """The obec's watched document folder."""
        return base / "obce" / self.ico / "dokumenty"

    def registry_path(self, base: Path) -> Path:
        """The obec's eSSL registry database."""
        return base / "obce" / self.ico / "essl.sqlite"


DEMO_OBCE = (
    DemoObec(ico="99901013", name="Obec Dolní Lhotka (fiktivní)", clerk="Marie Nováková"),
    DemoObec(ico="99902028", name="Obec Horní Bukovina (fiktivní)", clerk="Ing. Josef Dvořák"),
    DemoObec(ico="99903032", name="Městys Zlatá Stráň (fiktivní)", clerk="Bc. Eva Svobodová"),
)


def fake_scan(title: str, pages: int) -> bytes:
    """Bytes standing in for a scanned PDF: a PDF header and page-sized noise.

    Deterministic per title, so a rerun of the demo sends the same content.
    """
    seed = hashlib.sha256(title.encode()).digest()
    page = (seed * (60_000 // len(seed) + 1))[:60_000]
    body = b"".join(hashlib.sha256(page + bytes([i])).digest() * 1875 for i in range(pages))
    return b"%PDF-1.7\n% " + title.encode() + b"\n" + body + b"\n%%EOF\n"


class Registry:
    """Writes to an obec's eSSL database as the records system would.

    The reference schema's triggers fill the change log (`zmeny`) that the agent reads.
    """

    def __init__(self, path: Path, schema: Path) -> None:
        self._path = path
        self._issued = 0
        fresh = not path.exists()
        with self._connect() as db:
            if fresh:
                db.executescript(schema.read_text(encoding="utf-8"))

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, isolation_level=None, timeout=10)

    def _insert(self, prefix: str, table: str, values: dict[str, object]) -> str:
        """Insert one record under a new id (real eSSLs issue their own opaque ids)."""
        self._issued += 1
        record_id = f"{prefix}-{self._issued}"
        columns = ["id", *values]
        marks = ", ".join("?" for _ in columns)
        with self._connect() as db:
            db.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - fixed names
                (record_id, *values.values()),
            )
        return record_id

    def open_spis(
        self,
        *,
        znacka: str,
        nazev: str,
        znak: str,
        skartace: tuple[str, int],
        opened: date,
        clerk: str,
        archival: dict[str, object] | None = None,
    ) -> str:
        """Register a new, open spis (with the registry's archival fields); return its id."""
        spis_id = self._insert(
            "S",
            "spis",
            {
                "spisova_znacka": znacka,
                "nazev": nazev,
                "spisovy_znak": znak,
                "skartacni_znak": skartace[0],
                "skartacni_lhuta": skartace[1],
                "datum_otevreni": opened.isoformat(),
                "stav": "otevreny",
                "zpracovatel": clerk,
            }
            | (archival or {}),
        )
        self.log_event("spis", spis_id, "SpisZalozeni", clerk)
        return spis_id

    def log_event(self, table: str, record_id: str, typ: str, kdo: str) -> None:
        """Record a real event in the eSSL's own log (`udalost`), stamped now."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO udalost (tabulka, zaznam_id, kdy, kdo, typ) VALUES (?, ?, ?, ?, ?)",
                (table, record_id, datetime.now(UTC).isoformat(timespec="seconds"), kdo, typ),
            )

    def add_subjekt(self, dokument_id: str, **values: object) -> str:
        """Register the odesílatel or an adresát of a dokument; return its id."""
        return self._insert("P", "subjekt", {"dokument_id": dokument_id, **values})

    def add_dokument(
        self,
        spis_id: str,
        *,
        cj: str,
        nazev: str,
        puvod: str,
        datum: date,
        kdo: str,
        poradi: int,
        archival: dict[str, object] | None = None,
    ) -> str:
        """Register a dokument in a spis (with its archival fields); return its id."""
        return self._insert(
            "D",
            "dokument",
            {
                "spis_id": spis_id,
                "cislo_jednaci": cj,
                "nazev": nazev,
                "puvod": puvod,
                "datum": datum.isoformat(),
                "odesilatel_autor": kdo,
                "poradi": poradi,
            }
            | (archival or {}),
        )

    def add_komponenta(
        self,
        dokument_id: str,
        *,
        soubor: str,
        poradi: int = 1,
        verze: int = 1,
        forma: str = "originál",
    ) -> str:
        """Register a komponenta (one file of a dokument); return its id."""
        return self._insert(
            "K",
            "komponenta",
            {
                "dokument_id": dokument_id,
                "poradi": poradi,
                "verze": verze,
                "druh": "hlavní dokument" if poradi == 1 else "příloha",
                "forma_uchovani": forma,
                "soubor": soubor,
            },
        )

    def close_spis(self, spis_id: str, closed: date, clerk: str) -> None:
        """Settle and close a spis (stav `uzavreny`), logging who closed it when."""
        self.log_event("spis", spis_id, "SpisUzavreni", clerk)
        with self._connect() as db:
            db.execute(
                "UPDATE spis SET stav = 'uzavreny', datum_uzavreni = ?, vyrizeni_datum = ?, "
                "vyrizeni_zpusob = 'vyřízení dokumentem' WHERE id = ?",
                (closed.isoformat(), closed.isoformat(), spis_id),
            )
