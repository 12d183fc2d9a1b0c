"""A test-side hub: builds real SIPs and sends them to the archive as the hub would."""

from __future__ import annotations

import asyncio
import hashlib
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import TYPE_CHECKING

import aio_pika
from lxml import etree

from archive.inbox import declare_inbox
from protocol import (
    ChunkMeta,
    Placeholder,
    SipAccepted,
    SipManifest,
    SipRejected,
    chunk_headers,
    decode,
    encode,
    kind_of,
    names,
    new_message_id,
    utc_now,
)
from spisync.broker import open_connection
from testkit.nsesss_sip import Component, SipSpec, write_package

if TYPE_CHECKING:
    from pathlib import Path

    from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractQueue

CET = timezone(timedelta(hours=1))
ORP = "testorp"
CHUNK_SIZE = 1024
METS_NS = {"mets": "http://www.loc.gov/METS/"}


@dataclass(frozen=True)
class Sip:
    """A SIP ZIP on disk with what its manifest needs."""

    name: str
    ico: str
    path: Path
    sha256: str
    placeholders: tuple[Placeholder, ...] = ()

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    def chunks(self, size: int = CHUNK_SIZE) -> list[bytes]:
        data = self.data
        return [data[i : i + size] for i in range(0, len(data), size)]

    def manifest(self, size: int = CHUNK_SIZE) -> SipManifest:
        return SipManifest(
            message_id=new_message_id(),
            sender=f"hub:{ORP}",
            sent_at=utc_now(),
            sip_name=self.name,
            ico=self.ico,
            spis_id="s1",
            closing_seq=0,
            size=len(self.data),
            sha256=self.sha256,
            chunk_size=size,
            chunk_sha256=tuple(hashlib.sha256(c).hexdigest() for c in self.chunks(size)),
            placeholders=self.placeholders,
        )


def build_sip(out_dir: Path, ico: str, *, spis_id: str = "s1", subject: str = "Kácení") -> Sip:
    """Build a valid SIP, written from the standard (testkit), not by hub.sip; several chunks."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # Incompressible and never repeating, so every chunk of the ZIP is different.
    noise = b"".join(hashlib.sha256(f"{subject}{i}".encode()).digest() for i in range(200))
    main = b"%PDF-1.7 " + noise
    annex = b"%PDF-1.7 priloha " + noise[::-1]
    spec = SipSpec(
        name=f"SIP_{ico}_{spis_id}_0",
        dokumenty=[
            [
                Component(1, 1, len(main), lambda: iter([main])),
                Component(2, 1, len(annex), lambda: iter([annex]), druh="příloha"),
            ]
        ],
    )
    path = write_package(out_dir, spec)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    # What a hub would declare in the manifest for a field its registry lacked.
    placeholders = (Placeholder(field="zpracovatel.pracovni_pozice", value="neuvedeno"),)
    return Sip(name=spec.name, ico=ico, path=path, sha256=digest, placeholders=placeholders)


def with_wrong_checksum(sip: Sip, out_dir: Path) -> Sip:
    """Return a copy of `sip` whose first component's CHECKSUM in mets.xml is wrong."""
    with zipfile.ZipFile(sip.path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / sip.path.name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            if not info.filename.endswith("/mets.xml"):
                archive.writestr(info, data)
                continue
            root = etree.fromstring(data)
            root.xpath("//mets:file", namespaces=METS_NS)[0].set("CHECKSUM", "0" * 64)
            archive.writestr(info, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return Sip(sip.name, sip.ico, path, hashlib.sha256(path.read_bytes()).hexdigest())


@dataclass
class HubDouble:
    """Publishes SIPs to `spisync.archive` as user guest and reads the archive's replies."""

    url: str
    connection: AbstractConnection | None = None
    channel: AbstractChannel | None = None
    replies: AbstractQueue | None = None
    dead: AbstractQueue | None = None
    seen: list[SipAccepted | SipRejected] = field(default_factory=list)

    async def start(self) -> None:
        self.connection = await open_connection(self.url, name="spisync tests")
        self.channel = await self.connection.channel(on_return_raises=True)
        # Provisioning's part: the inbox exists before the archive first runs.
        await declare_inbox(self.channel)
        # A classic queue of the test's own: basic.get is not allowed on SAC quorum queues.
        self.replies = await self.channel.declare_queue("test.archive-replies", durable=True)
        await self.replies.bind(names.ARCHIVE_REPLY_EXCHANGE, routing_key=f"orp.{ORP}.#")
        self.dead = await self.channel.get_queue(names.DEAD_LETTER_QUEUE)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def publish(
        self, routing_key: str, body: bytes, headers: dict[str, object], **props: object
    ) -> None:
        assert self.channel is not None
        exchange = await self.channel.get_exchange(names.ARCHIVE_EXCHANGE)
        message = aio_pika.Message(
            body,
            headers=headers,  # type: ignore[arg-type]
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            user_id="guest",
            message_id=new_message_id(),
            **props,  # type: ignore[arg-type]
        )
        await exchange.publish(message, routing_key, mandatory=True)

    async def send_chunk(
        self, sip: Sip, index: int, *, corrupt: bool = False, size: int = CHUNK_SIZE
    ) -> None:
        chunk = sip.chunks(size)[index]
        meta = ChunkMeta(
            message_id=new_message_id(),
            sender=f"hub:{ORP}",
            sent_at=utc_now(),
            object_sha256=sip.sha256,
            index=index,
            sha256=hashlib.sha256(chunk).hexdigest(),
        )
        body = (b"X" + chunk[1:]) if corrupt else chunk
        await self.publish(
            names.archive_routing_key(ORP, sip.ico, "chunk"),
            body,
            dict(chunk_headers(meta)),
            content_type="application/octet-stream",
            type="chunk",
        )

    async def send_manifest(self, sip: Sip, *, size: int = CHUNK_SIZE) -> None:
        await self.publish(
            names.archive_routing_key(ORP, sip.ico, "sip_manifest"),
            encode(sip.manifest(size)),
            {names.HEADER_KIND: "sip_manifest", names.HEADER_SCHEMA_VERSION: 1},
            content_type="application/json",
            type="sip_manifest",
        )

    async def send_sip(self, sip: Sip, *, skip: frozenset[int] = frozenset()) -> None:
        """Send every chunk (but `skip`), then the manifest: the hub's order."""
        for index in range(len(sip.chunks())):
            if index not in skip:
                await self.send_chunk(sip, index)
        await self.send_manifest(sip)

    async def reply(self, timeout: float = 30.0) -> SipAccepted | SipRejected:
        """Wait for the archive's next reply."""
        assert self.replies is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            message = await self.replies.get(fail=False)
            if message is not None:
                await message.ack()
                decoded = decode(message.body)
                assert isinstance(decoded, SipAccepted | SipRejected), decoded
                assert message.user_id == "guest"
                assert message.headers[names.HEADER_KIND] == kind_of(decoded)
                self.seen.append(decoded)
                return decoded
            await asyncio.sleep(0.05)
        raise TimeoutError("no reply from the archive")

    async def dead_letter(self, timeout: float = 30.0) -> aio_pika.abc.AbstractIncomingMessage:
        """Wait for the next message in `spisync.dead`."""
        assert self.dead is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            message = await self.dead.get(fail=False)
            if message is not None:
                await message.ack()
                return message
            await asyncio.sleep(0.05)
        raise TimeoutError("nothing was dead-lettered")
