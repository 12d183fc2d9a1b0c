"""One broker session of the publisher: its exchange and its window of unconfirmed publishes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from protocol import names

if TYPE_CHECKING:
    import aio_pika
    from aio_pika.abc import AbstractExchange

    from agent.pacing import TokenBucket

__all__ = ["PublishSession"]


class PublishSession:
    """What one broker session's publishes go through.

    Args:
        exchange: The ingest exchange on this session's channel.
        ico: The obec's IČO (the routing keys name it).
        window: Most messages published and not yet confirmed.
        bucket: Paces the bytes put on the wire, or None.
        stop: Set when the session is to end.
    """

    def __init__(
        self,
        exchange: AbstractExchange,
        *,
        ico: str,
        window: int,
        bucket: TokenBucket | None,
        stop: asyncio.Event,
    ) -> None:
        self._exchange = exchange
        self._ico = ico
        self._window = asyncio.Semaphore(window)
        self._bucket = bucket
        self.stop = stop

    async def start(self, kind: str, message: aio_pika.Message) -> asyncio.Task[None]:
        """Publish `message` once the window (and the bucket) has room; settles on confirm."""
        await self._window.acquire()
        if self._bucket is not None:
            await self._bucket.take(message.body_size)
        return self._launch(kind, message)

    async def start_within(
        self, kind: str, message: aio_pika.Message, seconds: float
    ) -> asyncio.Task[None] | None:
        """Like `start` if the window has room within `seconds` (no bucket); else None."""
        try:
            await asyncio.wait_for(self._window.acquire(), seconds)
        except TimeoutError:
            return None
        if self.stop.is_set():
            self._window.release()
            return None
        return self._launch(kind, message)

    def _launch(self, kind: str, message: aio_pika.Message) -> asyncio.Task[None]:
        task = asyncio.create_task(self.publish(kind, message))
        task.add_done_callback(self._settled)
        return task

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._window.release()
        if not task.cancelled():
            task.exception()  # retrieved: a failed early chunk nobody awaits is not an error

    async def publish(self, kind: str, message: aio_pika.Message) -> None:
        """Publish `message` now, outside the window; return when the broker confirmed it."""
        await self._exchange.publish(
            message, names.ingest_routing_key(self._ico, kind), mandatory=True
        )
