"""The real hub and the real agent, each startable and stoppable on its own, for diagnostics tests."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from agent.config import load_agent_config
from agent.service import run as run_agent
from hub.config import HubConfig, HubSection
from hub.provision import provision_agent
from hub.service import run as run_hub
from protocol import Heartbeat
from spisync.backoff import Backoff
from spisync.broker import ReconnectPolicy
from spisync.config import BrokerConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from testkit.broker import SharedBroker

QUICK_RECONNECT = ReconnectPolicy(backoff=Backoff(base_s=0.2, cap_s=1.0))
SCHEMA = Path(__file__).resolve().parents[2] / "packaging" / "registry" / "schema.sql"


@dataclass
class _Running:
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=30)


@dataclass
class DiagNetwork:
    """One hub and one agent on a test vhost; `AGENT.toml` and `HUB.toml` are real files."""

    hub: HubConfig
    agent_toml: Path
    folder: Path
    registry: Path
    base: Path
    hub_run: _Running | None = None
    agent_run: _Running | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ico(self) -> str:
        return load_agent_config(self.agent_toml).agent.ico

    async def start_hub(self) -> None:
        stop = asyncio.Event()
        self.hub_run = _Running(stop, asyncio.create_task(run_hub(self.hub, stop)))

    async def stop_hub(self) -> None:
        if self.hub_run is not None:
            await self.hub_run.halt()
            self.hub_run = None

    async def start_agent(self) -> None:
        stop = asyncio.Event()
        config = load_agent_config(self.agent_toml)
        task = asyncio.create_task(run_agent(config, stop, reconnect=QUICK_RECONNECT))
        self.agent_run = _Running(stop, task)

    async def stop_agent(self) -> None:
        if self.agent_run is not None:
            await self.agent_run.halt()
            self.agent_run = None

    def heartbeat(self) -> Heartbeat | None:
        """The latest heartbeat the hub keeps for the obec, read from its database file."""
        path = self.hub.hub.data_path / "hub.sqlite"
        if not path.exists():
            return None
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            try:
                row = db.execute(
                    "SELECT heartbeat FROM heartbeats WHERE ico = ?", (self.ico,)
                ).fetchone()
            except sqlite3.OperationalError:
                return None
        return None if row is None else msgspec.json.decode(row[0], type=Heartbeat)

    def _hub_rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        path = self.hub.hub.data_path / "hub.sqlite"
        if not path.exists():
            return []
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.OperationalError:
                return []

    async def hub_files(self, *, deleted: bool = False) -> int:
        """How many current files (or tombstones) the hub holds for the obec."""
        rows = self._hub_rows(
            "SELECT count(*) FROM files WHERE ico = ? AND deleted = ?", self.ico, int(deleted)
        )
        return int(rows[0][0]) if rows else 0

    def journal(self) -> list[Any]:
        """The agent's diagnostics journal entries."""
        from agent.diagnostics.journal import Journal  # noqa: PLC0415 - test helper

        return Journal(self.base / "state" / "diagnostics").read()

    def agent_outbox_depth(self) -> int:
        path = self.base / "state" / "state.sqlite"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def registry_sql(self, sql: str, *args: object) -> None:
        with sqlite3.connect(self.registry, isolation_level=None) as db:
            db.execute(sql, args)


def _agent_toml(
    provisioned: str,
    folder: Path,
    registry: Path,
    state: Path,
    extra: str,
    agent_section: str,
    diagnostics: str,
) -> str:
    text = provisioned.replace('state_dir = "/var/lib/spisync-agent"', f'state_dir = "{state}"')
    text = text.replace("[diagnostics]\n", f"[diagnostics]\n{diagnostics}", 1)
    text = text.replace(
        "[broker]",
        f"quiet_window_s = 0.2\nheartbeat_interval_s = 0.5\n{agent_section}\n[broker]",
        1,
    )
    return (
        f'{text}\n[[folders]]\npath = "{folder}"\n\n'
        f'[registry]\npath = "{registry}"\npoll_interval_s = 0.2\n\n{extra}'
    )


@contextlib.asynccontextmanager
async def diag_network(
    shared_broker: SharedBroker,
    vhost: str,
    tmp_path: Path,
    ico: str,
    *,
    agent_extra: str = "",
    agent_section: str = "chunk_size = 4096\n",
    diagnostics: str = "",
    start: bool = True,
) -> AsyncIterator[DiagNetwork]:
    """Provision obec `ico`, write its AGENT.toml, and (by default) start hub and agent."""
    broker = BrokerConfig(url=shared_broker.url(vhost), management_url=shared_broker.management_url)
    hub = HubConfig(
        hub=HubSection(orp="test", data_dir=str(tmp_path / "hub"), obce_poll_s=0.5), broker=broker
    )
    async with network_of(
        hub,
        tmp_path,
        ico,
        agent_extra=agent_extra,
        agent_section=agent_section,
        diagnostics=diagnostics,
        start=start,
    ) as net:
        yield net


@contextlib.asynccontextmanager
async def network_of(
    hub: HubConfig,
    tmp_path: Path,
    ico: str,
    *,
    agent_extra: str = "",
    agent_section: str = "chunk_size = 4096\n",
    diagnostics: str = "",
    start: bool = True,
    tls: bool = False,
) -> AsyncIterator[DiagNetwork]:
    """Like `diag_network`, for any hub configuration (a private node, TLS)."""
    provisioned = tmp_path / "provisioned.toml"
    await provision_agent(
        hub, ico=ico, name="Obec Zkušební", out=provisioned, tls=tls, tls_dir=str(tmp_path)
    )
    folder = tmp_path / "dokumenty"
    folder.mkdir()
    registry = tmp_path / "essl.sqlite"
    with sqlite3.connect(registry) as db:
        db.executescript(SCHEMA.read_text())
    agent_toml = tmp_path / "AGENT.toml"
    agent_toml.write_text(
        _agent_toml(
            provisioned.read_text(),
            folder,
            registry,
            tmp_path / "state",
            agent_extra,
            agent_section,
            diagnostics,
        ),
        encoding="utf-8",
    )
    net = DiagNetwork(
        hub=hub, agent_toml=agent_toml, folder=folder, registry=registry, base=tmp_path
    )
    if start:
        await net.start_hub()
        await net.start_agent()
    try:
        yield net
    finally:
        await net.stop_agent()
        await net.stop_hub()
