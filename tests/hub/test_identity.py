"""Identity: the obec comes from the broker-validated user_id and the queue, never from the body."""

from __future__ import annotations

import aio_pika
import msgspec
import pytest
import structlog

from hub.queue_names import queue_names
from protocol import encode, names
from spisync.broker import open_connection
from testkit.waiting import wait_for
from tests.hub.hubkit import dead_letters, registry_records


async def _dead(shared_broker, vhost, count):
    found = []

    async def enough() -> bool:
        found.extend(await dead_letters(shared_broker, vhost))
        return len(found) >= count

    await wait_for(enough, what=f"{count} dead letter(s)")
    return found


def _reason(message):
    return message.headers[names.HEADER_REJECT_REASON]


async def _assert_nothing_changed_and_queue_flows(agent, store, ico):
    """Nothing of the forged message is stored, and a genuine message after it is applied."""
    assert await store.spisy(ico) == []
    assert await store.processed_messages(ico) == 0
    [genuine, *_] = registry_records(agent, spis_id="GENUINE", soubory=[])
    await agent.send(genuine)

    async def applied() -> bool:
        return [s.id for s in await store.spisy(ico)] == ["GENUINE"]

    await wait_for(applied, what="the genuine message after the forged one")


async def test_missing_user_id_is_dead_lettered_as_security_event(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A message without user_id (published by an admin) is dead-lettered with a reason and changes nothing."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    [spis, *_] = registry_records(agent, spis_id="FORGED", soubory=[])
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(encode(spis), headers={names.HEADER_KIND: "spis"}, delivery_mode=2),
            routing_key=names.ingest_routing_key(ico, "spis"),
            mandatory=True,
        )
    [dead] = await _dead(shared_broker, vhost, 1)
    assert _reason(dead) == "missing_user_id"
    assert dead.body == encode(spis)
    assert dead.headers["x-spisync-queue"] == queue_names(hub_config).hub_queue(ico)
    assert hub.metrics.security_events == 1
    await _assert_nothing_changed_and_queue_flows(agent, await store_of(hub_config), ico)


async def test_user_id_of_another_user_is_dead_lettered(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A message on obec A's queue whose user_id is not A's agent (an admin's own name) is refused."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    [spis, *_] = registry_records(agent, spis_id="FORGED", soubory=[])
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                encode(spis), headers={names.HEADER_KIND: "spis"}, user_id=shared_broker.username
            ),
            routing_key=names.ingest_routing_key(ico, "spis"),
            mandatory=True,
        )
    [dead] = await _dead(shared_broker, vhost, 1)
    assert _reason(dead) == "user_mismatch"
    await _assert_nothing_changed_and_queue_flows(agent, await store_of(hub_config), ico)


async def test_body_sender_disagreeing_with_user_is_dead_lettered(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """Obec A's agent sending a body that claims to come from obec B is refused and logged as a security event."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    [spis, *_] = registry_records(agent, spis_id="FORGED", soubory=[])
    forged = msgspec.structs.replace(spis, sender="00255319")
    with structlog.testing.capture_logs() as logs:
        await agent.send(forged)
        [dead] = await _dead(shared_broker, vhost, 1)
    [event] = [e for e in logs if e["event"] == "security_event"]
    assert (event["reason"], event["ico"], event["sender"]) == ("sender_mismatch", ico, "00255319")
    assert _reason(dead) == "sender_mismatch"
    assert "00255319" in dead.headers[names.HEADER_REJECT_DETAIL]
    assert hub.metrics.security_events == 1
    await _assert_nothing_changed_and_queue_flows(agent, await store_of(hub_config), ico)


async def test_routing_key_disagreeing_with_kind_is_dead_lettered(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A spis snapshot published under `obec.<ičo>.heartbeat` is refused: key and body must agree."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    [spis, *_] = registry_records(agent, spis_id="FORGED", soubory=[])
    await agent.publish_raw(
        encode(spis), kind="spis", routing_key=names.ingest_routing_key(ico, "heartbeat")
    )
    [dead] = await _dead(shared_broker, vhost, 1)
    assert _reason(dead) == "routing_key_mismatch"
    await _assert_nothing_changed_and_queue_flows(agent, await store_of(hub_config), ico)


async def test_broker_refuses_another_agents_user_id_and_routing_keys(hub_config, make_agent, ico):
    """An agent can neither set another agent's user_id nor publish another obec's routing keys."""
    other = "00255319" if ico != "00255319" else "00509001"
    agent = await make_agent(ico)
    await make_agent(other)
    [spis, *_] = registry_records(agent, spis_id="X", soubory=[])
    with pytest.raises(aio_pika.exceptions.AMQPError):
        await agent.send(spis, user_id=hub_config.hub.agent_username(other))
    await agent.connect()
    with pytest.raises(aio_pika.exceptions.AMQPError):
        await agent.publish_raw(
            encode(spis), kind="spis", routing_key=names.ingest_routing_key(other, "spis")
        )
