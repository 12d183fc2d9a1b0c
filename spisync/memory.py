"""Giving freed memory back to the operating system after large messages.

CPython frees a large message's bytes at once, but glibc keeps the pages of
its heap (an AMQP body arrives as many frames, so the heap, not `mmap`, holds
them) until told to trim. A long-running service that received a burst of
large messages would otherwise keep that peak resident for good.
`MemoryReturner` trims a moment after enough bytes passed through (the
client library lets go of a delivery a little after its acknowledgement).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import sys
from typing import Any, Final

__all__ = ["TRIM_AFTER_BYTES", "MemoryReturner", "limit_heap_arenas", "release_memory"]

TRIM_AFTER_BYTES: Final = 8 * 1024 * 1024
"""Bytes received since the last trim after which a trim is worth its cost."""

_TRIM_DELAY_S: Final = 1.0


def _glibc(function: str) -> Any:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), function)
    except (OSError, AttributeError):  # not glibc (musl has neither function)
        return None


_TRIM = _glibc("malloc_trim")
_MALLOPT = _glibc("mallopt")
_M_ARENA_MAX: Final = -8


def limit_heap_arenas(arenas: int) -> bool:
    """Let glibc keep at most `arenas` heaps (call before threads start); True if it could.

    glibc gives threads up to 8 heaps per core; each keeps memory its thread
    freed, which a trim returns only in part. An agent that hashed a first
    load in worker threads stayed some 20 MiB larger for good with the default.
    """
    if _MALLOPT is None:
        return False
    return bool(_MALLOPT(_M_ARENA_MAX, arenas))


def release_memory() -> bool:
    """Return free heap memory to the operating system; True if the platform can."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


class MemoryReturner:
    """Counts bytes received and trims the heap a moment after `threshold` of them."""

    def __init__(self, threshold: int = TRIM_AFTER_BYTES) -> None:
        self._threshold = threshold
        self._since = 0
        self._pending: asyncio.TimerHandle | None = None

    def received(self, nbytes: int) -> None:
        """Note `nbytes` received and already settled; schedule a trim if enough passed."""
        self._since += nbytes
        if self._since >= self._threshold and self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(_TRIM_DELAY_S, self._trim)

    def _trim(self) -> None:
        self._pending = None
        self._since = 0
        release_memory()

    def close(self) -> None:
        """Cancel a scheduled trim."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
