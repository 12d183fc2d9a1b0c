"""Bad input: undecodable, unknown-kind, oversized and crashing messages never block an obec's queue."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

import hub.batcher
from protocol import names
from testkit.waiting import wait_for
from tests.hub.hubkit import dead_letters, registry_records


async def _collect_dead(shared_broker, vhost, count):
    found = []

    async def enough() -> bool:
        found.extend(await dead_letters(shared_broker, vhost))
        return len(found) >= count

    await wait_for(enough, what=f"{count} dead letter(s)")
    return found


async def _genuine_flows(agent, store, ico, spis_id):
    [spis, *_] = registry_records(agent, spis_id=spis_id, soubory=[])
    await agent.send(spis)

    async def applied() -> bool:
        return spis_id in [s.id for s in await store.spisy(ico)]

    await wait_for(applied, what="a genuine message after the bad ones")


async def test_undecodable_unknown_and_oversized_go_to_the_dead_letter_queue(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """Each bad message is dead-lettered with its own reason and the queue keeps flowing."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    await agent.publish_raw(b"{not json", kind="spis")
    await agent.publish_raw(b'{"kind": "spis", "message_id": "m"}', kind="spis")
    await agent.publish_raw(b'{"kind": "teleport", "message_id": "m"}', kind="teleport")
    await agent.publish_raw(b" " * (names.MAX_METADATA_BYTES + 1), kind="spis")
    big = b"x" * (names.MAX_CHUNK_SIZE + 1)
    await agent.send_chunk(big, object_sha256=hashlib.sha256(big).hexdigest(), index=0)
    await agent.publish_raw(b"\x00\x01", kind="chunk", headers={names.HEADER_KIND: "chunk"})
    dead = await _collect_dead(shared_broker, vhost, 6)
    reasons = sorted(m.headers[names.HEADER_REJECT_REASON] for m in dead)
    assert reasons == sorted(
        ["undecodable", "undecodable", "unknown_kind", "oversized", "oversized", "undecodable"]
    )
    assert all(m.headers[names.HEADER_REJECT_DETAIL] for m in dead)
    assert hub.metrics.security_events == 0
    store = await store_of(hub_config)
    await _genuine_flows(agent, store, ico, "AFTER")
    assert await store.processed_messages(ico) == 1


async def test_a_message_that_crashes_the_handler_hits_the_delivery_limit(
    shared_broker,
    vhost,
    hub_config,
    make_agent,
    start_hub,
    store_of,
    ico,
    monkeypatch: pytest.MonkeyPatch,
):
    """A delivery whose handler keeps failing is requeued until the broker dead-letters it; others still apply."""
    real_apply = hub.batcher.apply

    async def crashing_apply(ctx, item, **kwargs):
        if getattr(item.payload, "spis_id", None) == "CRASH":
            raise RuntimeError("handler bug")
        return await real_apply(ctx, item, **kwargs)

    monkeypatch.setattr(hub.batcher, "apply", crashing_apply)
    agent = await make_agent(ico)
    running = await start_hub(hub_config)
    [crash, *_] = registry_records(agent, spis_id="CRASH", soubory=[])
    [fine, *_] = registry_records(agent, spis_id="FINE", soubory=[])
    await agent.send(crash)
    await agent.send(fine)
    [dead] = await _collect_dead(shared_broker, vhost, 1)
    assert dead.headers["x-death"][0]["reason"] == "delivery_limit"
    assert running.metrics.deliveries_requeued >= names.DEFAULT_DELIVERY_LIMIT
    store = await store_of(hub_config)
    await _genuine_flows(agent, store, ico, "LATER")
    assert sorted(s.id for s in await store.spisy(ico)) == ["FINE", "LATER"]


async def test_deliveries_are_committed_in_batches(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Many waiting deliveries are committed in far fewer transactions than deliveries."""
    agent = await make_agent(ico)
    count = 120
    for i in range(count):
        [spis, *_] = registry_records(agent, spis_id=f"B{i}", soubory=[])
        await agent.send(spis)
    config = msgspec.structs.replace(
        hub_config,
        hub=msgspec.structs.replace(hub_config.hub, prefetch=200, batch_max=100, batch_wait_s=0.2),
    )
    running = await start_hub(config)
    store = await store_of(config)

    async def all_applied() -> bool:
        # Acknowledged a moment after their commit: wait for both.
        return (
            await store.processed_messages(ico) == count
            and running.metrics.deliveries_acked == count
        )

    await wait_for(all_applied, what="all deliveries committed and acknowledged")
    assert running.metrics.batches_committed <= count // 20
