"""Helpers of the hub's tests: simulated agents, hub configs, subprocess hubs, waiting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aio_pika
import msgspec
from aiobotocore.session import get_session

from hub.config import HubConfig, StorageConfig
from hub.content import open_content
from hub.metrics import HubMetrics
from hub.store import SqliteMetadataStore, open_blob_store
from protocol import (
    DokumentSnapshot,
    KomponentaSnapshot,
    SpisSnapshot,
    Subjekt,
    names,
)
from spisync.broker import open_connection
from testkit.hub import Agent
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from testkit.broker import SharedBroker

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RunningHub:
    config: HubConfig
    metrics: HubMetrics
    shutdown: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.shutdown.set()
        await self.task

    async def store(self) -> SqliteMetadataStore:
        return await SqliteMetadataStore.open(self.config.hub.data_path, instance="test")


async def has_session(hub: RunningHub) -> bool:
    if hub.task.done():
        hub.task.result()
    return hub.metrics.sessions > 0


async def dead_letters(
    shared_broker: SharedBroker, vhost: str
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message from `spisync.dead` in `vhost`."""
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(names.DEAD_LETTER_QUEUE, ensure=False)
        found = []
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(message)
        return found


async def stored_content(hub_config: HubConfig, store: SqliteMetadataStore, sha256: str) -> bytes:
    """The bytes of a recorded content, streamed back from the hub's stores."""
    blobs = await open_blob_store(hub_config)
    try:
        return b"".join([b async for b in open_content(store, blobs, sha256)])
    finally:
        await blobs.close()


async def only_dead_letter(shared_broker: SharedBroker, vhost: str) -> dict[str, Any]:
    """Wait for the one message in `spisync.dead` in `vhost`; return its headers."""
    found: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def dead() -> bool:
        found.extend(await dead_letters(shared_broker, vhost))
        return bool(found)

    await wait_for(dead, what="a dead letter")
    [letter] = found
    return dict(letter.headers)


@dataclass
class HubProcess:
    """`spisync hub run` in a subprocess, its JSON log lines collected."""

    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, config_path: Path, log_path: Path) -> HubProcess:
        log = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "spisync.cli", "hub", "run", "--config", str(config_path)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        log.close()
        return cls(config_path=config_path, log_path=log_path, process=process)

    def events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                events.append(msgspec.json.decode(line))
        return events

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def registry_records(
    agent: Agent, *, spis_id: str, soubory: list[str], version: int = 1, stav: str = "otevreny"
) -> list[Any]:
    """A spis with one dokument and one komponenta per file path, as snapshots.

    The archival fields a SIP needs are all there, so the spis closes under
    the default `[closing] missing_metadata = "wait"`.
    """
    records: list[Any] = [
        SpisSnapshot(
            **agent.envelope(),
            spis_id=spis_id,
            source_version=version,
            spisova_znacka=f"OÚ/{spis_id}/2024",
            nazev=f"Žádost {spis_id}",
            spisovy_znak="1.2",
            skartacni_znak="A",
            skartacni_lhuta=10,
            datum_otevreni=date(2024, 3, 1),
            stav=stav,
            zpracovatel="Jana Nováková",
            zpracovatel_utvar="Obecní úřad",
            zpracovatel_pozice="referentka",
            spisovy_plan_identifikator="SP-2024",
            spisovy_plan_nazev="Spisový a skartační plán obce",
            spisovy_plan_platnost_od=date(2024, 1, 1),
            vecna_skupina_nazev="Žádosti občanů",
            skartacni_rezim_identifikator="A/10",
            skartacni_rezim_nazev="Archivní, 10 let",
            spousteci_udalost="uzavření spisu",
        ),
        DokumentSnapshot(
            **agent.envelope(),
            dokument_id=f"{spis_id}-d1",
            source_version=version,
            spis_id=spis_id,
            cislo_jednaci=f"OÚ/{spis_id}/1",
            nazev="Podání",
            puvod="doruceny",
            datum=date(2024, 3, 1),
            odesilatel_autor="Petr Dvořák",
            poradi=1,
            subjekty=(
                Subjekt(
                    role="odesilatel",
                    typ="fyzicka_osoba",
                    nazev="Petr Dvořák",
                    postovni_adresa="Náves 1, 339 01 Klatovy",
                    email="petr.dvorak@example.cz",
                ),
            ),
        ),
    ]
    records += [
        KomponentaSnapshot(
            **agent.envelope(),
            komponenta_id=f"{spis_id}-k{i}",
            source_version=version,
            dokument_id=f"{spis_id}-d1",
            poradi=i,
            verze=1,
            druh="příloha" if i > 1 else "hlavní dokument",
            forma_uchovani="originál",
            soubor=soubor,
        )
        for i, soubor in enumerate(soubory, start=1)
    ]
    return records


async def new_bucket(endpoint: str) -> StorageConfig:
    """Create a fresh bucket on the S3 server at `endpoint`; return it as `[storage]`."""
    bucket = f"spisync-{uuid.uuid4().hex[:12]}"
    config = StorageConfig(
        kind="s3",
        bucket=bucket,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        prefix="orp/",
        multipart_threshold=6 * 1024 * 1024,
        multipart_part_size=5 * 1024 * 1024,
    )
    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        await client.create_bucket(Bucket=bucket)
    return config
