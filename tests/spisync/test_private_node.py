"""The private-node harness: a broker a test may restart or kill, leaving nothing behind."""

from __future__ import annotations

import asyncio
import subprocess

import aio_pika
import pytest

from spisync.broker import open_connection
from testkit.broker import PrivateNode, SharedBroker


async def test_private_node_keeps_durable_messages_across_restart(
    private_node: PrivateNode,
) -> None:
    """A persistent message in a quorum queue survives a stop and start of the private node."""
    connection = await open_connection(private_node.url, name="spisync tests")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(
            "durable-test", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await channel.default_exchange.publish(
            aio_pika.Message(b"kept", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key="durable-test",
        )
    await private_node.stop()
    with pytest.raises(OSError):
        await open_connection(private_node.url, name="stopped node", handshake_timeout_s=2)
    await private_node.start()
    connection = await open_connection(private_node.url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue("durable-test", ensure=False)
        async with asyncio.timeout(20), queue.iterator() as messages:
            async for message in messages:
                assert message.body == b"kept"
                await message.ack()
                break


async def test_killed_private_node_leaves_no_process(
    tmp_path_factory: pytest.TempPathFactory, shared_broker: SharedBroker
) -> None:
    """kill() ends every process of the node, and the machine's broker is untouched."""
    node = PrivateNode(base=tmp_path_factory.mktemp("rabbitmq-kill"))
    await node.start()
    node.kill()
    node.remove()
    survivors = subprocess.run(
        ["pgrep", "-f", node.node_name], capture_output=True, text=True, check=False
    )
    assert survivors.stdout.strip() == ""
    machine = await open_connection(shared_broker.url("/"), name="spisync tests")
    await machine.close()
