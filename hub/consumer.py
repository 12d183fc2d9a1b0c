"""One consumer per provisioned obec queue, each on its own channel with a bounded prefetch.

The queues are quorum queues with single active consumer, so with several hub
processes exactly one consumes each obec at a time and another takes over
when it dies. The consumers live and die with their connection: after a
reconnect the service builds them anew instead of trusting a robust
connection to restore them (aio-pika #231, #563).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiormq
import structlog

from hub.inspection import Delivery
from protocol import names
from spisync.broker import declare_obec

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Callable, Iterable

    from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

    from hub.queue_names import QueueNames

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
        queue_names: This deployment's obec queue names.
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
        queue_names: QueueNames,
        broken: asyncio.Event,
    ) -> None:
        self._connection = connection
        self._deliveries = deliveries
        self._prefetch = prefetch
        self._tag_prefix = tag_prefix
        self._user_prefix = user_prefix
        self._names = queue_names
        self._legacy: set[str] = set()
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
        token = self._names.token(ico)
        await declare_obec(channel, ico, token)
        queue_name = names.hub_queue(ico, token)
        queue = await channel.get_queue(queue_name, ensure=False)
        agent_user = names.agent_username(ico, prefix=self._user_prefix)

        def handler(name: str) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
            async def on_message(message: AbstractIncomingMessage) -> None:
                self._deliveries.put_nowait(
                    Delivery(ico=ico, message=message, agent_user=agent_user, queue=name)
                )

            return on_message

        await queue.consume(handler(queue_name), consumer_tag=f"{self._tag_prefix}.{ico}")
        legacy = names.legacy_hub_queue(ico)
        if await self._legacy_waiting(channel, ico, legacy):
            await (await channel.get_queue(legacy, ensure=False)).consume(
                handler(legacy), consumer_tag=f"{self._tag_prefix}.{ico}.legacy"
            )
            self._legacy.add(ico)

        def on_close(*_: Any) -> None:
            if not self._closing:
                log.warning("obec_channel_closed", ico=ico)
                self._broken.set()

        channel.close_callbacks.add(on_close)
        self._channels[ico] = channel
        log.info("obec_consumer_started", ico=ico, queue=queue_name)

    async def _legacy_waiting(self, channel: AbstractChannel, ico: str, legacy: str) -> bool:
        """Retire `hub.obec.<ičo>` of older versions; return True if it still holds messages.

        Its name is guessable, so it must go (module `hub.queue_names`): it is
        unbound at once, so new messages reach only the new queue, drained by
        consuming it, and deleted at the first session start that finds it
        empty and unconsumed (another hub instance may still be draining it).
        """
        probe = await self._connection.channel()
        try:
            # A passive declare of a missing queue closes its channel: hence the probe.
            await probe.declare_queue(legacy, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        finally:
            if not probe.is_closed:
                await probe.close()
        queue = await channel.get_queue(legacy, ensure=False)
        await queue.unbind(names.INGEST_EXCHANGE, routing_key=names.ingest_binding(ico))
        # Counted after the unbind, so nothing new can arrive once it reads empty.
        counts = (await channel.declare_queue(legacy, passive=True)).declaration_result
        if counts.message_count or counts.consumer_count:
            log.warning(
                "legacy_queue_draining", ico=ico, queue=legacy, messages=counts.message_count
            )
            return True
        # Quorum queues refuse `if_empty`: the count above, after the unbind, stands for it.
        await queue.delete(if_unused=False, if_empty=False)
        log.info("legacy_queue_deleted", ico=ico, queue=legacy)
        return False

    async def cancel_all(self) -> None:
        """Stop new deliveries (for a drain); deliveries already received stay valid."""
        self._closing = True
        for ico, channel in self._channels.items():
            queue = await channel.get_queue(self._names.hub_queue(ico), ensure=False)
            try:
                await queue.cancel(f"{self._tag_prefix}.{ico}")
                if ico in self._legacy:
                    legacy = await channel.get_queue(names.legacy_hub_queue(ico), ensure=False)
                    await legacy.cancel(f"{self._tag_prefix}.{ico}.legacy")
            except Exception as exc:
                log.warning("obec_consumer_cancel_failed", ico=ico, error=str(exc))
