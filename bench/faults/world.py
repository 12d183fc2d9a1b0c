"""What every fault scenario stands on: a private broker node, real processes, the hub's view.

The node is the run's own (`testkit.broker.PrivateNode`), so scenarios may stop,
restart and cut it; each scenario gets a fresh vhost there and its own temp dir
(`bench.env.Bench`). Agents, hubs and archives run as `spisync <role> run`
processes, so `kill -9` is a real kill. The hub's holdings are read from its own
SQLite database and blob store, beside the running hub.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from bench.env import Bench, Service, wait_until
from hub.content import open_content
from hub.store import open_blob_store, open_metadata_store
from protocol import names
from spisync.broker import open_connection
from testkit.broker import PrivateNode, SharedBroker
from testkit.proxy import TcpProxy

if TYPE_CHECKING:
    import random
    from collections.abc import AsyncIterator

__all__ = [
    "FaultWorld",
    "Outcome",
    "Scenario",
    "Town",
    "applied_twice",
    "hub_contents",
    "log_count",
    "settle",
]

# Small chunks so that a few hundred KiB are many messages: a kill lands mid-file.
CHUNK_SIZE = 16 * 1024


@dataclass
class Outcome:
    """One scenario's result: the row of the fault matrix.

    Attributes:
        name: The scenario's name.
        faults: How many faults were injected (kills, restarts, cuts, messages).
        expected: Files the office wrote that must be at the hub.
        identical: Of those, current at the hub with byte-identical content.
        lost: Expected files missing or different at the hub.
        applied_twice: Versions recorded again for the same path and content in a
            row (a redelivery taken as a new version), or packages stored twice.
        recover_s: Time from the (last) fault's end until everything was back,
            seconds; the largest over rounds.
        status: `ok`, or `failed` with `error` saying why.
    """

    name: str
    faults: int = 0
    expected: int = 0
    identical: int = 0
    lost: int = 0
    applied_twice: int = 0
    recover_s: float = 0.0
    status: str = "ok"
    error: str = ""
    notes: list[str] = field(default_factory=list)

    def recovered(self, seconds: float) -> None:
        """Keep the largest recovery time seen."""
        self.recover_s = max(self.recover_s, round(seconds, 2))


@dataclass
class Scenario:
    """How big a scenario runs: rounds of faults and the run's random source."""

    rng: random.Random
    rounds: int
    fuzz_messages: int
    timeout_s: float


class Town:
    """One obec: its provisioned agent, its folder, and what its office wrote.

    Attributes:
        ico: The obec's IČO.
        url: Its agent's own AMQP URL (through the proxy when there is one).
        folder: The watched document folder.
        expected: Path -> bytes the office last wrote there.
    """

    def __init__(self, env: Bench, ico: str, url: str, proxy: TcpProxy | None) -> None:
        self.env = env
        self.ico = ico
        self.url = url
        self.proxy = proxy
        self.folder = env.base / "dokumenty" / ico
        self.folder.mkdir(parents=True, exist_ok=True)
        self.expected: dict[str, bytes] = {}
        self.agent: Service | None = None
        self.config: Path | None = None
        self._written = 0

    def configure(self, *, registry: Path | None = None, **agent: Any) -> Path:
        """Write the agent's config: quick windows, small chunks, resend after 20 s."""
        settings: dict[str, Any] = {
            "chunk_size": CHUNK_SIZE,
            "quiet_window_s": 0.2,
            "heartbeat_interval_s": 2,
            "receipt_timeout_s": 20,
            "log_level": "info",
        } | agent
        self.config = self.env.write_agent_config(
            self.ico, self.url, folder=self.folder, registry=registry, **settings
        )
        return self.config

    def start_agent(self) -> Service:
        """Start (or start again) `spisync agent run`."""
        if self.config is None:
            self.configure()
        assert self.config is not None
        self.agent = self.env.start_agent(self.config, name=f"agent-{self.ico}")
        return self.agent

    def write(self, rng: random.Random, count: int, *, max_size: int = 200_000) -> None:
        """Write `count` new files and change one earlier file (its new content expected)."""
        for _ in range(count):
            self._written += 1
            relative = f"spis-{self._written // 20:03}/sken-{self._written:05}.pdf"
            self._put(relative, rng.randbytes(rng.randrange(1, max_size)))
        if self.expected and rng.random() < 0.5:
            relative = rng.choice(sorted(self.expected))
            self._put(relative, rng.randbytes(rng.randrange(1, max_size)))

    def _put(self, relative: str, data: bytes) -> None:
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: the office's save is one event, never a half file.
        partial = path.with_name(f".~{path.name}")
        partial.write_bytes(data)
        partial.rename(path)
        self.expected[relative] = data


