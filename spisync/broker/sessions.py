"""Running broker sessions again and again: reconnect with exponential backoff and jitter.

A session opens its own connection, channels and consumers and returns or raises
when the connection is lost; the loop starts a fresh one. Fresh consumers per
session are why no role relies on aio-pika's robust reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["run_sessions"]

log = structlog.get_logger(__name__)


async def run_sessions(
    session: Callable[[], Awaitable[None]],
    stopping: asyncio.Event,
    *,
    name: str,
    max_backoff_s: float = 30.0,
    stable_s: float = 30.0,
) -> None:
    """Run `session` until `stopping` is set, waiting longer after each quick failure.

    Args:
        session: One connection's life; returns or raises when it ends.
        stopping: Set it to stop; a wait between sessions ends at once.
        name: Names the link in log events (`<name>_failed`, `<name>_reconnecting`).
        max_backoff_s: Longest wait between two sessions.
        stable_s: A session that lasted this long was healthy: the backoff starts afresh.
    """
    backoff = 1.0
    while not stopping.is_set():
        started = time.monotonic()
        try:
            await session()
        except Exception as exc:
            log.warning(f"{name}_failed", error=f"{type(exc).__name__}: {exc}")
        if stopping.is_set():
            return
        if time.monotonic() - started > stable_s:
            backoff = 1.0
        # Jitter keeps many hub replicas or agents from reconnecting in lockstep.
        delay = backoff * random.uniform(0.5, 1.0)
        log.info(f"{name}_reconnecting", in_s=round(delay, 2))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        backoff = min(backoff * 2, max_backoff_s)
