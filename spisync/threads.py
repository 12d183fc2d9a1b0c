"""Opening files in a worker thread without leaking them when the caller is cancelled."""

from __future__ import annotations

import asyncio
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["open_in_thread"]

_File = TypeVar("_File", bound=IO[Any])


async def open_in_thread(opener: Callable[[], _File]) -> _File:
    """Return `opener()` run in a thread; a cancelled caller's file is closed once it opens.

    A thread cannot be interrupted: cancelling `asyncio.to_thread(open, ...)` leaves
    the thread to finish opening, and the file object it returns is dropped unclosed
    (seen when a broker restart or a shutdown cancels a send or a verification).
    """
    opening = asyncio.ensure_future(asyncio.to_thread(opener))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_opened)
        raise


def _close_opened(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()
