"""Fixtures of the archive tests: an archive consumer on a fresh vhost and a hub double."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from archive.config import ArchiveConfig, ArchiveSection
from archive.service import run
from tests.archive.hub_double import HubDouble, Sip, build_sip

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from testkit.broker import SharedBroker


@pytest.fixture
def archive_config(shared_broker: SharedBroker, vhost: str, tmp_path: Path) -> ArchiveConfig:
    """An archive of the test's own: fresh vhost, data under tmp_path/archive."""
    return ArchiveConfig(
        archive=ArchiveSection(data_dir=str(tmp_path / "archive"), prefetch=8),
        broker=shared_broker.broker_config(vhost),
    )


@pytest.fixture
async def hub(shared_broker: SharedBroker, vhost: str) -> AsyncIterator[HubDouble]:
    """The test-side hub, connected to the test's vhost as guest."""
    double = HubDouble(shared_broker.url(vhost))
    await double.start()
    yield double
    await double.close()


async def wait_for_consumer(hub: HubDouble, timeout: float = 30) -> None:
    """Wait until `archive.inbox` has a consumer (the archive is up)."""
    assert hub.connection is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with hub.connection.channel() as channel:
            queue = await channel.declare_queue("archive.inbox", passive=True)
            assert queue.declaration_result is not None
            if queue.declaration_result.consumer_count >= 1:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError("the archive never consumed archive.inbox")


@pytest.fixture
async def archive(archive_config: ArchiveConfig, hub: HubDouble) -> AsyncIterator[ArchiveConfig]:
    """The archive consumer running in this event loop; stopped with its shutdown trigger."""
    shutdown = asyncio.Event()
    task = asyncio.create_task(run(archive_config, shutdown))
    await wait_for_consumer(hub)
    yield archive_config
    shutdown.set()
    await asyncio.wait_for(task, 10)


@pytest.fixture
def sip(tmp_path: Path, ico: str) -> Sip:
    """A valid SIP of obec `ico`, several chunks long."""
    return build_sip(tmp_path / "hub-out", ico)
