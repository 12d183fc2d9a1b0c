"""The archive consumer comes back by itself after its link to the broker is cut."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec
import structlog

from archive.service import run
from protocol import SipAccepted
from testkit.proxy import TcpProxy
from testkit.waiting import wait_for
from tests.archive.conftest import wait_for_consumer

if TYPE_CHECKING:
    from archive.config import ArchiveConfig
    from tests.archive.hub_double import HubDouble, Sip


async def test_idle_archive_consumes_again_after_the_link_is_cut(
    archive_config: ArchiveConfig, hub: HubDouble, sip: Sip
) -> None:
    """An idle archive whose link is cut and refused for a while reconnects by itself and then stores a SIP sent afterwards."""
    proxy = TcpProxy.for_url(archive_config.broker.url)
    await proxy.start()
    broker = msgspec.structs.replace(
        archive_config.broker, url=proxy.url_for(archive_config.broker.url)
    )
    config = msgspec.structs.replace(archive_config, broker=broker)
    shutdown = asyncio.Event()
    task = asyncio.create_task(run(config, shutdown))
    try:
        await wait_for_consumer(hub)
        with structlog.testing.capture_logs() as logs:
            proxy.pause()
            assert proxy.cut() == 1

            async def refused() -> bool:
                return any(e["event"] == "broker_connect_failed" for e in logs)

            await wait_for(refused, what="a refused reconnect attempt")
            await proxy.resume()

            async def reconnected() -> bool:
                return proxy.connections == 1

            await wait_for(reconnected, what="the archive's new connection")
        await wait_for_consumer(hub)
        await hub.send_sip(sip)
        reply = await hub.reply()
        assert isinstance(reply, SipAccepted), reply
        assert reply.sha256 == sip.sha256
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 10)
        await proxy.close()
