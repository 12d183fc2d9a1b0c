"""Provisioning an obec, and what the broker then lets its agent do (against a real broker)."""

from __future__ import annotations

import asyncio
import tomllib
from typing import TYPE_CHECKING

import aio_pika
import aiormq
import pytest

from hub.config import HubConfig, HubSection
from hub.provision import ProvisionError, load_obce, provision_agent, revoke_agent
from hub.queue_names import QueueNames, queue_names
from protocol import InvalidIcoError, names
from spisync.broker import open_connection
from spisync.config import BrokerConfig

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.broker import SharedBroker


def hub_config(shared_broker: SharedBroker, vhost: str, data_dir: Path) -> HubConfig:
    return HubConfig(
        hub=HubSection(orp="test", data_dir=str(data_dir)),
        broker=BrokerConfig(
            url=shared_broker.url(vhost), management_url=shared_broker.management_url
        ),
    )


def obec_queues(shared_broker: SharedBroker, vhost: str, tmp_path: Path) -> QueueNames:
    """The queue names of the deployment `provisioned` sets up under `tmp_path`."""
    return queue_names(hub_config(shared_broker, vhost, tmp_path / "hub"))


def agent_user(ico: str) -> str:
    """The broker user of obec `ico` in the deployment `hub_config` describes."""
    return names.agent_username(ico, prefix=names.default_user_prefix("test"))


def agent_url(path: Path) -> str:
    return str(tomllib.loads(path.read_text())["broker"]["url"])


async def provisioned(shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str) -> str:
    await provision_agent(
        hub_config(shared_broker, vhost, tmp_path / "hub"),
        ico=ico,
        name="Obec Testov",
        out=tmp_path / f"{ico}.toml",
    )
    return agent_url(tmp_path / f"{ico}.toml")


async def publish_confirmed(url: str, exchange: str, routing_key: str, **props: object) -> None:
    connection = await open_connection(url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        target = await channel.get_exchange(exchange, ensure=False)
        await target.publish(
            aio_pika.Message(b"{}", **props), routing_key=routing_key, mandatory=False
        )  # type: ignore[arg-type]


async def test_provisioning_creates_user_queues_and_config(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """The agent config holds ico, name and a working URL; the obec's queues are quorum with SAC, DLX and a delivery limit."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    config = tomllib.loads((tmp_path / f"{ico}.toml").read_text())
    assert config["agent"] == {
        "ico": ico,
        "name": "Obec Testov",
        "state_dir": "/var/lib/spisync-agent",
        "inbox": obec_queues(shared_broker, vhost, tmp_path).agent_queue(ico),
    }
    assert f"{agent_user(ico)}:" in url
    assert (tmp_path / f"{ico}.toml").stat().st_mode & 0o777 == 0o600
    hub_queue = await shared_broker.management().queue(
        vhost, obec_queues(shared_broker, vhost, tmp_path).hub_queue(ico)
    )
    assert hub_queue is not None
    assert hub_queue["arguments"] == {
        "x-queue-type": "quorum",
        "x-single-active-consumer": True,
        "x-dead-letter-exchange": names.DEAD_LETTER_EXCHANGE,
        "x-delivery-limit": names.DEFAULT_DELIVERY_LIMIT,
    }
    inbox = await shared_broker.management().queue(
        vhost, obec_queues(shared_broker, vhost, tmp_path).agent_queue(ico)
    )
    assert inbox is not None
    assert inbox["arguments"]["x-queue-type"] == "quorum"
    assert ico in load_obce(hub_config(shared_broker, vhost, tmp_path / "hub"))


async def test_agent_publishes_its_own_keys_with_its_user_id(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """An agent may publish `obec.<own ičo>.*` with its own user_id, and it lands on its hub queue."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    await publish_confirmed(
        url,
        names.INGEST_EXCHANGE,
        names.ingest_routing_key(ico, "heartbeat"),
        user_id=agent_user(ico),
    )
    admin = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with admin:
        channel = await admin.channel()
        queue = await channel.get_queue(
            obec_queues(shared_broker, vhost, tmp_path).hub_queue(ico), ensure=False
        )
        # basic.get is not allowed on a single-active-consumer quorum queue: consume.
        async with asyncio.timeout(10), queue.iterator() as messages:
            async for message in messages:
                assert message.user_id == agent_user(ico)
                await message.ack()
                break


async def test_agent_cannot_publish_another_obecs_routing_key(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, other_ico: str
) -> None:
    """The topic permission refuses a routing key of another IČO (ACCESS_REFUSED)."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    other = other_ico
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish_confirmed(
            url,
            names.INGEST_EXCHANGE,
            names.ingest_routing_key(other, "file_version"),
            user_id=agent_user(ico),
        )


async def test_agent_cannot_publish_to_other_exchanges(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """Write permission covers only spisync.ingest: the agent exchange and the default exchange are refused."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish_confirmed(
            url, names.AGENT_EXCHANGE, names.agent_routing_key(ico, "file_receipt")
        )
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish_confirmed(url, "", obec_queues(shared_broker, vhost, tmp_path).hub_queue(ico))


