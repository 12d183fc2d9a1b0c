"""What the store's ledgers share: the metadata store's writer (and its lock) and reader."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractAsyncContextManager

    from hub.store.sqlite_write import WriteConnection

__all__ = ["SharedConnections"]


class SharedConnections:
    """Base of a ledger that shares the metadata store's connections and write lock.

    One writer and one lock for every table keeps SQLite's single-writer rule in
    one place; the ledgers only add their own queries.

    Args:
        write: Opens a write transaction on the store's writer (lock held, `BEGIN IMMEDIATE`).
        read: Runs a query on the store's reader.
    """

    def __init__(
        self,
        write: Callable[[], AbstractAsyncContextManager[WriteConnection]],
        read: Callable[..., Awaitable[list[tuple[Any, ...]]]],
    ) -> None:
        self._write = write
        self._read = read
