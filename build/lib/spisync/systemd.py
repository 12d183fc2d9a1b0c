"""systemd's notify protocol (`Type=notify`), spoken over its datagram socket.

systemd passes `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket) to
a `Type=notify` service; the service sends newline-separated `KEY=value` lines:
`READY=1` once it works (for us: after the first broker session), `STATUS=...`
for `systemctl status`, `WATCHDOG=1` at least every `WATCHDOG_USEC`
microseconds, and `STOPPING=1` when it shuts down. The protocol is one
`sendto` on an `AF_UNIX` datagram socket, so no C library is needed.

Outside systemd (no `NOTIFY_SOCKET`, or on Windows) every call does nothing.
The watchdog pings come from a task on the event loop: when the loop stalls
they stop, and systemd restarts the service (`WatchdogSec=` in the unit).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

__all__ = ["Notifier", "notifier", "watchdog"]

log = structlog.get_logger(__name__)


class Notifier:
    """Sends notify messages to systemd, or nothing when not run by it.

    Args:
        environ: The process environment (`os.environ` by default).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket: a leading NUL byte
            address = "\0" + address[1:]
        self._address = address if address and hasattr(socket, "AF_UNIX") else ""
        self._ready = False
        self._watchdog_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        """Whether systemd listens (`NOTIFY_SOCKET` is set)."""
        return bool(self._address)

    @property
    def watchdog_s(self) -> float | None:
        """The watchdog timeout systemd asks for, in seconds, or None."""
        return self._watchdog_s

    def send(self, **fields: str) -> bool:
        """Send `KEY=value` lines (`send(STATUS="...")`); return whether it was sent."""
        if not self._address:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(0)  # non-blocking: never hold up the event loop for systemd
                sock.sendto(payload, self._address)
        except OSError as exc:
            log.warning("systemd_notify_failed", error=str(exc))
            return False
        return True

    def ready(self, status: str) -> None:
        """Say the service works (`READY=1`), once per process, with a status line."""
        if self._ready:
            self.status(status)
            return
        self._ready = self.send(READY="1", STATUS=status)

    def status(self, status: str) -> None:
        """Show `status` in `systemctl status`."""
        self.send(STATUS=status)

    def stopping(self) -> None:
        """Say the service is shutting down."""
        self.send(STOPPING="1", STATUS="stopping")

    def ping(self) -> None:
        """Tell the watchdog the service is alive."""
        self.send(WATCHDOG="1")


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):  # meant for another process (a parent shell)
        return None
    return int(usec) / 1_000_000


_notifier: Notifier | None = None


def notifier() -> Notifier:
    """The process's notifier (made from the environment on first use)."""
    global _notifier  # noqa: PLW0603 - one socket address per process, read once
    if _notifier is None:
        _notifier = Notifier()
    return _notifier


@contextlib.asynccontextmanager
async def watchdog(sd: Notifier | None = None) -> AsyncIterator[None]:
    """Ping the watchdog from the event loop, twice per timeout, while the block runs."""
    sd = sd or notifier()
    interval = sd.watchdog_s
    if interval is None or not sd.enabled:
        yield
        return

    async def ping() -> None:
        while True:
            sd.ping()
            await asyncio.sleep(interval / 2)

    task = asyncio.create_task(ping(), name="systemd-watchdog")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
