"""Helpers of the closing tests: the real archive consumer (in-process or a process), closings, waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from archive.config import ArchiveConfig, ArchiveSection
from archive.service import run as run_archive
from protocol import FileReceipt, SpisClosed, SpisReopened
from testkit.hub import make_hub_config
from testkit.waiting import wait_for
from tests.hub.hubkit import REPO, registry_records

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.store import SqliteMetadataStore
    from testkit.broker import SharedBroker
    from testkit.hub import Agent

PDF = b"%PDF-1.7\n"


def closing_hub_config(
    shared_broker: SharedBroker, vhost: str, data_dir: Path, **hub: Any
) -> HubConfig:
    """A hub config for closing tests: small archive chunks (several per SIP), quick sweeps."""
    settings = {
        "batch_wait_s": 0.02,
        "archive_chunk_size": 4096,
        "release_sweep_s": 0.2,
        "release_grace_s": 3600.0,
        "archive_resend_s": 600.0,
        "name": "Testov",
    } | hub
    return make_hub_config(shared_broker, vhost, data_dir, **settings)


def archive_config(shared_broker: SharedBroker, vhost: str, data_dir: Path) -> ArchiveConfig:
    """The regional archive on the same vhost (one machine, as in the demo)."""
    return ArchiveConfig(
        archive=ArchiveSection(data_dir=str(data_dir), prefetch=8, drain_timeout_s=5.0),
        broker=shared_broker.broker_config(vhost),
    )


@dataclass
class RunningArchive:
    """`archive.service.run` in this event loop."""

    config: ArchiveConfig
    shutdown: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.shutdown.set()
        await asyncio.wait_for(self.task, 15)


async def start_archive(config: ArchiveConfig) -> RunningArchive:
    """Run the archive consumer in-process."""
    shutdown = asyncio.Event()
    task = asyncio.create_task(run_archive(config, shutdown))
    return RunningArchive(config=config, shutdown=shutdown, task=task)


@dataclass
class ArchiveProcess:
    """`spisync archive run` in a subprocess (for kill -9)."""

    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, config: ArchiveConfig, tmp_path: Path, name: str) -> ArchiveProcess:
        toml = tmp_path / "ARCHIVE.toml"
        toml.write_text(
            f'[archive]\ndata_dir = "{config.archive.data_dir}"\n\n'
            f'[broker]\nurl = "{config.broker.url}"\n',
            encoding="utf-8",
        )
        with (tmp_path / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "spisync.cli", "archive", "run", "--config", str(toml)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
            )
        return cls(process)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def stored_packages(archive: ArchiveConfig, ico: str) -> list[Path]:
    """The packages the archive keeps for obec `ico`."""
    folder = archive.archive.data_path / ico
    return sorted(folder.glob("*.zip")) if folder.is_dir() else []


def staged_chunks(archive: ArchiveConfig) -> int:
    """How many chunks wait in the archive's staging area."""
    staging = archive.archive.data_path / "staging"
    return sum(1 for p in staging.glob("*/*") if p.is_file()) if staging.is_dir() else 0


async def send_spis(
    agent: Agent,
    spis_id: str,
    files: dict[str, bytes],
    *,
    version: int = 1,
    missing: tuple[str, ...] = (),
    chunk_size: int = 16384,
    **overrides: Any,
) -> list[Any]:
    """Send the files (except `missing`) and the registry records of a spis; return the records."""
    for path, data in files.items():
        if path not in missing:
            await agent.send_file(path, data, chunk_size=chunk_size)
    records = registry_records(agent, spis_id=spis_id, soubory=list(files), version=version)
    for i, record in enumerate(records):
        if i == 0 and overrides:
            record = msgspec.structs.replace(record, **overrides)  # noqa: PLW2901
        await agent.send(record)
    sent = [p for p in files if p not in missing]
    if sent:
        await agent.wait_for_reply(
            lambda m: isinstance(m, FileReceipt) and m.path == sent[-1], what="the last receipt"
        )
    return records


async def close_spis(agent: Agent, spis_id: str, source_version: int) -> SpisClosed:
    """Send a `SpisClosed`."""
    closed = SpisClosed(
        **agent.envelope(),
        spis_id=spis_id,
        source_version=source_version,
        closed_at=datetime.now(UTC),
    )
    await agent.send(closed)
    return closed


async def reopen_spis(agent: Agent, spis_id: str, source_version: int) -> None:
    """Send a `SpisReopened`."""
    await agent.send(
        SpisReopened(
            **agent.envelope(),
            spis_id=spis_id,
            source_version=source_version,
            reopened_at=datetime.now(UTC),
        )
    )


async def spis_row(store: SqliteMetadataStore, ico: str, spis_id: str) -> Any:
    """The spis's line of `hub spisy` (None if unknown)."""
    found = [s for s in await store.spisy(ico) if s.id == spis_id]
    return found[0] if found else None


async def wait_for_state(
    store: SqliteMetadataStore,
    ico: str,
    spis_id: str,
    state: str,
    *,
    timeout: float = 40,
    **fields: Any,
) -> Any:
    """Wait until the spis is in hub `state` (and its SIP fields equal `fields`); return its line."""
    found: list[Any] = []

    async def check() -> bool:
        row = await spis_row(store, ico, spis_id)
        found[:] = [row]
        return (
            row is not None
            and row.state == state
            and all(getattr(row, k) == v for k, v in fields.items())
        )

    await wait_for(check, what=f"spis {spis_id} {state} {fields}", timeout=timeout)
    return found[0]


def pdf(size: int) -> bytes:
    """PDF-looking, incompressible bytes (a SIP of several archive chunks)."""
    return PDF + os.urandom(max(size - len(PDF), 0))
