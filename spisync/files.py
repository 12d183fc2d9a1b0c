"""Durable writes: a small file replaced atomically, and a whole filesystem synced at once."""

from __future__ import annotations

import ctypes
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["CAN_SYNC_FILESYSTEM", "sync_filesystem", "write_atomically"]


def _libc_syncfs() -> ctypes._NamedFuncPointer | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _libc_syncfs()
CAN_SYNC_FILESYSTEM = _SYNCFS is not None
"""Whether `sync_filesystem` works here (Linux); elsewhere fsync each file and folder."""


def sync_filesystem(path: Path) -> None:
    """Make everything written to the filesystem holding `path` durable (Linux `syncfs`).

    One call instead of an fsync per file and per folder, for writers that put
    many files at once.

    Raises:
        OSError: If the filesystem reports a write-back error (Linux >= 5.8), or
            where `CAN_SYNC_FILESYSTEM` is False.
    """
    if _SYNCFS is None:
        raise OSError(f"syncfs is not available on {sys.platform}")
    fd = os.open(path, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(path))
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` to `path` through a synced temporary file renamed over it.

    Args:
        path: The file to (re)place; its folder is created if missing.
        data: The whole new content.
        mode: Permissions of a newly created file (a key wants the default 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
