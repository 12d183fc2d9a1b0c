"""Diagnostics against a private broker node: results survive a broker restart; TLS certificate expiry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from hub.config import HubConfig, HubSection
from hub.diagnostics import submit, wait_for_outcome
from hub.store import open_metadata_store
from hub.tls import init_ca
from testkit.broker import NodeTls, PrivateNode
from testkit.waiting import wait_for
from tests.diag.diagkit import network_of
from tests.diag.test_verbs import WAIT_S, ask, ready

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.private_broker


async def test_a_result_survives_a_broker_restart(
    private_node: PrivateNode, tmp_path: Path, ico: str
) -> None:
    """An answer waiting in the hub's queue while the broker restarts is stored once the hub is back."""
    hub = HubConfig(
        hub=HubSection(orp="test", data_dir=str(tmp_path / "hub"), obce_poll_s=0.5),
        broker=private_node.broker_config(),
    )
    async with network_of(hub, tmp_path, ico) as net:
        await ready(net)
        await net.stop_hub()
        store = await open_metadata_store(net.hub, instance="test")
        try:
            row = await submit(net.hub, store, ico=ico, verb="status", operator="novakova")

            async def sent() -> bool:
                events = [e.event for e in net.journal() if e.request_id == row.id]
                return "done" in events and net.agent_outbox_depth() == 0

            await wait_for(sent, what="the agent's answer confirmed by the broker", timeout=WAIT_S)
            await private_node.stop()
            await private_node.start()
            await net.start_hub()
            done = await wait_for_outcome(store, row.id, WAIT_S)
        finally:
            await store.close()
        assert done is not None
        assert done.state == "done"
        assert done.data["agent_version"]


async def test_connectivity_reports_the_tls_certificate_expiry(tmp_path: Path, ico: str) -> None:
    """Over amqps with a client certificate, connectivity reports the broker certificate's expiry and a round trip."""
    data = tmp_path / "hub"
    authority = init_ca(data / "ca", "spisync test CA")
    server = authority.issue_server("127.0.0.1")
    (tmp_path / "server.crt").write_bytes(server.cert_pem)
    (tmp_path / "server.key").write_bytes(server.key_pem)
    node = PrivateNode(
        base=tmp_path / "node",
        tls=NodeTls(
            ca_file=data / "ca" / "ca.pem",
            cert_file=tmp_path / "server.crt",
            key_file=tmp_path / "server.key",
        ),
    )
    await node.start()
    try:
        hub = HubConfig(
            hub=HubSection(
                orp="tls",
                data_dir=str(data),
                obce_poll_s=0.5,
                agent_broker_url=f"amqps://127.0.0.1:{node.amqps_port}/",
            ),
            broker=node.broker_config(),
        )
        async with network_of(hub, tmp_path, ico, tls=True) as net:
            await ready(net)
            answer = await ask(net, "connectivity")
    finally:
        node.kill()
        node.remove()
    assert answer.state == "done", answer.error
    assert answer.data["tls"] is True
    assert answer.data["broker"]["ok"] is True
    certificate = answer.data["certificate"]
    assert certificate["ok"] is True, certificate
    assert certificate["days_left"] > 0
