"""Versions the broker took but the hub lost are sent again until the hub confirms them."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import msgspec

from agent.config import AgentConfig, AgentSection, FolderConfig
from agent.service import run as run_agent
from hub.config import HubConfig, HubSection
from hub.content import open_content
from hub.provision import provision_agent
from hub.queries import files_rows
from hub.service import run as run_hub
from hub.store import open_blob_store, open_metadata_store
from protocol import names
from spisync.config import BrokerConfig
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from testkit.broker import SharedBroker


class _Setup:
    def __init__(self, hub: HubConfig, agent: AgentConfig, folder: Path) -> None:
        self.hub = hub
        self.agent = agent
        self.folder = folder
        self.state = Path(agent.agent.state_dir) / "state.sqlite"

    def outbox_empty_and_sent(self, count: int) -> bool:
        """Every one of `count` files is indexed and its outbox row confirmed by the broker."""
        if not self.state.exists():
            return False
        try:
            with sqlite3.connect(f"file:{self.state}?mode=ro", uri=True) as db:
                queued = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
                sent = db.execute("SELECT count(*) FROM files").fetchone()[0]
        except sqlite3.OperationalError:
            return False
        return queued == 0 and sent == count

    def sent_versions(self) -> dict[str, tuple[int, int, int]]:
        """Path -> (source_seq, receipted_seq, resends)."""
        with sqlite3.connect(f"file:{self.state}?mode=ro", uri=True) as db:
            return {
                row[0]: (row[1], row[2], row[3])
                for row in db.execute(
                    "SELECT path, source_seq, receipted_seq, resends FROM sent_versions"
                )
            }

    async def hub_bytes(self) -> dict[str, bytes]:
        store = await open_metadata_store(self.hub)
        blobs = await open_blob_store(self.hub)
        try:
            found = {}
            for row in await files_rows(store, self.agent.agent.ico):
                parts = [part async for part in open_content(store, blobs, row["sha256"])]
                found[row["path"]] = b"".join(parts)
            return found
        finally:
            await blobs.close()
            await store.close()


async def _setup(shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str) -> _Setup:
    broker = BrokerConfig(url=shared_broker.url(vhost), management_url=shared_broker.management_url)
    hub = HubConfig(
        hub=HubSection(orp="test", data_dir=str(tmp_path / "hub"), obce_poll_s=0.5), broker=broker
    )
    await provision_agent(hub, ico=ico, name="Obec Zkušební", out=tmp_path / "AGENT.toml")
    url = (tmp_path / "AGENT.toml").read_text().split('url = "')[1].split('"')[0]
    folder = tmp_path / "dokumenty"
    folder.mkdir()
    agent = AgentConfig(
        agent=AgentSection(
            ico=ico,
            name="Obec Zkušební",
            state_dir=str(tmp_path / "state"),
            chunk_size=4096,
            quiet_window_s=0.2,
            heartbeat_interval_s=1,
            receipt_timeout_s=2.0,
        ),
        broker=BrokerConfig(url=url),
        folders=(FolderConfig(path=str(folder)),),
    )
    return _Setup(hub, agent, folder)


async def _purge_hub_queue(shared_broker: SharedBroker, vhost: str, ico: str) -> None:
    """What a hub that dead-lettered every delivery leaves behind: nothing."""
    path = f"queues/{quote(vhost, safe='')}/{quote(names.hub_queue(ico), safe='')}/contents"
    await shared_broker.management().request("DELETE", path)


def _write_files(folder: Path) -> dict[str, bytes]:
    files = {f"sken-{i}.pdf": os.urandom(10_000 + i) for i in range(3)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


async def test_what_the_hub_lost_is_sent_again_and_lands(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """Files the broker confirmed but the hub never received (its queue purged) are sent again after receipt_timeout_s, land byte for byte, and stop once confirmed."""
    setup = await _setup(shared_broker, vhost, tmp_path, ico)
    files = _write_files(setup.folder)
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(run_agent(setup.agent, stop))
        try:
            await wait_for(
                lambda: _true(setup.outbox_empty_and_sent(len(files))),
                what="the broker's confirms of every file",
            )
            await _purge_hub_queue(shared_broker, vhost, ico)
            group.create_task(run_hub(setup.hub, stop))

            async def landed() -> bool:
                return await setup.hub_bytes() == files

            await wait_for(landed, timeout=90, what="the files at the hub")

            async def confirmed() -> bool:
                return all(seq == got for seq, got, _ in setup.sent_versions().values())

            await wait_for(confirmed, what="the hub's receipts")
            assert all(resends >= 1 for _, _, resends in setup.sent_versions().values())
        finally:
            stop.set()


async def test_an_agent_restarted_after_the_loss_sends_again_what_the_hub_never_confirmed(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """After the agent is restarted, versions sent before the restart and lost at the hub are sent again and land."""
    setup = await _setup(shared_broker, vhost, tmp_path, ico)
    files = _write_files(setup.folder)
    stop = asyncio.Event()
    first = asyncio.create_task(run_agent(setup.agent, stop))
    await wait_for(
        lambda: _true(setup.outbox_empty_and_sent(len(files))),
        what="the broker's confirms of every file",
    )
    stop.set()
    await asyncio.wait_for(first, 15)
    await _purge_hub_queue(shared_broker, vhost, ico)

    stop = asyncio.Event()
    again = msgspec.structs.replace(
        setup.agent, agent=msgspec.structs.replace(setup.agent.agent, receipt_timeout_s=1.0)
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(run_hub(setup.hub, stop))
        group.create_task(run_agent(again, stop))
        try:

            async def landed() -> bool:
                return await setup.hub_bytes() == files

            await wait_for(landed, timeout=90, what="the files at the hub")
        finally:
            stop.set()


async def _true(value: bool) -> bool:
    return value
