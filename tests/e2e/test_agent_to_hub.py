"""The real agent and the real hub together: what a clerk saves is what the ORP holds, byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config import AgentConfig, AgentSection, FolderConfig, RegistryConfig
from agent.service import run as run_agent
from hub.config import HubConfig, HubSection
from hub.content import open_content
from hub.metrics import HubMetrics
from hub.provision import provision_agent
from hub.queries import files_rows, spisy_rows
from hub.queue_names import queue_names
from hub.service import run as run_hub
from hub.store import open_blob_store, open_metadata_store
from spisync.config import BrokerConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from testkit.broker import SharedBroker

SCHEMA = Path(__file__).resolve().parents[2] / "packaging" / "registry" / "schema.sql"


class Network:
    """One hub and one agent running in this process against a test vhost."""

    def __init__(
        self, hub: HubConfig, agent: AgentConfig, folder: Path, registry: Path, metrics: HubMetrics
    ) -> None:
        self.hub = hub
        self.agent = agent
        self.folder = folder
        self.registry = registry
        self.metrics = metrics

    async def hub_files(self) -> dict[str, dict[str, Any]]:
        store = await open_metadata_store(self.hub)
        try:
            return {row["path"]: row for row in await files_rows(store, self.agent.agent.ico)}
        finally:
            await store.close()

    async def hub_spisy(self) -> list[dict[str, Any]]:
        store = await open_metadata_store(self.hub)
        try:
            return await spisy_rows(store, self.agent.agent.ico)
        finally:
            await store.close()

    async def hub_bytes(self, sha256: str) -> bytes:
        store = await open_metadata_store(self.hub)
        blobs = await open_blob_store(self.hub)
        try:
            return b"".join([part async for part in open_content(store, blobs, sha256)])
        finally:
            await store.close()

    def registry_sql(self, sql: str, *args: object) -> None:
        with sqlite3.connect(self.registry, isolation_level=None) as db:
            db.execute(sql, args)


async def _agent_holds(tmp_path: Path, sha256: str) -> bool:
    """Whether the agent recorded the hub's receipt of content `sha256` (its `held`)."""
    state = tmp_path / "state" / "state.sqlite"
    with contextlib.closing(sqlite3.connect(f"{state.as_uri()}?mode=ro", uri=True)) as db:
        return db.execute("SELECT 1 FROM held WHERE sha256 = ?", (sha256,)).fetchone() is not None


