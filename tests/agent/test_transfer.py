"""Chunked transfer, resume, and durability across broker restarts, kill -9 and SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import structlog

from agent.records import OutboxRow
from agent.state import State
from spisync.broker import declare_obec, open_connection
from testkit.proxy import TcpProxy


def _write_files(folder, count: int, size: int) -> None:
    for i in range(count):
        (folder / f"scan-{i:02}.pdf").write_bytes(os.urandom(size))


def _all_manifests_complete(reader) -> bool:
    return all(reader.reassemble(m) is not None for m in reader.manifests)


async def test_big_files_go_in_chunks_and_a_resumed_transfer_skips_confirmed_chunks(agent_env):
    """A stopped transfer resumes where it stopped: no confirmed chunk is sent twice."""
    folder = agent_env.folder
    data = os.urandom(40 * 1024 + 17)
    (folder / "big.bin").write_bytes(data)
    reader = await agent_env.reader()
    slow = await agent_env.start(agent_env.write_config(bandwidth_limit_bytes_per_s=8192))
    await agent_env.eventually(lambda: len(reader.chunk_deliveries) >= 10)
    await slow.shutdown()
    assert agent_env.outbox_depth() == 1
    assert not reader.manifests

    await agent_env.start(agent_env.write_config())
    await agent_env.eventually(lambda: reader.current().get("big.bin") == data)
    (manifest,) = reader.manifests
    assert len(manifest.chunk_sha256) == 41
    assert manifest.chunk_size == 1024
    deliveries = Counter(reader.chunk_deliveries)
    assert set(deliveries.values()) == {1}
    assert len(deliveries) == 41
    assert not reader.violations


async def test_outbox_survives_a_broker_restart_mid_transfer(private_env, private_node):
    """Stopping and restarting the broker mid-transfer loses, corrupts and mixes up nothing."""
    folder = private_env.folder
    _write_files(folder, 10, 8 * 1024)
    (folder / "empty.txt").write_bytes(b"")
    await private_env.start(private_env.write_config(bandwidth_limit_bytes_per_s=16 * 1024))

    async def queued() -> int:
        connection = await open_connection(private_node.url, name="spisync tests")
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(private_env.hub_queue, passive=True)
            return int(queue.declaration_result.message_count or 0)

    deadline = time.monotonic() + 30
    while await queued() < 8:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    await private_node.stop()
    (folder / "written-while-broker-down.txt").write_bytes(b"queued in the outbox meanwhile")
    await asyncio.sleep(1.0)
    assert private_env.outbox_depth() > 0
    await private_node.start()
    await private_env.eventually(lambda: private_env.outbox_depth() == 0, timeout=60)

    reader = await private_env.reader()
    await private_env.eventually(lambda: reader.matches(private_env.disk_files(folder)))
    assert _all_manifests_complete(reader)
    assert not reader.violations


async def test_kill_9_mid_transfer_then_restart_delivers_everything_byte_for_byte(agent_env):
    """Killing the agent process at any moment mid-transfer, twice, leaves no loss and no wrong state."""
    folder = agent_env.folder
    _write_files(folder, 12, 6 * 1024)
    reader = await agent_env.reader()
    slow = agent_env.write_config(bandwidth_limit_bytes_per_s=12 * 1024)
    for threshold in (15, 40):
        process = agent_env.spawn(slow)
        await agent_env.eventually(lambda t=threshold: len(reader.chunk_deliveries) >= t)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        (folder / f"after-kill-{threshold}.txt").write_bytes(
            f"written after kill {threshold}".encode()
        )
    assert agent_env.outbox_depth() > 0

    process = agent_env.spawn(agent_env.write_config())
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    assert _all_manifests_complete(reader)
    assert not reader.violations
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0


async def test_sigterm_mid_transfer_exits_within_10_s_and_the_next_start_continues(agent_env):
    """SIGTERM settles in-flight publishes and exits within 10 s; a new start finishes the job."""
    folder = agent_env.folder
    _write_files(folder, 4, 16 * 1024)
    reader = await agent_env.reader()
    process = agent_env.spawn(agent_env.write_config(bandwidth_limit_bytes_per_s=8192))
    await agent_env.eventually(lambda: len(reader.chunk_deliveries) >= 10)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, 15)
    assert time.monotonic() - started < 10
    assert code == 0
    assert agent_env.outbox_depth() > 0

    await agent_env.start(agent_env.write_config())
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    assert set(Counter(reader.chunk_deliveries).values()) == {1}
    assert not reader.violations


async def test_an_unroutable_message_stays_in_the_outbox_until_it_can_be_delivered(
    agent_env, shared_broker, vhost
):
    """A message the broker returns (no queue bound) is not counted as sent and is retried."""
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(agent_env.hub_queue)
    (agent_env.folder / "a.txt").write_bytes(b"must not be lost")
    with structlog.testing.capture_logs() as logs:
        await agent_env.start()
        await agent_env.eventually(
            lambda: any(
                e["event"] == "outbox_row_deferred" and "unroutable" in e["reason"] for e in logs
            )
        )
    assert agent_env.outbox_depth() == 1
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        token = agent_env.hub_queue.rsplit(".", 1)[1]
        await declare_obec(await connection.channel(), agent_env.ico, token)
    reader = await agent_env.reader()
    await agent_env.eventually(lambda: reader.current() == {"a.txt": b"must not be lost"})
    await agent_env.eventually(lambda: agent_env.outbox_depth() == 0)


async def test_a_row_confirmed_while_the_outbox_is_read_is_not_sent_again(agent_env, monkeypatch):
    """Rows confirmed while the outbox was being read are not sent a second time.

    The read may list them in flight and return after they were confirmed and
    deleted (a busy event loop, a slow disk).
    """
    chunk = 256 * 1024
    names_ = [f"scan-{i}.pdf" for i in range(4)]
    for i, name in enumerate(names_):
        (agent_env.folder / name).write_bytes(os.urandom(2 * chunk - i))
    reads: list[int] = []
    read_outbox = State.due_rows

    async def late_read(self: State, after_id: int, limit: int = 64) -> list[OutboxRow]:
        rows = await read_outbox(self, after_id, limit)
        reads.append(len(rows))
        if len(reads) == 2:  # every row was dispatched by now: these are in flight
            await agent_env.eventually(lambda: agent_env.outbox_depth() == 0)
        return rows

    monkeypatch.setattr(State, "due_rows", late_read)
    # A slow link: the rows are surely still in flight when the outbox is read again.
    proxy = TcpProxy.for_url(agent_env.agent_url, bandwidth_bytes_per_s=2_000_000)
    await proxy.start()
    state = await State.open(agent_env.state_dir / "state.sqlite")
    try:
        await agent_env.record_versions(state, names_, chunk)
        publisher = agent_env.publisher(state)
        connection = await open_connection(proxy.url_for(agent_env.agent_url), name="spisync tests")
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            stop = asyncio.Event()
            session = asyncio.create_task(publisher.session(channel, stop))
            await agent_env.eventually(lambda: len(reads) >= 3)
            stop.set()
            await session  # every publish confirmed: all of them are in the queue
        await publisher.close()
    finally:
        await state.close()
        await proxy.close()
    assert reads[1] > 0
    connection = await open_connection(agent_env.admin_url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(agent_env.hub_queue, passive=True)
        assert queue.declaration_result.message_count == len(names_) * 3  # 2 chunks + manifest
