"""An idle agent comes back by itself after a broker restart or a cut link, consumers included."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import structlog

from protocol import FileReceipt, Heartbeat, new_message_id, utc_now
from testkit.broker import SharedBroker
from testkit.proxy import TcpProxy
from testkit.waiting import wait_for


def _receipt(path: str, data: bytes) -> FileReceipt:
    return FileReceipt(
        message_id=new_message_id(),
        sender="hub:test",
        sent_at=utc_now(),
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        source_seq=1,
    )


def _heartbeats_since(reader, count: int) -> bool:
    return len(reader.of(Heartbeat)) > count


async def _idle(env, reader) -> None:
    """Wait until the agent has sent everything and is idle (outbox empty, heartbeats flowing)."""
    await env.eventually(lambda: env.outbox_depth() == 0 and len(reader.heartbeats) > 0)


async def test_idle_agent_reconnects_after_a_broker_restart(private_env, private_node):
    """With no file changing, the agent reconnects after a broker restart: heartbeats resume, its inbox is consumed, and a new file arrives."""
    folder = private_env.folder
    (folder / "before.txt").write_bytes(b"sent before the restart")
    await private_env.start()
    reader = await private_env.reader()
    await _idle(private_env, reader)
    await reader.close()

    await private_node.stop()
    await private_node.start()

    reader = await private_env.reader()
    # Heartbeats are sent beside the outbox: only a new session brings them back.
    await private_env.eventually(lambda: len(reader.heartbeats) > 0, timeout=60)
    await private_env.publish_to_agent(_receipt("before.txt", b"sent before the restart"))
    await private_env.eventually(
        lambda: hashlib.sha256(b"sent before the restart").hexdigest() in private_env.held()
    )
    (folder / "after.txt").write_bytes(b"written after the restart")
    await private_env.eventually(
        lambda: reader.current().get("after.txt") == b"written after the restart"
    )
    assert not reader.violations


async def test_idle_agent_reconnects_after_the_link_is_cut_and_warns_while_it_cannot(agent_env):
    """After a link cut the idle agent logs a warning with reason and fix for every failed attempt, counts it, and reconnects once the link is back."""
    proxy = TcpProxy.for_url(agent_env.agent_url)
    await proxy.start()
    try:
        agent_env.agent_url = proxy.url_for(agent_env.agent_url)
        reader = await agent_env.reader()
        await agent_env.start()
        await _idle(agent_env, reader)
        with structlog.testing.capture_logs() as logs:
            proxy.pause()
            assert proxy.cut() >= 1

            def failed_attempts() -> list[dict]:
                return [e for e in logs if e["event"] == "broker_connect_failed"]

            await agent_env.eventually(lambda: len(failed_attempts()) >= 2)
            beats = len(reader.heartbeats)
            await proxy.resume()
            await agent_env.eventually(lambda: _heartbeats_since(reader, beats))
        lost = [e for e in logs if e["event"] == "broker_connection_lost"]
        assert lost
        assert lost[0]["log_level"] == "warning"
        for event in failed_attempts():
            assert event["log_level"] == "warning"
            assert event["problem"] == "broker_unreachable"
            assert "Connect call failed" in event["reason"]
            assert "[broker] url" in event["fix"]
        counts = reader.heartbeats[-1].errors_by_kind
        assert counts.get("broker_unreachable", 0) >= 2
        assert counts.get("broker_connection_lost", 0) >= 1

        (agent_env.folder / "after-cut.txt").write_bytes(b"written after the cut")
        await agent_env.eventually(
            lambda: reader.current().get("after-cut.txt") == b"written after the cut"
        )
        assert not reader.violations
    finally:
        await proxy.close()


async def test_idle_agent_notices_a_silently_dropped_link_and_reconnects(agent_env):
    """A link that goes quiet without a reset (a NAT dropping it) is noticed by the AMQP heartbeat and the idle agent reconnects."""
    proxy = TcpProxy.for_url(agent_env.agent_url)
    await proxy.start()
    try:
        # A short heartbeat keeps the test short; production uses HEARTBEAT_S.
        agent_env.agent_url = proxy.url_for(agent_env.agent_url) + "?heartbeat=2"
        reader = await agent_env.reader()
        await agent_env.start()
        await _idle(agent_env, reader)
        assert proxy.cut(silent=True) >= 1
        beats = len(reader.heartbeats)
        await agent_env.eventually(lambda: _heartbeats_since(reader, beats), timeout=60)
        assert proxy.stats.accepted >= 2
        (agent_env.folder / "after-drop.txt").write_bytes(b"written after the drop")
        await agent_env.eventually(
            lambda: reader.current().get("after-drop.txt") == b"written after the drop"
        )
    finally:
        await proxy.close()


async def test_consumers_come_back_after_a_forced_close(agent_env, shared_broker: SharedBroker):
    """When the broker closes an idle agent's connection, the agent reconnects and consumes its inbox again."""
    (agent_env.folder / "a.txt").write_bytes(b"a")
    reader = await agent_env.reader()
    await agent_env.start()
    await _idle(agent_env, reader)
    api = shared_broker.management()
    closed: list[int] = []

    async def close_them() -> bool:
        # The management API lists a connection a few seconds after it opened.
        closed.append(await _close_agent_connections(api, agent_env.ico))
        return closed[-1] > 0

    await wait_for(close_them, what="the agent's connection in the management API")

    await agent_env.publish_to_agent(_receipt("a.txt", b"a"))
    await agent_env.eventually(lambda: hashlib.sha256(b"a").hexdigest() in agent_env.held())
    beats = len(reader.heartbeats)
    await agent_env.eventually(lambda: _heartbeats_since(reader, beats))


async def _close_agent_connections(api, ico: str) -> int:
    closed = 0
    for connection in await api.request("GET", "connections") or []:
        name = connection.get("client_properties", {}).get("connection_name", "")
        if name.startswith(f"spisync-agent {ico}"):
            await api.request("DELETE", f"connections/{quote(connection['name'], safe='')}")
            closed += 1
    return closed