async def test_forged_user_id_is_refused_by_the_broker(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, other_ico: str
) -> None:
    """A message whose user_id names another user is refused by the broker itself (PRECONDITION_FAILED)."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        await publish_confirmed(
            url,
            names.INGEST_EXCHANGE,
            names.ingest_routing_key(ico, "heartbeat"),
            user_id=agent_user(other_ico),
        )


async def test_agent_reads_only_its_own_inbox(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, other_ico: str
) -> None:
    """The agent may consume its own inbox but not another obec's inbox nor a hub queue."""
    other = other_ico
    await provisioned(shared_broker, vhost, tmp_path, other)
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    connection = await open_connection(url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        own = await channel.get_queue(
            obec_queues(shared_broker, vhost, tmp_path).agent_queue(ico), ensure=False
        )
        assert await own.get(fail=False) is None
        foreign = await channel.get_queue(
            obec_queues(shared_broker, vhost, tmp_path).agent_queue(other), ensure=False
        )
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await foreign.get(fail=False)
    connection = await open_connection(url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        hub_queue = await channel.get_queue(
            obec_queues(shared_broker, vhost, tmp_path).hub_queue(ico), ensure=False
        )
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await hub_queue.get(fail=False)


async def test_agent_cannot_declare_anything(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """With an empty configure permission the agent cannot declare queues or exchanges, even its own names."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    for declare in (
        lambda ch: ch.declare_queue(
            obec_queues(shared_broker, vhost, tmp_path).agent_queue(ico),
            durable=True,
            arguments={"x-queue-type": "quorum"},
        ),
        lambda ch: ch.declare_queue(exclusive=True),
        lambda ch: ch.declare_exchange("mine", aio_pika.ExchangeType.FANOUT),
    ):
        connection = await open_connection(url, name="spisync tests")
        async with connection:
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
                await declare(channel)


async def test_provisioning_again_rotates_nothing(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A second run for the same IČO keeps the password and the file; the old URL still logs in."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    before = (tmp_path / f"{ico}.toml").read_bytes()
    result = await provision_agent(
        hub_config(shared_broker, vhost, tmp_path / "hub"),
        ico=ico,
        name="Obec Testov",
        out=tmp_path / f"{ico}.toml",
    )
    assert not result.created_user
    assert not result.rotated_password
    assert (tmp_path / f"{ico}.toml").read_bytes() == before
    connection = await open_connection(url, name="spisync tests")
    await connection.close()


async def test_rotate_password_invalidates_the_old_one(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """--rotate-password issues a new password: the new URL logs in, the old one no longer does."""
    old_url = await provisioned(shared_broker, vhost, tmp_path, ico)
    result = await provision_agent(
        hub_config(shared_broker, vhost, tmp_path / "hub"),
        ico=ico,
        name="Obec Testov",
        out=tmp_path / f"{ico}.toml",
        rotate_password=True,
    )
    assert result.rotated_password
    new_url = agent_url(tmp_path / f"{ico}.toml")
    assert new_url != old_url
    connection = await open_connection(new_url, name="spisync tests")
    await connection.close()
    with pytest.raises(aiormq.exceptions.ProbableAuthenticationError):
        await open_connection(old_url, name="old password")


async def test_existing_user_without_its_config_needs_rotation(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """If the user exists but the given --out file does not hold its password, provisioning says to rotate."""
    await provisioned(shared_broker, vhost, tmp_path, ico)
    with pytest.raises(ProvisionError, match="--rotate-password"):
        await provision_agent(
            hub_config(shared_broker, vhost, tmp_path / "hub"),
            ico=ico,
            name="Obec Testov",
            out=tmp_path / "elsewhere.toml",
        )


async def test_invalid_ico_is_refused_naming_it(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path
) -> None:
    """An IČO with a wrong check digit creates nothing and the error names it."""
    with pytest.raises(InvalidIcoError, match="'00255318'"):
        await provision_agent(
            hub_config(shared_broker, vhost, tmp_path / "hub"),
            ico="00255318",
            name="X",
            out=tmp_path / "x.toml",
        )
    assert await shared_broker.management().get_user(agent_user("00255318")) is None
    assert not (tmp_path / "x.toml").exists()


async def test_revoke_deletes_user_and_closes_connections(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """--revoke removes the broker user and closes the agent's open connection; its queues stay."""
    url = await provisioned(shared_broker, vhost, tmp_path, ico)
    connection = await open_connection(url, name="spisync tests")
    lost = asyncio.Event()
    connection.close_callbacks.add(lambda *_: lost.set())
    api = shared_broker.management()
    for _ in range(100):  # the management API lists a new connection only after a stats tick
        listed = await api.request("GET", "connections") or []
        if any(c.get("user") == agent_user(ico) for c in listed):
            break
        await asyncio.sleep(0.1)
    result = await revoke_agent(hub_config(shared_broker, vhost, tmp_path / "hub"), ico=ico)
    async with asyncio.timeout(10):
        await lost.wait()
    assert result.user_existed
    assert len(result.closed) == 1
    assert "spisync tests" in result.closed[0]
    assert result.still_open == ()
    assert await api.get_user(agent_user(ico)) is None
    assert (
        await api.queue(vhost, obec_queues(shared_broker, vhost, tmp_path).hub_queue(ico))
        is not None
    )
    assert load_obce(hub_config(shared_broker, vhost, tmp_path / "hub"))[ico].revoked
    with pytest.raises(aiormq.exceptions.ProbableAuthenticationError):
        await open_connection(url, name="revoked agent")
    await (
        connection.close()
    )  # the broker closed it; closing our side too leaves nothing for __del__
