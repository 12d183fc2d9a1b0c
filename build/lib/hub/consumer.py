"""One consumer per provisioned obec queue, each on its own channel with a bounded prefetch.

The queues are quorum queues with single active consumer, so with several hub
processes exactly one consumes each obec at a time and another takes over
when it dies. The consumers live and die with their connection: after a
reconnect the service builds them anew instead of trusting a robust
connection to restore them (aio-pika #231, #563).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from hub.inspection import Delivery
from protocol import names
from spisync.broker import declare_obec

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterable

    from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

__all__ = ["ObecConsumers"]

log = structlog.get_logger(__name__)


class ObecConsumers:
    """The obec consumers of one connection.

    Args:
        connection: The session's connection.
        deliveries: Where every delivery goes (the batcher's input).
        prefetch: Unacknowledged deliveries per obec.
        tag_prefix: Consumer tags are `<tag_prefix>.<ičo>` (shown in the management UI).
        user_prefix: This deployment's agent user-name prefix (`[hub] user_prefix`).
        broken: Set when a consumer channel closes unexpectedly, to restart the session.
    """

    def __init__(
        self,
        connection: AbstractConnection,
        deliveries: asyncio.Queue[Delivery],
        *,
        prefetch: int,
        tag_prefix: str,
        user_prefix: str,
        broken: asyncio.Event,
    ) -> None:
        self._connection = connection
        self._deliveries = deliveries
        self._prefetch = prefetch
        self._tag_prefix = tag_prefix
        self._user_prefix = user_prefix
        self._broken = broken
        self._channels: dict[str, AbstractChannel] = {}
        self._closing = False

    @property
    def icos(self) -> frozenset[str]:
        """The obce consumed now."""
        return frozenset(self._channels)

    async def ensure(self, icos: Iterable[str]) -> None:
        """Start consuming every obec of `icos` not consumed yet (declaring its queues)."""
        for ico in sorted(set(icos) - self._channels.keys()):
            await self._start(ico)

    async def _start(self, ico: str) -> None:
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        await declare_obec(channel, ico)
        queue = await channel.get_queue(names.hub_queue(ico), ensure=False)

        agent_user = names.agent_username(ico, prefix=self._user_prefix)

        async def on_message(message: AbstractIncomingMessage) -> None:
            self._deliveries.put_nowait(Delivery(ico=ico, message=message, agent_user=agent_user))

        await queue.consume(on_message, consumer_tag=f"{self._tag_prefix}.{ico}")

        def on_close(*_: Any) -> None:
            if not self._closing:
                log.warning("obec_channel_closed", ico=ico)
                self._broken.set()

        channel.close_callbacks.add(on_close)
        self._channels[ico] = channel
        log.info("obec_consumer_started", ico=ico, queue=names.hub_queue(ico))

    async def cancel_all(self) -> None:
        """Stop new deliveries (for a drain); deliveries already received stay valid."""
        self._closing = True
        for ico, channel in self._channels.items():
            queue = await channel.get_queue(names.hub_queue(ico), ensure=False)
            try:
                await queue.cancel(f"{self._tag_prefix}.{ico}")
            except Exception as exc:
                log.warning("obec_consumer_cancel_failed", ico=ico, error=str(exc))
