"""`spisync.dead` is bounded, refuses rather than drops when full, and the hub keeps going."""

from __future__ import annotations

from protocol import names
from spisync.broker import open_connection
from spisync.broker.topology import DEAD_LETTER_MAX_BYTES, DEAD_LETTER_MAX_LENGTH
from testkit.waiting import wait_for
from tests.hub.hubkit import registry_records


async def test_dead_letter_queue_is_declared_with_limits(
    shared_broker, vhost, hub_config, start_hub
):
    """The hub declares spisync.dead with a length and bytes limit and overflow reject-publish."""
    await start_hub(hub_config)
    queue = await shared_broker.management().queue(vhost, names.DEAD_LETTER_QUEUE)
    assert queue is not None
    arguments = queue["arguments"]
    assert arguments["x-max-length"] == DEAD_LETTER_MAX_LENGTH
    assert arguments["x-max-length-bytes"] == DEAD_LETTER_MAX_BYTES
    assert arguments["x-overflow"] == "reject-publish"


async def test_full_dead_letter_queue_keeps_the_oldest_and_the_hub_flowing(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """With spisync.dead full (here: an older, smaller one), further bad messages are logged and acked, and valid ones land."""
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(
            names.DEAD_LETTER_QUEUE,
            durable=True,
            arguments={"x-queue-type": "quorum", "x-max-length": 2, "x-overflow": "reject-publish"},
        )
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    for n in range(6):
        await agent.publish_raw(b"{not json %d" % n, kind="spis")

        async def settled(count: int = n + 1) -> bool:
            return hub.metrics.dead_lettered == count

        await wait_for(settled, what=f"bad message {n} settled")
    queue = await shared_broker.management().queue(vhost, names.DEAD_LETTER_QUEUE)
    assert queue is not None
    kept: list[bytes] = []
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel()
        dead = await channel.get_queue(names.DEAD_LETTER_QUEUE, ensure=False)
        while (message := await dead.get(no_ack=True, fail=False)) is not None:
            kept.append(message.body)
    # A quorum queue notices it is over its limit one message late.
    assert kept == [b"{not json %d" % n for n in range(len(kept))]
    assert 2 <= len(kept) <= 3
    store = await store_of(hub_config)
    [spis, *_] = registry_records(agent, spis_id="AFTER", soubory=[])
    await agent.send(spis)

    async def applied() -> bool:
        return "AFTER" in [s.id for s in await store.spisy(ico)]

    await wait_for(applied, what="a valid message after the dead-letter queue filled")
