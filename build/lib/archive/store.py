"""The write-once package store and its archive ids.

Layout under `data_dir`::

    index.sqlite                  archive ids: (ičo, SIP name) -> sha256, id
    work/<random>/<name>.zip      reassembly in progress (cleared at start-up)
    <ičo>/<SIP name>.zip          stored packages, read-only, never replaced

A package is linked into place with `os.link`, which fails rather than
overwrite, then the directory is fsynced, then its index row is committed.
A crash between the link and the commit leaves a file without a row; the next
`lookup` adopts it (hashing it), so a redelivered manifest is answered with one
stable archive id. Ids are `<prefix>-<year>-<seq>`, gap-free per year.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from archive.errors import SIP_CONFLICT, SipConflictError, StoreError
from archive.staging import fsync_dir
from protocol import RuleFailure

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["PackageStore", "StoredPackage", "file_sha256"]

_log = structlog.get_logger(__name__)
_READ_SIZE = 1024 * 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS package (
    archive_id TEXT PRIMARY KEY,
    ico TEXT NOT NULL,
    sip_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    stored_at TEXT NOT NULL,
    UNIQUE (ico, sip_name),
    UNIQUE (year, seq)
);
CREATE INDEX IF NOT EXISTS package_sha256 ON package (sha256);
"""


