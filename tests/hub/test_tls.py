"""Town halls log in with client certificates (EXTERNAL) against a private TLS broker node."""

from __future__ import annotations

import asyncio
import datetime as dt
import tomllib
from typing import TYPE_CHECKING

import aio_pika
import aiormq
import msgspec
import pytest

from hub.config import HubConfig, HubSection
from hub.provision import ObecRecord, provision_agent, revoke_agent
from hub.tls import ca_dir, init_ca, load_ca
from protocol import names
from spisync.broker import open_connection
from spisync.cli import main
from spisync.config import BrokerConfig
from testkit.broker import NodeTls, PrivateNode
from testkit.hub import write_hub_toml

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

# What a refused TLS client sees: the broker's alert, a reset, or a closed handshake.
REFUSED = (aiormq.exceptions.AMQPConnectionError, ConnectionError, OSError, asyncio.TimeoutError)


@pytest.fixture
async def tls_hub(tmp_path: Path) -> AsyncIterator[tuple[HubConfig, PrivateNode]]:
    """A hub with its own CA and a private broker node that requires client certificates."""
    data = tmp_path / "hub"
    authority = init_ca(data / "ca", "spisync test CA")
    server = authority.issue_server("127.0.0.1")
    files = tmp_path / "broker-tls"
    files.mkdir()
    (files / "server.crt").write_bytes(server.cert_pem)
    (files / "server.key").write_bytes(server.key_pem)
    node = PrivateNode(
        base=tmp_path / "node",
        tls=NodeTls(
            ca_file=data / "ca" / "ca.pem",
            cert_file=files / "server.crt",
            key_file=files / "server.key",
        ),
    )
    await node.start()
    config = HubConfig(
        hub=HubSection(
            orp="tls",
            data_dir=str(data),
            agent_broker_url=f"amqps://127.0.0.1:{node.amqps_port}/",
        ),
        broker=node.broker_config(),
    )
    try:
        yield config, node
    finally:
        node.kill()
        node.remove()


async def provisioned(config: HubConfig, ico: str, folder: Path, **kwargs: bool) -> BrokerConfig:
    """Provision obec `ico` with --tls; return the broker config its AGENT.toml holds."""
    out = folder / f"{ico}.toml"
    await provision_agent(
        config, ico=ico, name=f"Obec {ico}", out=out, tls=True, tls_dir=str(folder), **kwargs
    )
    broker = tomllib.loads(out.read_text())["broker"]
    assert "password" not in broker["url"]
    return BrokerConfig(**broker)


async def publish(broker: BrokerConfig, routing_key: str, user_id: str) -> None:
    connection = await open_connection(broker, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(b"{}", user_id=user_id), routing_key=routing_key, mandatory=False
        )


async def test_certificates_log_in_and_the_wrong_ones_are_refused(
    tls_hub: tuple[HubConfig, PrivateNode], tmp_path: Path, ico: str, other_ico: str
) -> None:
    """A valid certificate connects; a foreign CA, an expired one, or another obec's for these keys does not."""
    config, _ = tls_hub
    agent = await provisioned(config, ico, tmp_path)
    other = await provisioned(config, other_ico, tmp_path)
    assert agent.username == config.hub.agent_username(ico)

    await publish(agent, names.ingest_routing_key(ico, "heartbeat"), agent.username)

    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await publish(other, names.ingest_routing_key(ico, "heartbeat"), other.username)
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        await publish(other, names.ingest_routing_key(other_ico, "heartbeat"), agent.username)

    foreign = init_ca(tmp_path / "foreign", "someone else's CA").issue_client(agent.username)
    (tmp_path / "foreign.crt").write_bytes(foreign.cert_pem)
    (tmp_path / "foreign.key").write_bytes(foreign.key_pem)
    with pytest.raises(REFUSED):
        await open_connection(
            BrokerConfig(
                url=agent.url,
                ca_file=agent.ca_file,
                cert_file=str(tmp_path / "foreign.crt"),
                key_file=str(tmp_path / "foreign.key"),
            ),
            name="foreign CA",
        )

    expired = load_ca(ca_dir(config)).issue_client(
        agent.username, days=1, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    )
    (tmp_path / "expired.crt").write_bytes(expired.cert_pem)
    (tmp_path / "expired.key").write_bytes(expired.key_pem)
    with pytest.raises(REFUSED):
        await open_connection(
            BrokerConfig(
                url=agent.url,
                ca_file=agent.ca_file,
                cert_file=str(tmp_path / "expired.crt"),
                key_file=str(tmp_path / "expired.key"),
            ),
            name="expired",
        )


async def test_rotation_overlaps_and_revocation_ends_the_connection(
    tls_hub: tuple[HubConfig, PrivateNode], tmp_path: Path, ico: str
) -> None:
    """A rotated certificate works beside the old one; revoking closes the connection and locks both out."""
    config, _ = tls_hub
    first = await provisioned(config, ico, tmp_path / "v1")
    running = await open_connection(first, name="spisync tests running agent")
    lost = asyncio.Event()
    running.close_callbacks.add(lambda *_: lost.set())

    second = await provisioned(config, ico, tmp_path / "v2")
    rotated = await provisioned(config, ico, tmp_path / "v1", rotate_cert=True)
    for broker in (second, rotated):
        connection = await open_connection(broker, name="spisync tests new certificate")
        await connection.close()
    assert not running.is_closed

    result = await revoke_agent(config, ico=ico)
    assert result.user_existed
    async with asyncio.timeout(30):
        await lost.wait()
    with pytest.raises((*REFUSED, aiormq.exceptions.ProbableAuthenticationError)):
        await open_connection(rotated, name="revoked agent")
    await running.close()


async def test_hub_check_warns_before_a_certificate_expires(
    tls_hub: tuple[HubConfig, PrivateNode],
    tmp_path: Path,
    ico: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`hub check` is fine with fresh certificates and names an obec whose certificate expires soon."""
    config, _ = tls_hub
    await provisioned(config, ico, tmp_path)
    hub_toml = write_hub_toml(config, tmp_path / "HUB.toml")
    assert await asyncio.to_thread(main, ["hub", "check", "--config", str(hub_toml)]) == 0
    assert "ok   client certificates: none of 1 expires" in capsys.readouterr().out

    record_path = config.hub.data_path / "obce" / f"{ico}.json"
    record = msgspec.json.decode(record_path.read_bytes(), type=ObecRecord)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    record_path.write_bytes(
        msgspec.json.encode(msgspec.structs.replace(record, cert_not_after=soon))
    )
    assert await asyncio.to_thread(main, ["hub", "check", "--config", str(hub_toml)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL certificate of obec {ico}: expires {soon:%Y-%m-%d}" in out
    assert "--tls" in out
