"""Figures that the heartbeat and the `status` verb share: folders, outbox, registry.

Every look at the disk runs in a worker thread with a time limit: a network
share that hangs must make its folder "unavailable", not stall the agent.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agent.config import RegistryConfig
    from agent.scanner import Folder
    from agent.state import State

__all__ = [
    "FolderFigures",
    "OutboxFigures",
    "RegistryFigures",
    "folder_figures",
    "folder_name",
    "outbox_figures",
    "registry_figures",
]

_LOOK_TIMEOUT_S = 5.0


def folder_name(folder: Folder) -> str:
    """Return a folder's name as the helpdesk sees it: its configured name, else its path."""
    return folder.prefix.rstrip("/") or folder.key


@dataclass(frozen=True)
class FolderFigures:
    """One watched folder now.

    Attributes:
        name: Its name (see `folder_name`).
        path: Where it is on disk.
        available: It exists and its top level can be read.
        free_bytes: Free space on its file system, None if unavailable.
        error: Why it is unavailable.
    """

    name: str
    path: str
    available: bool
    free_bytes: int | None
    error: str = ""


def _look(path: str) -> tuple[bool, int | None, str]:
    try:
        with os.scandir(path) as entries:
            next(entries, None)
        return True, shutil.disk_usage(path).free, ""
    except OSError as exc:
        return False, None, exc.strerror or type(exc).__name__


async def folder_figures(folders: Sequence[Folder]) -> list[FolderFigures]:
    """Look at each folder (in threads, each within a few seconds)."""

    async def one(folder: Folder) -> FolderFigures:
        try:
            available, free, error = await asyncio.wait_for(
                asyncio.to_thread(_look, str(folder.root)), timeout=_LOOK_TIMEOUT_S
            )
        except TimeoutError:
            available, free, error = False, None, "does not answer (a hung network share?)"
        return FolderFigures(folder_name(folder), str(folder.root), available, free, error)

    return list(await asyncio.gather(*(one(f) for f in folders)))


@dataclass(frozen=True)
class OutboxFigures:
    """The outbox now.

    Attributes:
        depth: Rows waiting.
        bytes: Bytes waiting (file sizes and message bodies).
        oldest_created_at: Unix time of the oldest row, None when empty.
    """

    depth: int
    bytes: int
    oldest_created_at: float | None


async def outbox_figures(state: State) -> OutboxFigures:
    """Read the outbox's depth, bytes and oldest row."""
    depth, oldest = await state.outbox_depth()
    return OutboxFigures(depth, await state.outbox_bytes(), oldest)


@dataclass(frozen=True)
class RegistryFigures:
    """The registry's change log against the agent's cursor.

    Attributes:
        cursor: The `seq` read up to (None before the first read).
        head: The change log's highest `seq`, None when it cannot be read.
        lag: Changes not yet read, None when unknown.
        error: Why the registry cannot be read.
    """

    cursor: int | None
    head: int | None
    lag: int | None
    error: str = ""


def _head(path: str) -> int:
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None)
    try:
        db.execute("PRAGMA query_only = ON")
        row = db.execute("SELECT coalesce(max(seq), 0) FROM zmeny").fetchone()
        return int(row[0])
    finally:
        db.close()


async def registry_figures(state: State, registry: RegistryConfig | None) -> RegistryFigures | None:
    """Return the cursor and lag of the registry, or None when the agent has none."""
    if registry is None:
        return None
    raw = await state.get_meta("registry_cursor")
    cursor = None if raw is None else int(raw)
    head: int | None = None
    error = ""
    if registry.kind == "sqlite":
        try:
            head = await asyncio.wait_for(
                asyncio.to_thread(_head, registry.path), timeout=_LOOK_TIMEOUT_S
            )
        except (sqlite3.Error, OSError) as exc:
            error = str(exc)
        except TimeoutError:
            error = "the registry does not answer"
    lag = None if head is None else max(0, head - (cursor or 0))
    return RegistryFigures(cursor, head, lag, error)
