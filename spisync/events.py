"""Waiting for the first of several events without leaving a waiter behind."""

from __future__ import annotations

import asyncio
from typing import TypeVar

__all__ = ["next_item", "wait_any"]

_T = TypeVar("_T")


async def wait_any(*events: asyncio.Event, within: float | None = None) -> None:
    """Return as soon as any of `events` is set, or after `within` seconds.

    Each event is waited for in its own task. Every one still pending is
    cancelled when this returns and also when this is itself cancelled (a
    service shutting down): a task left pending would be destroyed with its
    loop and logged as an error, in the middle of whatever prints then.
    """
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def next_item(queue: asyncio.Queue[_T], stop: asyncio.Event) -> _T | None:
    """The next item of `queue`, or None if `stop` is set first; leaves no waiter behind.

    An item a cancelled `get` was woken for stays in the queue.
    """
    getter = asyncio.ensure_future(queue.get())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not getter.done():
            getter.cancel()
    if not getter.done() or getter.cancelled():
        return None
    return getter.result()