class FaultWorld:
    """The run's private broker node, and per scenario a fresh vhost and temp dir."""

    def __init__(self, node: PrivateNode) -> None:
        self.node = node
        self.broker = SharedBroker(
            amqp_base=f"amqp://guest:guest@127.0.0.1:{node.amqp_port}",
            management_url=node.management_url,
            username="guest",
            password="guest",
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls) -> AsyncIterator[FaultWorld]:
        """Start a private node for the run; stop and delete it afterwards."""
        node = PrivateNode(Path(tempfile.mkdtemp(prefix="spisync-faults-node-")))
        try:
            await node.start()
            yield cls(node)
        finally:
            node.kill()
            node.remove()

    async def restart_node(self) -> float:
        """Stop the node cleanly and start it again; return how long it was away."""
        started = time.monotonic()
        await self.node.stop()
        await self.node.start()
        return time.monotonic() - started

    @contextlib.asynccontextmanager
    async def scenario(self, outcome: Outcome) -> AsyncIterator[Bench]:
        """A fresh vhost and temp dir on the private node for the scenario of `outcome`.

        On the way out its dead letters are noted; when it failed, the services'
        logs are kept in a temp dir the outcome names.
        """
        async with Bench.create(self.broker, f"faults-{outcome.name}") as env:
            try:
                yield env
            except BaseException:
                kept = Path(tempfile.mkdtemp(prefix=f"spisync-faults-logs-{outcome.name}-"))
                shutil.copytree(env.base / "logs", kept / "logs", dirs_exist_ok=True)
                outcome.notes.append(f"logs kept in {kept}")
                raise
            finally:
                with contextlib.suppress(Exception):
                    dead = await self.dead_letters(env)
                    outcome.notes.append(f"{dead} dead letters")

    async def town(self, env: Bench, *, proxied: bool = False) -> Town:
        """Provision a new obec; its agent goes through a TCP proxy when `proxied`."""
        ico = env.new_ico()
        url = await env.provision(ico)
        proxy = None
        if proxied:
            proxy = TcpProxy("127.0.0.1", self.node.amqp_port)
            await proxy.start()
            url = proxy.url_for(url)
        return Town(env, ico, url, proxy)

    async def dead_letters(self, env: Bench) -> int:
        """Messages waiting in the dead-letter queue of the scenario's vhost.

        Asked over AMQP (a passive declare): the management API's counts lag by
        its statistics interval.
        """
        connection = await open_connection(
            env.admin_url, name="spisync faults", handshake_timeout_s=15
        )
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(names.DEAD_LETTER_QUEUE, passive=True)
            return int(queue.declaration_result.message_count or 0)
        finally:
            await connection.close()

    async def queue_depth(self, env: Bench, queue: str) -> int:
        """Messages ready or unacknowledged in `queue`."""
        found = await self.broker.management().queue(env.vhost, queue)
        return int((found or {}).get("messages", 0))

    async def agent_connected(self, env: Bench, town: Town) -> bool:
        """Whether the obec's broker user has a connection open now."""
        rows = await self.broker.management().request(
            "GET", f"vhosts/{quote(env.vhost, safe='')}/connections"
        )
        user = unquote(urlsplit(town.url).username or "")
        return any(row.get("user") == user for row in rows or [])


async def hub_contents(env: Bench, ico: str) -> dict[str, bytes | None]:
    """Path -> content of the obec's current files at the hub (None when unreadable)."""
    config = env.hub_config()
    store = await open_metadata_store(config, instance="faults")
    blobs = await open_blob_store(config)
    try:
        found: dict[str, bytes | None] = {}
        for current in await store.current_files(ico):
            if current.sha256 is None:
                continue
            try:
                parts = [part async for part in open_content(store, blobs, current.sha256)]
            except Exception:
                found[current.path] = None
                continue
            data = b"".join(parts)
            found[current.path] = (
                data if hashlib.sha256(data).hexdigest() == current.sha256 else None
            )
        return found
    finally:
        await blobs.close()
        await store.close()


def applied_twice(env: Bench, ico: str) -> int:
    """Versions of a path recorded right after a version with the same content."""
    database = Path(env.hub_config().hub.data_path) / "hub.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT path, sha256, deleted FROM file_versions WHERE ico = ?"
            " ORDER BY path, source_seq",
            (ico,),
        ).fetchall()
    twice = 0
    for before, after in itertools.pairwise(rows):
        if before[0] == after[0] and not before[2] and not after[2] and before[1] == after[1]:
            twice += 1
    return twice


def log_count(service: Service, event: str) -> int:
    """How many times `event` is in the service's log so far."""
    return service.log_path.read_text(encoding="utf-8", errors="replace").count(event)


async def settle(env: Bench, town: Town, outcome: Outcome, *, timeout: float, what: str) -> float:
    """Wait until every expected file is at the hub byte-identical; fill in the outcome.

    Returns the seconds it took. On timeout the outcome still gets the counts.
    """
    started = time.monotonic()

    async def identical() -> bool:
        held = await hub_contents(env, town.ico)
        return all(held.get(path) == data for path, data in town.expected.items())

    try:
        await wait_until(identical, timeout=timeout, interval=0.3, what=what)
    finally:
        held = await hub_contents(env, town.ico)
        outcome.expected = len(town.expected)
        outcome.identical = sum(held.get(p) == d for p, d in town.expected.items())
        outcome.lost = outcome.expected - outcome.identical
        outcome.applied_twice = applied_twice(env, town.ico)
    return time.monotonic() - started
