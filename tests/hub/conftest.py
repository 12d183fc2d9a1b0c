"""Fixtures of the hub's tests: a hub config on the test vhost, simulated agents, S3, a running hub."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from moto.server import ThreadedMotoServer

from hub.config import HubConfig, StorageConfig
from hub.metrics import HubMetrics
from hub.provision import provision_agent
from hub.service import run
from hub.store import SqliteMetadataStore
from testkit.broker import free_port
from testkit.hub import Agent, make_hub_config
from testkit.waiting import wait_for
from tests.hub.hubkit import HubProcess, RunningHub, has_session, new_bucket

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from hub.closing import Closer
    from testkit.broker import SharedBroker


@pytest.fixture
def hub_config(shared_broker: SharedBroker, vhost: str, tmp_path: Path) -> HubConfig:
    """A hub config on this test's vhost with its own data folder."""
    return make_hub_config(shared_broker, vhost, tmp_path / "hub", batch_wait_s=0.02)


@pytest.fixture
async def make_agent(
    hub_config: HubConfig, tmp_path: Path
) -> AsyncIterator[Callable[[str], Awaitable[Agent]]]:
    """Provision an obec with `provision_agent` and return a connected simulated agent."""
    agents: list[Agent] = []

    async def make(ico: str, config: HubConfig | None = None) -> Agent:
        out = tmp_path / f"agent-{ico}.toml"
        await provision_agent(config or hub_config, ico=ico, name=f"Obec {ico}", out=out)
        provisioned = tomllib.loads(out.read_text())
        agent = Agent(
            ico=ico, url=provisioned["broker"]["url"], inbox=provisioned["agent"]["inbox"]
        )
        await agent.connect()
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.close()


@pytest.fixture
async def start_hub() -> AsyncIterator[Callable[..., Awaitable[RunningHub]]]:
    """Start `hub.service.run` in this process; stopped (drained) at the end of the test."""
    hubs: list[RunningHub] = []

    async def start(config: HubConfig, *, closer: Closer | None = None) -> RunningHub:
        metrics = HubMetrics()
        shutdown = asyncio.Event()
        task = asyncio.create_task(run(config, shutdown, metrics=metrics, closer=closer))
        hub = RunningHub(config=config, metrics=metrics, shutdown=shutdown, task=task)
        hubs.append(hub)
        await wait_for(lambda: has_session(hub), what="the hub to connect")
        return hub

    yield start
    for hub in hubs:
        if not hub.task.done():
            await hub.stop()


@pytest.fixture
async def store_of() -> AsyncIterator[Callable[[HubConfig], Awaitable[SqliteMetadataStore]]]:
    """Open (read side of) a hub's metadata store; closed at the end of the test."""
    stores: list[SqliteMetadataStore] = []

    async def open_store(config: HubConfig) -> SqliteMetadataStore:
        store = await SqliteMetadataStore.open(config.hub.data_path, instance="test")
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        await store.close()


@pytest.fixture
def hub_processes() -> Iterator[list[HubProcess]]:
    """Subprocess hubs started by the test; killed at its end if still running."""
    processes: list[HubProcess] = []
    yield processes
    for hub in processes:
        if hub.process.poll() is None:
            hub.kill()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 server (moto) on 127.0.0.1 for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
async def s3_storage(s3_endpoint: str) -> StorageConfig:
    """A fresh bucket on the S3 server, as the hub's `[storage]`."""
    return await new_bucket(s3_endpoint)
