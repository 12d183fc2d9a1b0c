"""Why the hub's SQLite database cannot be opened, in one line an operator can act on."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["data_dir_failure", "open_failure"]


def data_dir_failure(data_dir: Path, exc: OSError) -> str:
    """Describe a data folder that cannot be created or used."""
    return (
        f"cannot use [hub] data_dir {data_dir}: {exc.strerror or exc}; "
        "fix: make it a folder the hub may write, or point [hub] data_dir elsewhere"
    )


def open_failure(path: Path, exc: sqlite3.Error | OSError) -> str:
    """Describe why the database at `path` cannot be opened, and how to fix it."""
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        fix = (
            "the file is damaged or not a SQLite database: restore it from a backup, or "
            "move it away and let the hub start an empty one"
        )
    elif "locked" in text or "busy" in text:
        fix = "another process keeps it locked: stop it, or give this hub its own [hub] data_dir"
    elif "unable to open" in text or isinstance(exc, OSError):
        fix = (
            f"{path.name} must be a file (not a folder) in a folder the hub may write; "
            "check [hub] data_dir and the permissions"
        )
    else:
        fix = "check the disk (space, errors) and the file's permissions"
    return f"cannot open the hub's database {path}: {text}; fix: {fix}"
