"""One obec cannot fill the shared `spisync.dead`: each obec has its own budget of dead letters."""

from __future__ import annotations

import msgspec

from hub.deadletter import DeadLetterBudget
from testkit.waiting import wait_for
from tests.hub.hubkit import dead_letters


def test_each_obec_spends_its_own_budget_and_it_refills_over_the_hour():
    """An obec out of dead letters leaves another obec's untouched, and gets them back with time."""
    budget = DeadLetterBudget(per_hour=3)
    assert [budget.take("A", 0.0) for _ in range(4)] == [True, True, True, False]
    assert budget.take("B", 0.0)
    assert not budget.take("A", 600.0)  # a sixth of an hour: half a dead letter back
    assert budget.take("A", 1200.0)  # two sixths: one whole
    assert not budget.take("A", 1200.0)
    assert [budget.take("A", 10 * 3600.0) for _ in range(4)] == [True, True, True, False]


async def test_one_obecs_garbage_does_not_crowd_out_another_obecs_dead_letters(
    shared_broker, vhost, hub_config, make_agent, start_hub, ico, other_ico
):
    """Past its budget an obec's refused messages are only logged; another obec's still reach spisync.dead."""
    limits = msgspec.structs.replace(hub_config.limits, dead_letters_per_hour=5)
    config = msgspec.structs.replace(hub_config, limits=limits)
    attacker = await make_agent(ico)
    other = await make_agent(other_ico)
    hub = await start_hub(config)
    for _ in range(20):
        await attacker.publish_raw(b"{not json", kind="spis")

    async def attacker_refused() -> bool:
        return hub.metrics.dead_lettered + hub.metrics.dead_letters_over_budget == 20

    await wait_for(attacker_refused, what="all 20 garbage messages refused")
    await other.publish_raw(b"{not json either", kind="spis")

    found: list = []

    async def others_arrived() -> bool:
        found.extend(await dead_letters(shared_broker, vhost))
        return any(other_ico in (m.routing_key or "") for m in found)

    await wait_for(others_arrived, what="the other obec's dead letter")
    by_obec = [m for m in found if ico in (m.routing_key or "")]
    assert len(by_obec) == 5
    assert hub.metrics.dead_letters_over_budget == 15
