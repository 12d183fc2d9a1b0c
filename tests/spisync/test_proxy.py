"""The test proxy: forwards AMQP, cuts open connections, refuses and accepts, slows links down."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from spisync.broker import open_connection
from testkit.broker import SharedBroker
from testkit.proxy import TcpProxy


async def test_cut_closes_open_connections_and_pause_refuses_new_ones(
    shared_broker: SharedBroker, vhost: str
) -> None:
    """A cut aborts the open AMQP connection (its close callback fires); a paused proxy refuses; a resumed one accepts on the same port."""
    url = shared_broker.url(vhost)
    async with TcpProxy.for_url(url) as proxy:
        connection = await open_connection(proxy.url_for(url), name="spisync tests")
        closed = asyncio.Event()
        connection.close_callbacks.add(lambda *_: closed.set())
        port = proxy.port
        proxy.pause()
        assert proxy.cut() == 1
        await asyncio.wait_for(closed.wait(), 30)
        with pytest.raises(ConnectionError):
            await open_connection(proxy.url_for(url), name="refused", handshake_timeout_s=5)
        await proxy.resume()
        assert proxy.port == port
        again = await open_connection(proxy.url_for(url), name="spisync tests")
        await again.close()
        await connection.close()


async def test_a_slow_link_still_carries_every_byte(
    shared_broker: SharedBroker, vhost: str
) -> None:
    """With a bandwidth limit and an added delay, messages still arrive whole and in order."""
    url = shared_broker.url(vhost)
    async with TcpProxy.for_url(url, bandwidth_bytes_per_s=2_000_000, delay_s=0.02) as proxy:
        connection = await open_connection(proxy.url_for(url), name="spisync tests")
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(exclusive=True)
            bodies = [bytes([i]) * (50_000 + i) for i in range(5)]
            for body in bodies:
                await channel.default_exchange.publish(aio_pika.Message(body), queue.name)
            received = []
            async with queue.iterator() as messages:
                async for message in messages:
                    received.append(message.body)
                    await message.ack()
                    if len(received) == len(bodies):
                        break
        assert received == bodies
        assert proxy.stats.upstream_bytes > sum(map(len, bodies))
