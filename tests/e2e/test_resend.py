"""What the broker took but the hub lost is sent again until the hub confirms it.

File versions, tombstones and registry snapshots alike.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import msgspec

from agent.config import AgentConfig, AgentSection, FolderConfig, RegistryConfig
from agent.service import run as run_agent
from hub.config import HubConfig, HubSection
from hub.content import open_content
from hub.provision import provision_agent
from hub.queries import files_rows, spisy_rows
from hub.queue_names import queue_names
from hub.service import run as run_hub
from hub.store import open_blob_store, open_metadata_store
from spisync.config import BrokerConfig
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from testkit.broker import SharedBroker

SCHEMA = Path(__file__).resolve().parents[2] / "packaging" / "registry" / "schema.sql"


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

    def quiet(self, *, files: int, spisy: int) -> bool:
        """The outbox is empty (the broker confirmed all) with `files` indexed and `spisy` sent."""
        if not self.state.exists():
            return False
        try:
            with sqlite3.connect(f"file:{self.state}?mode=ro", uri=True) as db:
                counts = db.execute(
                    "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM files), "
                    "(SELECT count(*) FROM registry_seen WHERE tabulka = 'spis')"
                ).fetchone()
        except sqlite3.OperationalError:
            return False
        return tuple(counts) == (0, files, spisy)

    def registry_sql(self, sql: str) -> None:
        with sqlite3.connect(self.folder.parent / "essl.sqlite", isolation_level=None) as db:
            db.execute(sql)

    async def hub_deleted_and_spisy(self) -> tuple[dict[str, bool], list[str]]:
        """The hub's current files (path -> deleted) and its spisy's ids."""
        store = await open_metadata_store(self.hub)
        try:
            files = {row["path"]: row["deleted"] for row in await files_rows(store, self.ico)}
            return files, [row["id"] for row in await spisy_rows(store, self.ico)]
        finally:
            await store.close()

    @property
    def ico(self) -> str:
        return self.agent.agent.ico

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


async def _setup(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, *, registry: bool = False
) -> _Setup:
    broker = BrokerConfig(url=shared_broker.url(vhost), management_url=shared_broker.management_url)
    hub = HubConfig(
        hub=HubSection(orp="test", data_dir=str(tmp_path / "hub"), obce_poll_s=0.5), broker=broker
    )
    await provision_agent(hub, ico=ico, name="Obec Zkušební", out=tmp_path / "AGENT.toml")
    url = (tmp_path / "AGENT.toml").read_text().split('url = "')[1].split('"')[0]
    folder = tmp_path / "dokumenty"
    folder.mkdir()
    essl = tmp_path / "essl.sqlite"
    if registry:
        with sqlite3.connect(essl) as db:
            db.executescript(SCHEMA.read_text())
    agent = AgentConfig(
        agent=AgentSection(
            ico=ico,
            name="Obec Zkušební",
            state_dir=str(tmp_path / "state"),
            inbox=queue_names(hub).agent_queue(ico),
            chunk_size=4096,
            quiet_window_s=0.2,
            heartbeat_interval_s=1,
            receipt_timeout_s=2.0,
        ),
        broker=BrokerConfig(url=url),
        folders=(FolderConfig(path=str(folder)),),
        registry=RegistryConfig(path=str(essl), poll_interval_s=0.2) if registry else None,
    )
    return _Setup(hub, agent, folder)


async def _purge_hub_queue(shared_broker: SharedBroker, vhost: str, queue: str) -> None:
    """What a hub that dead-lettered every delivery leaves behind: nothing."""
    path = f"queues/{quote(vhost, safe='')}/{quote(queue, safe='')}/contents"
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
            await _purge_hub_queue(shared_broker, vhost, queue_names(setup.hub).hub_queue(ico))
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
    await _purge_hub_queue(shared_broker, vhost, queue_names(setup.hub).hub_queue(ico))

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


_SPIS = (
    "INSERT INTO spis (id, spisova_znacka, nazev, spisovy_znak, skartacni_znak, skartacni_lhuta, "
    "datum_otevreni, stav, zpracovatel) VALUES ('S1', 'OÚ/7/2026', 'Oprava kaple', '2.4.3', "
    "'A', 10, '2026-11-02', 'otevreny', 'Marie Nováková')"
)


async def _lose_a_tombstone_and_a_spis(
    shared_broker: SharedBroker, vhost: str, setup: _Setup, *, restart_agent: bool
) -> tuple[asyncio.Event, asyncio.Task[None]]:
    """Land a file at the hub, then delete it and register a spis while the hub is down, and purge.

    Returns:
        The agent's stop event and task (stopped already if `restart_agent`).
    """
    (setup.folder / "koncept.docx").write_bytes(b"koncept")
    agent_stop, hub_stop = asyncio.Event(), asyncio.Event()
    agent = asyncio.create_task(run_agent(setup.agent, agent_stop))
    hub = asyncio.create_task(run_hub(setup.hub, hub_stop))

    async def landed() -> bool:
        return await setup.hub_deleted_and_spisy() == ({"koncept.docx": False}, [])

    try:
        await wait_for(landed, timeout=90, what="the file at the hub")
    finally:
        hub_stop.set()
        await asyncio.wait_for(hub, 30)
    (setup.folder / "koncept.docx").unlink()
    setup.registry_sql(_SPIS)
    await wait_for(
        lambda: _true(setup.quiet(files=0, spisy=1)),
        timeout=60,
        what="the broker's confirms of the tombstone and the spis",
    )
    if restart_agent:
        agent_stop.set()
        await asyncio.wait_for(agent, 30)
    await _purge_hub_queue(shared_broker, vhost, queue_names(setup.hub).hub_queue(setup.ico))
    return agent_stop, agent


async def test_a_lost_tombstone_and_spis_snapshot_are_sent_again_and_land(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A tombstone and a spis snapshot the broker confirmed but the hub lost (queue purged) are sent again after receipt_timeout_s and land; the hub's receipts end the resending."""
    setup = await _setup(shared_broker, vhost, tmp_path, ico, registry=True)
    agent_stop, agent = await _lose_a_tombstone_and_a_spis(
        shared_broker, vhost, setup, restart_agent=False
    )
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(run_hub(setup.hub, stop))
        try:

            async def landed() -> bool:
                return await setup.hub_deleted_and_spisy() == ({"koncept.docx": True}, ["S1"])

            await wait_for(landed, timeout=90, what="the tombstone and the spis at the hub")

            def records() -> dict[tuple[str, str], tuple[int, int, int]]:
                with sqlite3.connect(f"file:{setup.state}?mode=ro", uri=True) as db:
                    return {
                        (row[0], row[1]): (row[2], row[3], row[4])
                        for row in db.execute(
                            "SELECT tabulka, record_id, source_version, receipted_version, "
                            "resends FROM sent_records"
                        )
                    }

            async def confirmed() -> bool:
                return all(version == got for version, got, _ in records().values())

            await wait_for(confirmed, what="the hub's receipts")
            assert set(records()) == {("tombstone", "koncept.docx"), ("spis", "S1")}
            assert all(resends >= 1 for _, _, resends in records().values())
        finally:
            stop.set()
            agent_stop.set()
            await asyncio.wait_for(agent, 30)


async def test_an_agent_restarted_after_the_loss_sends_the_tombstone_and_spis_again(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A tombstone and a spis snapshot lost at the hub before the agent was restarted are sent again by the restarted agent and land."""
    setup = await _setup(shared_broker, vhost, tmp_path, ico, registry=True)
    await _lose_a_tombstone_and_a_spis(shared_broker, vhost, setup, restart_agent=True)
    stop = asyncio.Event()
    again = msgspec.structs.replace(
        setup.agent, agent=msgspec.structs.replace(setup.agent.agent, receipt_timeout_s=1.0)
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(run_hub(setup.hub, stop))
        group.create_task(run_agent(again, stop))
        try:

            async def landed() -> bool:
                return await setup.hub_deleted_and_spisy() == ({"koncept.docx": True}, ["S1"])

            await wait_for(landed, timeout=90, what="the tombstone and the spis at the hub")
        finally:
            stop.set()


async def _true(value: bool) -> bool:
    return value
