"""What differs between Linux and Windows, in one place.

- Shutdown signals: on Linux the event loop handles SIGTERM and SIGINT
  (`loop.add_signal_handler`); Windows' event loops do not implement that, so
  there a plain `signal.signal` handler (SIGINT, and SIGBREAK, which a console
  close or the service wrapper's Ctrl+Break sends) hands the stop to the loop
  with `call_soon_threadsafe`.
- Sharing violations: Windows refuses to open a file that Office holds open
  without sharing (`ERROR_SHARING_VIOLATION`, `ERROR_LOCK_VIOLATION`); that is a
  file still in use, to read again later, not a failure to report.

This code is tested on Linux, with the standard event loop made to refuse signal
handlers as Windows' loops do and with simulated Windows errors; it has not run on
Windows (README.md, "Windows town halls").
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from types import FrameType

__all__ = [
    "IS_WINDOWS",
    "install_shutdown_handlers",
    "is_sharing_violation",
    "shutdown_signals",
]

IS_WINDOWS = sys.platform == "win32"

_ERROR_SHARING_VIOLATION = 32
_ERROR_LOCK_VIOLATION = 33


def shutdown_signals() -> tuple[signal.Signals, ...]:
    """The signals that ask this process to stop on this platform."""
    found = [signal.SIGINT, signal.SIGTERM]
    brk = getattr(signal, "SIGBREAK", None)  # Windows only: Ctrl+Break, console closed
    if brk is not None:
        found.append(brk)
    return tuple(found)


def install_shutdown_handlers(
    loop: asyncio.AbstractEventLoop,
    stop: asyncio.Event,
    *,
    on_signal: Callable[[], None] | None = None,
) -> Callable[[], None]:
    """Set `stop` when the process is asked to stop; return a function that undoes it.

    Args:
        loop: The running event loop.
        stop: Set on the loop when a shutdown signal arrives.
        on_signal: Called on the loop first (for example to tell systemd `STOPPING=1`).
    """

    def request_stop() -> None:
        if on_signal is not None:
            on_signal()
        stop.set()

    signals = shutdown_signals()
    try:
        for signum in signals:
            loop.add_signal_handler(signum, request_stop)
    except NotImplementedError:  # Windows' event loops (and any loop without them)
        return _install_plain_handlers(loop, signals, request_stop)

    def undo() -> None:
        for signum in signals:
            loop.remove_signal_handler(signum)

    return undo


def _install_plain_handlers(
    loop: asyncio.AbstractEventLoop,
    signals: tuple[signal.Signals, ...],
    request_stop: Callable[[], None],
) -> Callable[[], None]:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        # A signal handler runs between bytecodes of the main thread: only schedule.
        with contextlib.suppress(RuntimeError):  # the loop already closed
            loop.call_soon_threadsafe(request_stop)

    previous = {signum: signal.signal(signum, handler) for signum in signals}

    def undo() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return undo


def is_sharing_violation(exc: BaseException) -> bool:
    """Whether `exc` is Windows refusing a file another program holds open (Office locks)."""
    return isinstance(exc, OSError) and getattr(exc, "winerror", None) in {
        _ERROR_SHARING_VIOLATION,
        _ERROR_LOCK_VIOLATION,
    }