async def eventually(check: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll `check` until it returns something truthy (bounded, not a timing assertion)."""
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.3)
        return result


@contextlib.asynccontextmanager
async def running_network(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, chunk_size: int = 4096
) -> AsyncIterator[Network]:
    broker = BrokerConfig(url=shared_broker.url(vhost), management_url=shared_broker.management_url)
    hub = HubConfig(
        hub=HubSection(orp="test", data_dir=str(tmp_path / "hub"), obce_poll_s=0.5), broker=broker
    )
    await provision_agent(
        hub, ico=ico, name="Obec Zkušební (fiktivní)", out=tmp_path / "AGENT.toml"
    )
    url = (tmp_path / "AGENT.toml").read_text().split('url = "')[1].split('"')[0]
    folder = tmp_path / "dokumenty"
    folder.mkdir()
    registry = tmp_path / "essl.sqlite"
    with sqlite3.connect(registry) as db:
        db.executescript(SCHEMA.read_text())
    agent = AgentConfig(
        agent=AgentSection(
            ico=ico,
            name="Obec Zkušební",
            state_dir=str(tmp_path / "state"),
            inbox=queue_names(hub).agent_queue(ico),
            chunk_size=chunk_size,
            quiet_window_s=0.2,
            heartbeat_interval_s=1,
        ),
        broker=BrokerConfig(url=url),
        folders=(FolderConfig(path=str(folder)),),
        registry=RegistryConfig(path=str(registry), poll_interval_s=0.2),
    )
    stop = asyncio.Event()
    metrics = HubMetrics()
    async with asyncio.TaskGroup() as group:
        group.create_task(run_hub(hub, stop, metrics=metrics))
        group.create_task(run_agent(agent, stop))
        try:
            yield Network(hub, agent, folder, registry, metrics)
        finally:
            stop.set()


async def test_folder_changes_arrive_byte_for_byte(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """New, changed, NFD-named, multi-chunk and deleted files reach the hub as verified versions and tombstones."""
    async with running_network(shared_broker, vhost, tmp_path, ico) as net:
        big = os.urandom(50_000)  # 13 chunks of 4 KiB
        (net.folder / "Podatelna").mkdir()
        (net.folder / "Podatelna" / "sken.pdf").write_bytes(big)
        nfd = unicodedata.normalize("NFD", "Žádost o povolení.pdf")
        (net.folder / nfd).write_bytes(b"zadost v1")
        (net.folder / "koncept.docx").write_bytes(b"koncept v1")
        (net.folder / "~$koncept.docx").write_bytes(b"lock file, never sent")
        files = await eventually(lambda: _when(net.hub_files(), lambda f: len(f) == 3))
        assert set(files) == {"Podatelna/sken.pdf", "Žádost o povolení.pdf", "koncept.docx"}
        assert await net.hub_bytes(files["Podatelna/sken.pdf"]["sha256"]) == big

        (net.folder / "koncept.docx").write_bytes(b"koncept v2, opraveno")
        (net.folder / nfd).unlink()
        files = await eventually(
            lambda: _when(
                net.hub_files(),
                lambda f: (
                    f["koncept.docx"]["versions"] == 2 and f["Žádost o povolení.pdf"]["deleted"]
                ),
            )
        )
        assert await net.hub_bytes(files["koncept.docx"]["sha256"]) == b"koncept v2, opraveno"
        assert (
            files["koncept.docx"]["sha256"] == hashlib.sha256(b"koncept v2, opraveno").hexdigest()
        )


async def test_an_appended_large_file_reaches_the_hub_from_its_new_chunks(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """After the hub confirmed a large file, its appended version is recorded byte for byte.

    The agent sends only the chunks the hub does not hold; the hub verifies the
    whole file from the chunks it kept of the first version and the new ones.
    """

    def uploads() -> dict[str, float]:
        """When the hub last received each chunk (`chunks.stored_at`)."""
        hub_db = tmp_path / "hub" / "hub.sqlite"
        with contextlib.closing(sqlite3.connect(f"{hub_db.as_uri()}?mode=ro", uri=True)) as db:
            return dict(db.execute("SELECT sha256, stored_at FROM chunks").fetchall())

    async with running_network(shared_broker, vhost, tmp_path, ico) as net:
        first = os.urandom(10 * 4096)  # 10 chunks of 4 KiB
        (net.folder / "posta.pst").write_bytes(first)
        files = await eventually(lambda: _when(net.hub_files(), lambda f: "posta.pst" in f))
        await eventually(lambda: _agent_holds(tmp_path, files["posta.pst"]["sha256"]))
        first_uploads = uploads()

        appended = first + os.urandom(5000)
        (net.folder / "posta.pst").write_bytes(appended)
        files = await eventually(
            lambda: _when(net.hub_files(), lambda f: f["posta.pst"]["versions"] == 2)
        )
        assert files["posta.pst"]["sha256"] == hashlib.sha256(appended).hexdigest()
        assert await net.hub_bytes(files["posta.pst"]["sha256"]) == appended
        unchanged = {hashlib.sha256(first[i : i + 4096]).hexdigest() for i in range(0, 40960, 4096)}
        assert {sha: uploads()[sha] for sha in unchanged} == {
            sha: first_uploads[sha] for sha in unchanged
        }


async def test_an_edited_document_reaches_the_hub_as_a_delta_byte_for_byte(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """Once the hub confirmed a document, its edit goes as deltas and is recorded exactly.

    Chunks of 128 KiB: an edit in the first and an append to the last go as deltas
    against the hub's chunks of the first version; the middle one is not sent.
    """
    async with running_network(shared_broker, vhost, tmp_path, ico, chunk_size=128 * 1024) as net:
        first = os.urandom(300 * 1024)
        (net.folder / "usneseni.doc").write_bytes(first)
        files = await eventually(lambda: _when(net.hub_files(), lambda f: "usneseni.doc" in f))
        await eventually(lambda: _agent_holds(tmp_path, files["usneseni.doc"]["sha256"]))

        edited = first[:10_000] + os.urandom(5_000) + first[15_000:] + os.urandom(4096)
        (net.folder / "usneseni.doc").write_bytes(edited)
        files = await eventually(
            lambda: _when(net.hub_files(), lambda f: f["usneseni.doc"]["versions"] == 2)
        )
        assert files["usneseni.doc"]["sha256"] == hashlib.sha256(edited).hexdigest()
        assert await net.hub_bytes(files["usneseni.doc"]["sha256"]) == edited
        assert net.metrics.chunks_rebuilt == 2


async def test_registry_snapshots_and_closing_reach_the_hub(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A spis registered with its dokument and komponenta, then closed, is closed at the hub with nothing missing."""
    async with running_network(shared_broker, vhost, tmp_path, ico) as net:
        (net.folder / "rozhodnuti.pdf").write_bytes(b"%PDF-1.7 rozhodnuti")
        net.registry_sql(
            "INSERT INTO spis ("
            "id, spisova_znacka, nazev, spisovy_znak, skartacni_znak, skartacni_lhuta, "
            "datum_otevreni, datum_uzavreni, stav, zpracovatel) VALUES ('S1', 'OÚ/1/2026', 'Kácení lípy', '2.4.3', 'A', 10, '2026-11-02', NULL, 'otevreny', 'Marie Nováková')"
        )
        net.registry_sql(
            "INSERT INTO dokument ("
            "id, spis_id, cislo_jednaci, nazev, puvod, datum, odesilatel_autor, poradi) VALUES ('D1', 'S1', 'OÚ/1/2026-1', 'Rozhodnutí', 'vlastni', '2026-11-20', 'Marie Nováková', 1)"
        )
        net.registry_sql(
            "INSERT INTO komponenta ("
            "id, dokument_id, poradi, verze, druh, forma_uchovani, soubor) VALUES ('K1', 'D1', 1, 1, 'hlavní dokument', 'originál', 'rozhodnuti.pdf')"
        )
        spisy = await eventually(lambda: _when(net.hub_spisy(), lambda s: len(s) == 1))
        assert spisy[0]["stav"] == "otevreny"
        net.registry_sql(
            "UPDATE spis SET stav = 'uzavreny', datum_uzavreni = '2026-11-23' WHERE id = 'S1'"
        )
        # Under load the file may arrive after the closing: the spis then waits (state
        # `closed` with the file in `missing`) until it does, which is what we wait for.
        spisy = await eventually(
            lambda: _when(
                net.hub_spisy(),
                lambda s: (
                    s[0]["stav"] == "uzavreny" and s[0]["state"] != "open" and not s[0]["missing"]
                ),
            )
        )
        assert spisy[0]["state"] in {"closed", "forwarded"}
        assert spisy[0]["spisova_znacka"] == "OÚ/1/2026"


async def _when(rows_coro: Any, predicate: Callable[[Any], bool]) -> Any:
    rows = await rows_coro
    try:
        return rows if predicate(rows) else None
    except (KeyError, IndexError):
        return None
