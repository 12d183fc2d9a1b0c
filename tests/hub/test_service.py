"""The service: new obce without a restart, reconnects, and a drained shutdown."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from urllib.parse import quote

import msgspec
import structlog

from hub.config import HubConfig, HubSection
from hub.queue_names import queue_names
from protocol import Heartbeat
from spisync.broker import ManagementClient
from testkit.proxy import TcpProxy
from testkit.waiting import wait_for
from tests.hub.hubkit import registry_records


async def _applied(store, ico, spis_id):
    return spis_id in [s.id for s in await store.spisy(ico)]


async def test_newly_provisioned_obec_is_consumed_without_restart(
    hub_config, make_agent, start_hub, store_of, ico
):
    """An obec provisioned while the hub runs is picked up and its messages applied."""
    hub = await start_hub(hub_config)
    agent = await make_agent(ico)
    [spis, *_] = registry_records(agent, spis_id="NEW", soubory=[])
    await agent.send(spis)
    store = await store_of(hub_config)
    await wait_for(lambda: _applied(store, ico, "NEW"), what="the new obec's message")
    assert hub.metrics.sessions == 1


async def test_consumers_come_back_after_the_connection_is_lost(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """When the broker closes the hub's connection, the hub reconnects and consumes every obec again."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    api = shared_broker.management()

    async def hub_connections() -> list[dict]:
        connections = await api.request("GET", f"vhosts/{quote(vhost, safe='')}/connections") or []
        return [
            c
            for c in connections
            if c.get("client_properties", {}).get("connection_name", "").startswith("spisync-hub")
        ]

    async def connected() -> bool:
        return bool(await hub_connections())

    await wait_for(connected, what="the hub's connection in the management API")
    for connection in await hub_connections():
        await api.request("DELETE", f"connections/{quote(connection['name'], safe='')}")

    async def reconnected() -> bool:
        return hub.metrics.sessions >= 2

    await wait_for(reconnected, what="a new session")
    [spis, *_] = registry_records(agent, spis_id="AFTER-RECONNECT", soubory=[])
    await agent.send(spis)
    store = await store_of(hub_config)
    await wait_for(
        lambda: _applied(store, ico, "AFTER-RECONNECT"), what="a message after the reconnect"
    )


async def test_consumers_come_back_after_the_link_is_cut(
    hub_config, make_agent, start_hub, store_of, ico
):
    """When the hub's link to the broker is cut and refused for a while, the hub reconnects by itself and consumes again."""
    agent = await make_agent(ico)
    proxy = TcpProxy.for_url(hub_config.broker.url)
    await proxy.start()
    try:
        broker = msgspec.structs.replace(
            hub_config.broker, url=proxy.url_for(hub_config.broker.url)
        )
        config = msgspec.structs.replace(hub_config, broker=broker)
        hub = await start_hub(config)

        async def connected() -> bool:
            return hub.metrics.sessions >= 1 and proxy.connections >= 2

        await wait_for(connected, what="the hub's connections through the proxy")
        with structlog.testing.capture_logs() as logs:
            proxy.pause()
            proxy.cut()

            async def refused() -> bool:
                return any(e["event"] == "broker_connect_failed" for e in logs)

            await wait_for(refused, what="a refused reconnect attempt")
            await proxy.resume()

        async def reconnected() -> bool:
            return hub.metrics.sessions >= 2

        await wait_for(reconnected, what="a new session")
        [spis, *_] = registry_records(agent, spis_id="AFTER-CUT", soubory=[])
        await agent.send(spis)
        store = await store_of(hub_config)
        await wait_for(lambda: _applied(store, ico, "AFTER-CUT"), what="a message after the cut")
    finally:
        await proxy.close()


async def test_an_idle_hub_consumes_again_after_a_broker_restart(
    private_node, make_agent, start_hub, store_of, ico, tmp_path
):
    """With nothing to do, the hub notices a broker restart, reconnects by itself and applies what is sent afterwards."""
    config = HubConfig(
        hub=HubSection(
            orp="testorp", data_dir=str(tmp_path / "hub"), obce_poll_s=0.2, batch_wait_s=0.02
        ),
        broker=private_node.broker_config(),
    )
    api = ManagementClient(private_node.management_url, "guest", "guest")
    agent = await make_agent(ico, config)
    hub = await start_hub(config)

    async def consuming() -> bool:
        queue = await api.queue("/", queue_names(config).hub_queue(ico))
        return bool(queue) and queue.get("consumers", 0) >= 1

    await wait_for(consuming, timeout=60, what="the hub's consumer")
    await agent.close()
    await private_node.stop()
    await private_node.start()

    async def reconnected() -> bool:
        return hub.metrics.sessions >= 2

    await wait_for(reconnected, timeout=90, what="a new session after the restart")
    await agent.connect()
    [spis, *_] = registry_records(agent, spis_id="AFTER-RESTART", soubory=[])
    await agent.send(spis)
    store = await store_of(config)
    await wait_for(
        lambda: _applied(store, ico, "AFTER-RESTART"),
        timeout=60,
        what="a message after the restart",
    )


async def test_shutdown_drains_received_deliveries(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Setting the shutdown trigger returns from `run` with every received delivery committed and acked."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    for i in range(30):
        [spis, *_] = registry_records(agent, spis_id=f"D{i}", soubory=[])
        await agent.send(spis)

    async def some_acked() -> bool:
        return hub.metrics.deliveries_acked > 0

    await wait_for(some_acked, what="ingest to start")
    await hub.stop()
    store = await store_of(hub_config)
    # Everything acknowledged is committed; nothing committed was left unacknowledged.
    assert await store.processed_messages(ico) == hub.metrics.deliveries_acked


async def test_heartbeat_keeps_the_latest_report(hub_config, make_agent, start_hub, ico):
    """Heartbeats are stored per obec and an older one never replaces a newer one."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    fields = {
        "agent_version": "1.0",
        "uptime_s": 5.0,
        "oldest_pending_age_s": None,
        "last_scan_at": None,
        "last_scan_duration_s": None,
        "files_watched": 3,
        "free_disk_bytes": 10,
    }
    newer = Heartbeat(**agent.envelope(), outbox_depth=7, **fields)
    older = Heartbeat(
        **agent.envelope(sent_at=newer.sent_at - timedelta(minutes=1)), outbox_depth=1, **fields
    )
    await agent.send(newer)
    await agent.send(older)
    path = hub_config.hub.data_path / "hub.sqlite"

    def stored() -> list[tuple[str]]:
        if not path.exists():
            return []
        with sqlite3.connect(path, timeout=30) as db:
            return db.execute("SELECT heartbeat FROM heartbeats WHERE ico = ?", (ico,)).fetchall()

    async def both_acked() -> bool:
        return hub.metrics.deliveries_acked >= 2

    await wait_for(both_acked, what="both heartbeats")
    [(latest,)] = stored()
    assert '"outbox_depth":7' in latest
