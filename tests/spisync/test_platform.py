"""Portable shutdown and Windows errors, tested on Linux with the standard event loop."""

from __future__ import annotations

import asyncio
import os
import signal

from spisync.platform import install_shutdown_handlers, is_sharing_violation, shutdown_signals


class WindowsLikeLoop(asyncio.SelectorEventLoop):
    """The standard loop refusing signal handlers, as Windows' event loops do."""

    def add_signal_handler(self, *_: object) -> None:
        raise NotImplementedError


def run_on(loop: asyncio.AbstractEventLoop, signum: int) -> list[str]:
    """Install the handlers on `loop`, send `signum` to this process, return what happened."""
    happened: list[str] = []

    async def main() -> None:
        stop = asyncio.Event()
        undo = install_shutdown_handlers(
            asyncio.get_running_loop(), stop, on_signal=lambda: happened.append("notified")
        )
        try:
            os.kill(os.getpid(), signum)
            async with asyncio.timeout(30):
                await stop.wait()
            happened.append("stopped")
        finally:
            undo()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return happened


def test_sigterm_stops_through_the_event_loop() -> None:
    """On Linux SIGTERM reaches the loop's own handler: the callback runs, then stop is set."""
    assert run_on(asyncio.SelectorEventLoop(), signal.SIGTERM) == ["notified", "stopped"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_without_loop_signal_handlers_plain_handlers_stop_the_loop() -> None:
    """Where the loop cannot handle signals (Windows), SIGINT still stops it; the old handler returns."""
    before = signal.getsignal(signal.SIGINT)
    assert run_on(WindowsLikeLoop(), signal.SIGINT) == ["notified", "stopped"]
    assert signal.getsignal(signal.SIGINT) is before


def test_shutdown_signals_and_sharing_violations() -> None:
    """SIGINT and SIGTERM always stop; only Windows' sharing and lock violations count as in use."""
    assert {signal.SIGINT, signal.SIGTERM} <= set(shutdown_signals())

    class WinError(PermissionError):
        def __init__(self, winerror: int) -> None:
            super().__init__(13, "denied")
            self.winerror = winerror

    assert is_sharing_violation(WinError(32))
    assert is_sharing_violation(WinError(33))
    assert not is_sharing_violation(WinError(5))  # access denied: a real problem
    assert not is_sharing_violation(PermissionError(13, "denied"))
