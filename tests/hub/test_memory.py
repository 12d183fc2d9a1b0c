"""Memory: large deliveries are bounded by the broker and the hub gives the memory back."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import aio_pika
import aiormq
import pytest

from protocol import names
from spisync.broker import open_connection
from testkit.broker import SPISYNC_CONF
from testkit.hub import write_hub_toml
from testkit.waiting import wait_for
from tests.hub.hubkit import HubProcess

_MIB = 1024 * 1024


def _rss_mib(pid: int) -> float:
    """Resident memory of process `pid` in MiB, from /proc."""
    with Path(f"/proc/{pid}/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


async def _hub(hub_config, make_agent, hub_processes, store_of, tmp_path, ico):
    """A subprocess hub that consumes obec `ico`, a connected agent, and the hub's RSS when idle."""
    agent = await make_agent(ico)
    hub = HubProcess.start(write_hub_toml(hub_config, tmp_path / "HUB.toml"), tmp_path / "hub.log")
    hub_processes.append(hub)

    async def connected() -> bool:
        return any(e.get("event") == "obec_consumer_started" for e in hub.events())

    await wait_for(connected, what="the hub consuming", timeout=60)
    await agent.send_file("small.txt", b"warm up", chunk_size=4)
    store = await store_of(hub_config)

    async def warm() -> bool:
        return len(await store.current_files(ico)) == 1

    await wait_for(warm, what="the warm-up file")
    return hub, agent, _rss_mib(hub.process.pid)


async def _returns_to(hub, before: float) -> None:
    readings: list[float] = []

    async def gave_back() -> bool:
        readings.append(_rss_mib(hub.process.pid))
        return readings[-1] < before + 32

    await wait_for(gave_back, what=f"RSS back under {before + 32:.0f} MiB", timeout=30)


async def test_hub_gives_back_the_memory_of_oversized_deliveries(
    hub_config, make_agent, hub_processes, store_of, tmp_path, ico
):
    """Twenty-four deliveries just over the chunk limit are dead-lettered and their memory is given back."""
    hub, agent, before = await _hub(hub_config, make_agent, hub_processes, store_of, tmp_path, ico)
    body = os.urandom(names.MAX_CHUNK_SIZE + 16 * 1024)
    sha = hashlib.sha256(body).hexdigest()
    await asyncio.gather(
        *(agent.send_chunk(body, object_sha256=sha, index=index) for index in range(24))
    )

    async def rejected() -> bool:
        return sum(e.get("reason") == "oversized" for e in hub.events()) >= 24

    await wait_for(rejected, what="24 oversized deliveries dead-lettered", timeout=120)
    await _returns_to(hub, before)


async def test_hub_gives_back_the_memory_of_many_large_chunks(
    hub_config, make_agent, hub_processes, store_of, tmp_path, ico
):
    """After 48 chunks of 8 MiB (the largest a chunk may be) are stored, the hub's RSS returns near where it was."""
    hub, agent, before = await _hub(hub_config, make_agent, hub_processes, store_of, tmp_path, ico)
    chunks = [os.urandom(names.MAX_CHUNK_SIZE) for _ in range(48)]
    await asyncio.gather(
        *(
            agent.send_chunk(chunk, object_sha256=hashlib.sha256(b"x").hexdigest(), index=index)
            for index, chunk in enumerate(chunks)
        )
    )
    del chunks

    async def stored() -> bool:
        return len(list((hub_config.hub.data_path / "blobs").rglob("*.*"))) == 0 and (
            sum(1 for p in (hub_config.hub.data_path / "blobs").rglob("*") if p.is_file()) >= 48
        )

    await wait_for(stored, what="48 chunks stored", timeout=120)
    await _returns_to(hub, before)


async def test_broker_refuses_a_message_above_a_chunk(private_node):
    """A node configured from packaging/rabbitmq/spisync.conf refuses a 100 MB publish and takes a full 8 MiB chunk."""
    connection = await open_connection(private_node.url, name="spisync tests")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue("limits", durable=True)
        with pytest.raises(aiormq.exceptions.AMQPError, match="max size"):
            await channel.default_exchange.publish(
                aio_pika.Message(os.urandom(100 * _MIB)), routing_key="limits"
            )
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(
            aio_pika.Message(os.urandom(names.MAX_CHUNK_SIZE) + b"headroom"), routing_key="limits"
        )
        queue = await channel.get_queue("limits", ensure=False)
        message = await queue.get(no_ack=True)
        assert len(message.body) == names.MAX_CHUNK_SIZE + len(b"headroom")


def test_packaged_broker_limit_is_the_protocols():
    """packaging/rabbitmq/spisync.conf sets max_message_size to protocol.names.MAX_MESSAGE_BYTES."""
    settings = dict(
        line.split(" = ", 1)
        for line in SPISYNC_CONF.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    assert int(settings["max_message_size"]) == names.MAX_MESSAGE_BYTES