def file_sha256(path: Path) -> tuple[str, int]:
    """Return the SHA-256 (hex) and size of the file at `path`."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_READ_SIZE):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


@dataclass(frozen=True, slots=True)
class StoredPackage:
    """A package kept by the archive.

    Attributes:
        ico: The obec it belongs to.
        sip_name: Its name (the file is `<ico>/<sip_name>.zip`).
        sha256: SHA-256 of the ZIP.
        size: Bytes of the ZIP.
        archive_id: The archive's id for it, stable forever.
        path: Where the ZIP is.
        stored_at: When it was first stored (UTC).
    """

    ico: str
    sip_name: str
    sha256: str
    size: int
    archive_id: str
    path: Path
    stored_at: datetime


class PackageStore:
    """Stored packages under `data_dir` with their SQLite index.

    Every method does blocking I/O; call them from a worker thread. Methods are
    serialised by a lock, so threads may share one store.

    Args:
        data_dir: The archive's data folder.
        id_prefix: Prefix of new archive ids.
    """

    def __init__(self, data_dir: Path, *, id_prefix: str = "KDS") -> None:
        self.data_dir = data_dir
        self.id_prefix = id_prefix
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def work_root(self) -> Path:
        """Where packages are reassembled before they are stored."""
        return self.data_dir / "work"

    def open(self) -> None:
        """Create the folders and the index; clear reassembly left over by a crash.

        Raises:
            StoreError: If the folder or the database cannot be set up.
        """
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.work_root, ignore_errors=True)
            self.work_root.mkdir(exist_ok=True)
            db = sqlite3.connect(
                self.data_dir / "index.sqlite", isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed archive id survives power loss, since it was replied.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the archive store in {self.data_dir}: {exc}") from exc
        self._db = db

    def close(self) -> None:
        """Close the index."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the archive store is not open")
        return self._db

    def package_path(self, ico: str, sip_name: str) -> Path:
        """Return where the package `sip_name` of obec `ico` is (or would be) stored."""
        return self.data_dir / ico / f"{sip_name}.zip"

    def _row(self, ico: str, sip_name: str) -> StoredPackage | None:
        row = (
            self._conn()
            .execute(
                "SELECT sha256, size, archive_id, stored_at FROM package "
                "WHERE ico = ? AND sip_name = ?",
                (ico, sip_name),
            )
            .fetchone()
        )
        if row is None:
            return None
        sha256, size, archive_id, stored_at = row
        return StoredPackage(
            ico=ico,
            sip_name=sip_name,
            sha256=sha256,
            size=size,
            archive_id=archive_id,
            path=self.package_path(ico, sip_name),
            stored_at=datetime.fromisoformat(stored_at),
        )

    def _insert(self, ico: str, sip_name: str, sha256: str, size: int) -> StoredPackage:
        now = datetime.now(UTC)
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM package WHERE year = ?", (now.year,)
            ).fetchone()
            archive_id = f"{self.id_prefix}-{now.year}-{last + 1:06d}"
            db.execute(
                "INSERT INTO package VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (archive_id, ico, sip_name, sha256, size, now.year, last + 1, now.isoformat()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        _log.info("archive_id_assigned", ico=ico, sip_name=sip_name, archive_id=archive_id)
        return StoredPackage(
            ico=ico,
            sip_name=sip_name,
            sha256=sha256,
            size=size,
            archive_id=archive_id,
            path=self.package_path(ico, sip_name),
            stored_at=now,
        )

    def _adopt(self, ico: str, sip_name: str) -> StoredPackage | None:
        """Index a stored file that has no row (a crash hit between link and commit)."""
        path = self.package_path(ico, sip_name)
        if not path.is_file():
            return None
        sha256, size = file_sha256(path)
        _log.warning("stored_package_adopted", ico=ico, sip_name=sip_name, sha256=sha256)
        return self._insert(ico, sip_name, sha256, size)

    def lookup(self, ico: str, sip_name: str) -> StoredPackage | None:
        """Return the package stored under this name, or None.

        Raises:
            StoreError: If the index cannot be read.
        """
        try:
            with self._lock:
                return self._row(ico, sip_name) or self._adopt(ico, sip_name)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot look up {ico}/{sip_name}: {exc}") from exc

    def holds_sha256(self, sha256: str) -> bool:
        """Return True if some stored package has this SHA-256."""
        with self._lock:
            row = self._conn().execute("SELECT 1 FROM package WHERE sha256 = ? LIMIT 1", (sha256,))
            return row.fetchone() is not None

    @contextlib.contextmanager
    def work_file(self, sip_name: str) -> Iterator[Path]:
        """Yield a fresh path `work/<random>/<sip_name>.zip`, removed afterwards.

        The file keeps the package's name so that the validator sees the name
        the package will be stored under.
        """
        directory = self.work_root / uuid.uuid4().hex
        directory.mkdir(parents=True)
        try:
            yield directory / f"{sip_name}.zip"
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    @staticmethod
    def conflict(existing: StoredPackage, sha256: str) -> SipConflictError:
        """Return the rejection of a package `sha256` that differs from `existing`."""
        return SipConflictError(
            [
                RuleFailure(
                    code=SIP_CONFLICT,
                    message=(
                        f"package {existing.sip_name} is already stored as "
                        f"{existing.archive_id} with SHA-256 {existing.sha256}; "
                        f"a stored package is never replaced (this one has {sha256})"
                    ),
                    location=f"{existing.ico}/{existing.sip_name}.zip",
                )
            ]
        )

    def store(
        self, ico: str, sip_name: str, source: Path, sha256: str, size: int
    ) -> tuple[StoredPackage, bool]:
        """Store the fsynced file `source` write-once and give it an archive id.

        Args:
            ico: The obec.
            sip_name: The package's name.
            source: The verified, validated ZIP inside `work_root`.
            sha256: Its SHA-256.
            size: Its size.

        Returns:
            The stored package, and True if stored now (False: it already was).

        Raises:
            SipConflictError: If another package is stored under the name.
            StoreError: If the disk or the index fails.
        """
        path = self.package_path(ico, sip_name)
        try:
            with self._lock:
                existing = self._row(ico, sip_name)
                if existing is not None and existing.sha256 != sha256:
                    raise self.conflict(existing, sha256)
                if existing is not None and path.is_file():
                    return existing, False
                created = self._link(source, path)
                if not created:
                    existing = existing or self._adopt(ico, sip_name)
                    assert existing is not None
                    if existing.sha256 != sha256:
                        raise self.conflict(existing, sha256)
                    return existing, False
                if existing is not None:
                    # The index knew it but the file had gone: restored, same id.
                    _log.error("stored_package_restored", ico=ico, sip_name=sip_name)
                    return existing, True
                return self._insert(ico, sip_name, sha256, size), True
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot store {ico}/{sip_name}: {exc}") from exc

    @staticmethod
    def _link(source: Path, path: Path) -> bool:
        """Link `source` to `path` unless `path` exists; make it durable."""
        directory = path.parent
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(directory.parent)
        # Read-only, so that nothing on this machine rewrites a kept package by accident.
        source.chmod(0o444)
        try:
            os.link(source, path)
        except FileExistsError:
            return False
        fsync_dir(directory)
        return True
