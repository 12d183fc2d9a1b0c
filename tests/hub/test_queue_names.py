"""Per-obec queue names other obce cannot guess, and the upgrade from the guessable ones."""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING

import aiormq
import pytest

from hub.provision import provision_agent
from hub.queue_names import KEY_FILE, QueueKeyError, queue_names
from protocol import names
from spisync.broker import open_connection
from spisync.broker.topology import quorum_arguments
from testkit.waiting import wait_for
from tests.hub.hubkit import registry_records

if TYPE_CHECKING:
    from pathlib import Path

    from aio_pika.abc import AbstractChannel


async def _exists(url: str, queue: str) -> bool:
    """Whether a passive declare of `queue` as the user of `url` finds it."""
    connection = await open_connection(url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(queue, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return False
        return True


async def test_an_agent_cannot_find_other_obce_queues_by_the_names_it_can_construct(
    hub_config, make_agent, ico, other_ico
):
    """A passive declare of another obec's (and its own) guessable queue names finds nothing; its own inbox is found."""
    await make_agent(other_ico)
    agent = await make_agent(ico)
    for guess in (
        names.legacy_hub_queue(other_ico),
        names.legacy_agent_queue(other_ico),
        names.legacy_hub_queue(ico),
        names.legacy_agent_queue(ico),
    ):
        assert not await _exists(agent.url, guess), guess
    assert await _exists(agent.url, agent.inbox)
    assert agent.inbox == queue_names(hub_config).agent_queue(ico)
    assert agent.inbox != queue_names(hub_config).agent_queue(other_ico)


def test_the_key_is_created_once_private_and_never_shown(hub_config):
    """The key file is created on first use with mode 0600, gives stable names, and repr hides it."""
    first = queue_names(hub_config)
    path = hub_config.hub.data_path / KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert queue_names(hub_config).hub_queue("00231401") == first.hub_queue("00231401")
    assert first.key.hex() not in repr(first)
    token = first.token("00231401")
    assert len(token) == names.QUEUE_TOKEN_LENGTH
    assert first.hub_queue("00231401") == f"hub.obec.00231401.{token}"


def test_a_damaged_key_is_one_clear_error(tmp_path, hub_config):
    """A key file that holds no key is refused naming the file and how to fix it."""
    data = hub_config.hub.data_path
    data.mkdir(parents=True, exist_ok=True)
    (data / KEY_FILE).write_text("not hex\n", encoding="ascii")
    with pytest.raises(QueueKeyError, match=r"queue-names\.key: not a queue-name key"):
        queue_names(hub_config)


async def test_provisioning_again_adds_the_inbox_to_an_old_agent_toml(
    hub_config, tmp_path: Path, ico
):
    """Re-provisioning an AGENT.toml without `inbox` adds that one line and keeps the operator's edits."""
    out = tmp_path / "AGENT.toml"
    await provision_agent(hub_config, ico=ico, name="Obec", out=out)
    old = "\n".join(
        line for line in out.read_text(encoding="utf-8").splitlines() if "inbox" not in line
    )
    old += '\n[[folders]]\npath = "/srv/spisovna"\n'
    out.write_text(old, encoding="utf-8")
    await provision_agent(hub_config, ico=ico, name="Obec", out=out)
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert data["agent"]["inbox"] == queue_names(hub_config).agent_queue(ico)
    assert data["folders"] == [{"path": "/srv/spisovna"}]
    assert data["agent"]["ico"] == ico


async def _legacy_hub_queue(channel: AbstractChannel, ico: str, new_queue: str) -> None:
    """Set up what an older hub left: `hub.obec.<ičo>` bound to the ingest exchange instead."""
    new = await channel.get_queue(new_queue, ensure=False)
    await new.unbind(names.INGEST_EXCHANGE, routing_key=names.ingest_binding(ico))
    legacy = await channel.declare_queue(
        names.legacy_hub_queue(ico),
        durable=True,
        arguments=quorum_arguments(single_active_consumer=True),
    )
    await legacy.bind(names.INGEST_EXCHANGE, routing_key=names.ingest_binding(ico))


async def test_the_hub_drains_the_old_guessable_queue_and_deletes_it(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """What waits in an old `hub.obec.<ičo>` is applied, new messages go to the new queue, and the old queue is deleted once empty."""
    agent = await make_agent(ico)
    legacy = names.legacy_hub_queue(ico)
    admin = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with admin:
        channel = await admin.channel()
        await _legacy_hub_queue(channel, ico, queue_names(hub_config).hub_queue(ico))
    [old, *_] = registry_records(agent, spis_id="OLD", soubory=[])
    await agent.send(old)
    hub = await start_hub(hub_config)
    store = await store_of(hub_config)

    async def applied(*wanted: str) -> bool:
        return sorted(s.id for s in await store.spisy(ico)) == sorted(wanted)

    await wait_for(lambda: applied("OLD"), what="the message from the old queue")
    [new, *_] = registry_records(agent, spis_id="NEW", soubory=[])
    await agent.send(new)
    await wait_for(lambda: applied("NEW", "OLD"), what="the message after the upgrade")
    assert await store.processed_messages(ico) == 2
    await hub.stop()
    await start_hub(hub_config)

    async def deleted() -> bool:
        return not await _exists(shared_broker.url(vhost), legacy)

    await wait_for(deleted, what="the empty old queue to be deleted")
