"""Fixtures of the console's tests: a real hub serving the console, two real agents, operators."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from agent.config import (
    AgentConfig,
    AgentSection,
    DiagnosticsConfig,
    FolderConfig,
    RegistryConfig,
)
from agent.service import run as run_agent
from hub.config import HubConfig
from hub.console.accounts import add_operator
from hub.console.config import ConsoleConfig
from hub.provision import provision_agent
from hub.service import run as run_hub
from hub.store import SqliteMetadataStore
from spisync.config import BrokerConfig
from testkit.broker import free_port
from testkit.hub import make_hub_config
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from testkit.broker import SharedBroker

SCHEMA = Path(__file__).resolve().parents[3] / "packaging" / "registry" / "schema.sql"

PASSWORDS = {
    "spravce": ("admin", "heslo-spravce-1"),
    "operator": ("operator", "heslo-operatora-1"),
    "ctenar": ("viewer", "heslo-ctenare-1"),
}
"""Operator accounts of every console test: name -> (role, password)."""

OBCE = {"Obec Lhota u Příbrami": 0, "Obec Vlkava": 1}


@dataclass
class RunningAgent:
    """A real agent service running in this process."""

    config: AgentConfig
    folder: Path
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def halt(self) -> None:
        self.stop.set()
        await self.task


@dataclass
class ConsoleNet:
    """A hub with its console and two agents, on this test's vhost."""

    hub: HubConfig
    url: str
    icos: list[str]
    agents: dict[str, RunningAgent] = field(default_factory=dict)
    hub_stop: asyncio.Event = field(default_factory=asyncio.Event)
    hub_task: asyncio.Task[None] | None = None


def console_config(**overrides: Any) -> ConsoleConfig:
    """A `[console]` on a free port with a short heartbeat warning (tests must not wait minutes)."""
    settings = {
        "listen": f"127.0.0.1:{free_port()}",
        # Short, so the test need not wait minutes; not so short that a loaded
        # machine's late heartbeat (sent every second) turns a running agent orange.
        "heartbeat_warning_s": 10.0,
        "heartbeat_error_s": 600.0,
        "refresh_s": 0.5,
    } | overrides
    return msgspec.convert(settings, ConsoleConfig)


async def add_operators(config: HubConfig) -> None:
    """Create the test's operator accounts in the hub's store."""
    store = await SqliteMetadataStore.open(config.hub.data_path, instance="test")
    try:
        for name, (role, password) in PASSWORDS.items():
            await add_operator(store, name, role, password)
    finally:
        await store.close()


async def start_agent(hub: HubConfig, tmp_path: Path, ico: str, name: str) -> RunningAgent:
    """Provision obec `ico` and run a real agent for it (heartbeat every second)."""
    out = tmp_path / f"AGENT-{ico}.toml"
    await provision_agent(hub, ico=ico, name=name, out=out)
    provisioned = tomllib.loads(out.read_text(encoding="utf-8"))
    url = provisioned["broker"]["url"]
    folder = tmp_path / f"dokumenty-{ico}"
    folder.mkdir()
    (folder / "zapis.txt").write_text(f"Zápis ze zastupitelstva obce {name}\n", encoding="utf-8")
    registry = tmp_path / f"essl-{ico}.sqlite"
    with sqlite3.connect(registry) as db:
        db.executescript(SCHEMA.read_text(encoding="utf-8"))
    config = AgentConfig(
        agent=AgentSection(
            ico=ico,
            name=name,
            state_dir=str(tmp_path / f"state-{ico}"),
            inbox=provisioned["agent"]["inbox"],
            quiet_window_s=0.2,
            heartbeat_interval_s=1,
        ),
        broker=BrokerConfig(url=url),
        folders=(FolderConfig(path=str(folder)),),
        registry=RegistryConfig(path=str(registry), poll_interval_s=0.5),
        diagnostics=DiagnosticsConfig(hub_user=hub.broker.username),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_agent(config, stop))
    return RunningAgent(config=config, folder=folder, stop=stop, task=task)


@pytest.fixture
async def console_net(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, other_ico: str
) -> AsyncIterator[ConsoleNet]:
    """A real hub serving the console, and two real agents whose rows are green."""
    hub = make_hub_config(shared_broker, vhost, tmp_path / "hub", batch_wait_s=0.02)
    hub = msgspec.structs.replace(hub, console=console_config())
    await add_operators(hub)
    net = ConsoleNet(hub=hub, url=hub.console.url if hub.console else "", icos=[ico, other_ico])
    for (name, _), obec in zip(OBCE.items(), net.icos, strict=True):
        net.agents[obec] = await start_agent(hub, tmp_path, obec, name)
    net.hub_task = asyncio.create_task(run_hub(hub, net.hub_stop))
    try:
        async with new_http() as http:
            client = ApiClient(http, net.url)

            async def both_green() -> bool:
                if net.hub_task is not None and net.hub_task.done():
                    net.hub_task.result()
                try:
                    if client.csrf is None:
                        await client.login("ctenar")
                    rows = (await client.get_json("/api/v1/obce"))["obce"]
                except aiohttp.ClientConnectionError:
                    return False  # the console is not listening yet
                return [r["status"] for r in rows] == ["ok", "ok"]

            await wait_for(both_green, timeout=90, what="both obce to turn green")
        yield net
    finally:
        for agent in net.agents.values():
            if not agent.task.done():
                await agent.halt()
        net.hub_stop.set()
        if net.hub_task is not None:
            await net.hub_task


def new_http() -> aiohttp.ClientSession:
    """An HTTP client that keeps cookies of 127.0.0.1 (aiohttp refuses IP hosts' cookies by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


class ApiClient:
    """An operator's browser session (cookies, CSRF token) or API token, via aiohttp."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.csrf: str | None = None
        self.headers: dict[str, str] = {}

    async def login(self, name: str) -> None:
        """Log in as `name` through the login form; remember the session's CSRF token."""
        async with self.http.get(f"{self.base}/login") as response:
            page = await response.text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        async with self.http.post(
            f"{self.base}/login",
            data={
                "name": name,
                "password": PASSWORDS[name][1],
                "csrf_token": token[1],
                "next": "/",
            },
        ) as response:
            page = await response.text()
            assert response.status == 200, page
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        assert meta is not None, page
        self.csrf = meta[1]

    async def get_json(self, path: str) -> Any:
        async with self.http.get(f"{self.base}{path}", headers=self.headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, *, csrf: bool = True, **data: str) -> aiohttp.ClientResponse:
        headers = dict(self.headers)
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        async with self.http.post(
            f"{self.base}{path}", data=data, headers=headers, allow_redirects=False
        ) as response:
            await response.read()
            return response
