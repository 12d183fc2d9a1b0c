"""What every benchmark stands on: a fresh vhost, a temp dir, real processes, and the hub's view.

Each benchmark gets its own vhost on the machine's broker (created through the
management API, deleted with the broker users it made afterwards, as the tests'
`SharedBroker` does) and its own temp dir. Services run as real processes
(`spisync hub run`, `spisync agent run`, `spisync archive run`) with their logs
in the temp dir; their CPU time and RSS are read from `/proc`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from hub.config import HubConfig, HubSection
from hub.provision import provision_agent
from hub.queries import files_rows, spisy_rows
from hub.queue_names import queue_names
from hub.store import open_metadata_store
from protocol import ico_check_digit
from testkit.hub import write_hub_toml

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from hub.store.metadata import MetadataStore
    from testkit.broker import SharedBroker

__all__ = [
    "REPO",
    "Bench",
    "BenchTimeoutError",
    "BrokerCpu",
    "HubView",
    "Service",
    "cpu_seconds",
    "listening_pid",
    "make_ico",
    "rss_kib",
    "settle_caches",
    "toml_value",
    "wait_until",
    "write_random_tree",
]

REPO = Path(__file__).resolve().parents[1]
_DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def settle_caches() -> str:
    """Put the caches in the same state before a contender runs; say which state.

    Always `sync` (nothing of the previous contender left to write back, which
    would slow the next one's fsyncs); then drop the page cache, dentries and
    inodes where this process may (root, and /proc/sys writable), so that every
    contender reads its source from disk. Returns what was done, for the results.
    """
    os.sync()
    try:
        _DROP_CACHES.write_text("3\n")
    except OSError as exc:
        return f"sync only before each contender (drop_caches refused: {exc.strerror})"
    return "sync + drop_caches (echo 3) before each contender: every source read from disk"


class BenchTimeoutError(Exception):
    """A benchmark waited longer than its bound for something to happen."""


def rss_kib(pid: int) -> int:
    """Resident set size of a process, KiB (`VmRSS` in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port` on this machine (the broker's node), if visible.

    Found as Linux's `ss -ltnp` does: the socket's inode in /proc/net/tcp{,6}, then
    the process holding a descriptor to it. None if it is not ours to see.
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{inode}]")
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and inodes & _open_sockets(proc):
            return int(proc.name)
    return None


def _open_sockets(proc: Path) -> set[str]:
    """What the descriptors of process `proc` point at; a descriptor closed meanwhile is skipped.

    (A busy node opens and closes files all the time: one vanishing between the
    listing and its readlink must not hide the rest.)
    """
    targets = set()
    with contextlib.suppress(OSError):
        for fd in (proc / "fd").iterdir():
            with contextlib.suppress(OSError):
                targets.add(str(fd.readlink()))
    return targets


class BrokerCpu:
    """CPU the broker's node used over a span (it serves every contender alike)."""

    def __init__(self, broker: SharedBroker) -> None:
        port = urlsplit(broker.amqp_base).port or 5672
        self._pid = listening_pid(port)
        self._start = 0.0

    def start(self) -> None:
        """Start the span."""
        self._start = self._now()

    def used(self) -> dict[str, float]:
        """`{"broker": CPU seconds}` since `start`; empty if the node's process is not visible."""
        return {} if self._pid is None else {"broker": self._now() - self._start}

    def _now(self) -> float:
        return 0.0 if self._pid is None else cpu_seconds(self._pid)


def make_ico(rng: random.Random) -> str:
    """A random IČO with a valid check digit."""
    first = f"{rng.randrange(10**6, 10**7):07d}"
    return f"{first}{ico_check_digit(first)}"


def toml_value(value: Any) -> str:
    """A scalar as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


async def wait_until(
    check: Callable[[], Awaitable[Any]], *, timeout: float, interval: float, what: str
) -> Any:
    """Poll `check` until it returns something truthy; raise `BenchTimeoutError` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise BenchTimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)
    return result


def write_random_tree(root: Path, count: int, size: int, per_dir: int = 100) -> dict[str, str]:
    """Write `count` files of `size` random bytes under `root`; return path -> SHA-256."""
    expected: dict[str, str] = {}
    for i in range(count):
        relative = f"rok-{i // per_dir:03}/dokument-{i:06}.pdf" if count > 1 else "velky-sken.pdf"
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with path.open("wb") as out:
            left = size
            while left:
                block = os.urandom(min(left, 8 * 1024 * 1024))
                digest.update(block)
                out.write(block)
                left -= len(block)
        expected[relative] = digest.hexdigest()
    return expected


@dataclass
class Service:
    """One `spisync <role> run` process, its log in a file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, name: str, args: list[str], log_dir: Path) -> Service:
        """Start `spisync <args>` with this interpreter."""
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "spisync.cli", *args],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
            )
        return cls(name, process, log_path)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process still runs; raises if it died (with its log's tail)."""
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {tail}")
        return True

    def cpu_seconds(self) -> float:
        """CPU time used so far."""
        return cpu_seconds(self.pid)

    def rss_kib(self) -> int:
        """Resident memory now."""
        return rss_kib(self.pid)

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class HubView:
    """The hub's metadata as an operator sees it (`hub.queries`), read beside the running hub."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    async def files(self, ico: str) -> dict[str, dict[str, Any]]:
        """Path -> row of the obec's current files."""
        return {row["path"]: row for row in await files_rows(self.store, ico)}

    async def spisy(self, ico: str) -> list[dict[str, Any]]:
        """The obec's spisy with state, missing content and SIP."""
        return await spisy_rows(self.store, ico)


@dataclass
class Bench:
    """One benchmark's world: a fresh vhost, a temp dir, the processes it started.

    Use `async with Bench.create(broker, "name") as env:`; everything is
    stopped and deleted on the way out, except the temp dir when `kept` is a
    list (`python -m bench --keep`): then it stays, for checking the counts
    against the hub's own database, and its path is appended to `kept`.
    """

    kept: ClassVar[list[Path] | None] = None

    broker: SharedBroker
    vhost: str
    base: Path
    services: list[Service] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    _hub_config: HubConfig | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def create(cls, broker: SharedBroker, name: str) -> AsyncIterator[Bench]:
        """A fresh vhost and temp dir for benchmark `name`, removed afterwards."""
        vhost = await broker.create_vhost()
        base = Path(tempfile.mkdtemp(prefix=f"spisync-bench-{name}-"))
        env = cls(broker=broker, vhost=vhost, base=base)
        try:
            yield env
        finally:
            for service in reversed(env.services):
                await asyncio.to_thread(service.stop)
            await broker.drop_vhost(vhost)
            if cls.kept is not None:
                cls.kept.append(base)
            else:
                await asyncio.to_thread(shutil.rmtree, base, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        """The administrator's AMQP URL of this vhost."""
        return self.broker.url(self.vhost)

    def new_ico(self) -> str:
        """A fresh valid IČO."""
        return make_ico(self.rng)

    def hub_config(self, **hub: Any) -> HubConfig:
        """This benchmark's hub config (written to `HUB.toml` on first use)."""
        if self._hub_config is None:
            section: dict[str, Any] = {
                "orp": "bench",
                "data_dir": str(self.base / "hub"),
                "obce_poll_s": 0.5,
            }
            section |= hub
            self._hub_config = HubConfig(
                hub=HubSection(**section), broker=self.broker.broker_config(self.vhost)
            )
            write_hub_toml(self._hub_config, self.base / "HUB.toml")
        return self._hub_config

    async def provision(self, ico: str) -> str:
        """Provision obec `ico` at this hub; return the agent's AMQP URL (its own user)."""
        out = self.base / "provisioned" / f"{ico}.toml"
        out.parent.mkdir(parents=True, exist_ok=True)
        await provision_agent(self.hub_config(), ico=ico, name=f"Obec {ico}", out=out)
        url: str = tomllib.loads(out.read_text(encoding="utf-8"))["broker"]["url"]
        return url

    def inbox(self, ico: str) -> str:
        """Return the inbox queue `provision(ico)` gave obec `ico`'s agent."""
        out = self.base / "provisioned" / f"{ico}.toml"
        inbox: str = tomllib.loads(out.read_text(encoding="utf-8"))["agent"]["inbox"]
        return inbox

    def write_agent_config(
        self,
        ico: str,
        url: str,
        *,
        folder: Path | None = None,
        registry: Path | None = None,
        **agent: Any,
    ) -> Path:
        """Write an AGENT.toml with the defaults except what `agent` overrides."""
        state = self.base / "agents" / ico
        section = {
            "ico": ico,
            "name": f"Obec {ico}",
            "state_dir": str(state / "state"),
            "inbox": self.inbox(ico),
        } | agent
        lines = ["[agent]", *(f"{k} = {toml_value(v)}" for k, v in section.items())]
        lines += ["", "[broker]", f"url = {toml_value(url)}"]
        if folder is not None:
            lines += ["", "[[folders]]", f"path = {toml_value(str(folder))}"]
        if registry is not None:
            lines += ["", "[registry]", 'kind = "sqlite"', f"path = {toml_value(str(registry))}"]
        state.mkdir(parents=True, exist_ok=True)
        path = state / "AGENT.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def committed_messages(self, ico: str) -> dict[str, int]:
        """Messages the hub committed for obec `ico`, by kind, counted in its SQLite.

        Read straight from the hub's `processed_messages` table (read-only), where
        the hub records every applied metadata message in the same transaction
        as its effect; chunks are not recorded there (they are idempotent).
        """
        path = Path(self.hub_config().hub.data_dir) / "hub.sqlite"
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT kind, count(*) FROM processed_messages WHERE ico = ? GROUP BY kind", (ico,)
            ).fetchall()
        return {str(kind): int(n) for kind, n in rows}

    def start(self, name: str, *args: str) -> Service:
        """Start `spisync <args>` as `name`; stopped when the benchmark ends."""
        service = Service.start(name, list(args), self.base / "logs")
        self.services.append(service)
        return service

    async def start_hub(self, *icos: str, timeout: float = 60) -> Service:
        """Start `spisync hub run` and wait until it consumes every given obec's queue."""
        self.hub_config()
        hub = self.start("hub", "hub", "run", "--config", str(self.base / "HUB.toml"))
        api = self.broker.management()

        async def consuming() -> bool:
            hub.alive()
            for ico in icos:
                queue = await api.queue(self.vhost, queue_names(self.hub_config()).hub_queue(ico))
                if not queue or not queue.get("consumers"):
                    return False
            return True

        await wait_until(consuming, timeout=timeout, interval=0.3, what="the hub to consume")
        return hub

    def start_agent(self, config: Path, name: str = "agent") -> Service:
        """Start `spisync agent run`."""
        return self.start(name, "agent", "run", "--config", str(config))

    @contextlib.asynccontextmanager
    async def hub_view(self) -> AsyncIterator[HubView]:
        """The hub's metadata store, opened beside the running hub."""
        store = await open_metadata_store(self.hub_config(), instance="bench")
        try:
            yield HubView(store)
        finally:
            await store.close()
