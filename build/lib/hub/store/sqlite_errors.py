"""Which SQLite failures mean "the database cannot serve now" rather than "this request is wrong".

A full disk, an I/O error, a lock held too long or a file that cannot be
opened is the machine's trouble, not the trouble of the data being written:
the caller holds its work and tries again later (`StoreUnavailableError`).
Anything else (a constraint, a bug) stays what it is.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from hub.errors import StoreUnavailableError

__all__ = ["as_unavailable", "is_unavailable"]

# Primary result codes (the low byte of an extended code); see sqlite.org/rescode.html.
_UNAVAILABLE: Final = frozenset(
    {
        5,  # SQLITE_BUSY: another process holds the lock past the busy timeout
        6,  # SQLITE_LOCKED
        7,  # SQLITE_NOMEM
        8,  # SQLITE_READONLY: e.g. the file or its folder turned read-only
        10,  # SQLITE_IOERR: the disk failed a read or write
        11,  # SQLITE_CORRUPT: never written over; an operator must look, nothing is lost meanwhile
        13,  # SQLITE_FULL: the disk (or max_page_count) is full
        14,  # SQLITE_CANTOPEN: the file, its WAL or a temporary file cannot be opened
        15,  # SQLITE_PROTOCOL: WAL lock protocol trouble between processes
        26,  # SQLITE_NOTADB
    }
)


def is_unavailable(exc: BaseException) -> bool:
    """Tell whether `exc` is a SQLite failure of the database itself, worth retrying later."""
    if not isinstance(exc, sqlite3.Error) or isinstance(exc, sqlite3.IntegrityError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _UNAVAILABLE
    # An error raised by the sqlite3 module itself carries no code.
    text = str(exc).lower()
    return any(s in text for s in ("disk is full", "disk i/o", "locked", "unable to open"))


def as_unavailable(exc: BaseException) -> StoreUnavailableError:
    """Return the `StoreUnavailableError` to raise from `exc` (see `is_unavailable`)."""
    name = getattr(exc, "sqlite_errorname", type(exc).__name__)
    return StoreUnavailableError(f"metadata database: {exc} ({name})")
