"""Forwarding SIPs through the hub's outbox: exactly one stored package under duplicates, lost messages and kill -9."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import signal
import zipfile

import aio_pika
import msgspec
import pytest
from lxml import etree

from hub.forwarding import ReleaseSweeper, SipBuilder, SipCloser
from hub.forwarding.builder import BuiltClosing
from hub.forwarding.replies import parse_chunk_location
from hub.sip import BuiltSip
from hub.store import LocalBlobStore, SqliteMetadataStore
from hub.store.models import ReadySpis
from protocol import SipAccepted, SipManifest, encode, names, new_message_id, utc_now
from spisync.broker import open_connection
from testkit.hub import write_hub_toml
from testkit.waiting import wait_for
from tests.hub.closingkit import (
    ArchiveProcess,
    archive_config,
    close_spis,
    closing_hub_config,
    pdf,
    send_spis,
    staged_chunks,
    start_archive,
    stored_packages,
    wait_for_state,
)
from tests.hub.hubkit import HubProcess


@pytest.fixture
def config(shared_broker, vhost, tmp_path):
    return closing_hub_config(shared_broker, vhost, tmp_path / "hub")


async def _publish(shared_broker, vhost, exchange_name, routing_key, body, **props):
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(exchange_name, ensure=False)
        message = aio_pika.Message(
            body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, user_id="guest", **props
        )
        await exchange.publish(message, routing_key, mandatory=True)


async def _purge(shared_broker, vhost, queue_name) -> None:
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name, ensure=False)
        await queue.purge()


async def _forwarded_in_inbox(shared_broker, vhost, store, ico, spis_id):
    """Wait until the SIP is forwarded (all its messages sit in archive.inbox)."""
    return await wait_for_state(store, ico, spis_id, "forwarded", sip_state="forwarded")


async def test_duplicate_closings_and_replies_store_one_package(
    shared_broker, vhost, config, make_agent, start_hub, store_of, tmp_path, ico
):
    """The same closing delivered twice, offered to the closer again, and the archive's acceptance delivered twice leave exactly one stored package and one SIP."""
    archive = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    try:
        agent = await make_agent(ico, config)
        await start_hub(config)
        await send_spis(agent, "D1", {"d1.pdf": pdf(12_000)})
        closed = await close_spis(agent, "D1", 2)
        await agent.send(closed)  # a redelivery: same message id
        await agent.send(msgspec.structs.replace(closed, message_id=new_message_id()))
        store = await store_of(config)
        row = await wait_for_state(store, ico, "D1", "archived")
        sip = await store.sips.sip(row.sip)
        assert sip is not None
        # The closing offered again (as after a restart) and the acceptance delivered again.
        blobs = LocalBlobStore(config.hub.data_path / "blobs")
        closer = SipCloser(store, SipBuilder(config, store, blobs, _event()), wake=lambda: None)
        await closer.spis_complete(_ready(ico, "D1", 1))
        accepted = SipAccepted(
            message_id=new_message_id(),
            sender="archive",
            sent_at=utc_now(),
            sip_name=sip.name,
            ico=ico,
            sha256=sip.sha256,
            archive_id=sip.archive_id,
        )
        for _ in range(2):
            await _publish(
                shared_broker,
                vhost,
                names.ARCHIVE_REPLY_EXCHANGE,
                names.archive_routing_key(config.hub.orp, ico, "sip_accepted"),
                encode(accepted),
                headers={names.HEADER_KIND: "sip_accepted", names.HEADER_SCHEMA_VERSION: 1},
                message_id=accepted.message_id,
                type="sip_accepted",
            )
        # A forced re-send of the accepted package: the archive answers with the same id.
        await _publish_manifest(shared_broker, vhost, config, sip)
        await wait_for(lambda: _inbox_empty(shared_broker, vhost), what="the archive to answer")
        assert len(stored_packages(archive.config, ico)) == 1
        [again] = await store.sips.sips_of(ico)
        assert (again.state, again.archive_id, again.failures) == ("accepted", sip.archive_id, ())
        assert (await wait_for_state(store, ico, "D1", "archived")).sip == sip.name
    finally:
        await archive.stop()


def _event():
    return asyncio.Event()


def _ready(ico, spis_id, closing_seq):
    return ReadySpis(ico=ico, spis_id=spis_id, closing_seq=closing_seq)


async def _inbox_empty(shared_broker, vhost) -> bool:
    connection = await open_connection(shared_broker.url(vhost), name="spisync tests")
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(names.ARCHIVE_INBOX_QUEUE, passive=True)
        result = queue.declaration_result
        return result.message_count == 0


async def _publish_manifest(shared_broker, vhost, config, sip):
    """Publish the manifest of a SIP the hub built (its chunks are not sent)."""
    data = (config.hub.data_path / "sips" / f"{sip.name}.zip").read_bytes()
    size = config.hub.archive_chunk_size
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    manifest = SipManifest(
        message_id=new_message_id(),
        sender=f"hub:{config.hub.orp}",
        sent_at=utc_now(),
        sip_name=sip.name,
        ico=sip.ico,
        spis_id=sip.spis_id,
        closing_seq=sip.closing_seq,
        size=len(data),
        sha256=sip.sha256,
        chunk_size=size,
        chunk_sha256=tuple(hashlib.sha256(c).hexdigest() for c in chunks),
    )
    await _publish(
        shared_broker,
        vhost,
        names.ARCHIVE_EXCHANGE,
        names.archive_routing_key(config.hub.orp, sip.ico, "sip_manifest"),
        encode(manifest),
        headers={names.HEADER_KIND: "sip_manifest", names.HEADER_SCHEMA_VERSION: 1},
        message_id=manifest.message_id,
        type="sip_manifest",
    )


async def test_archive_reporting_missing_chunks_gets_them_again(
    shared_broker, vhost, config, make_agent, start_hub, store_of, tmp_path, ico
):
    """When the archive answers SIP-INCOMPLETE naming chunks, the hub re-sends them with the manifest and the SIP is archived."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    await send_spis(agent, "I1", {"i1.pdf": pdf(15_000)})
    await close_spis(agent, "I1", 2)
    store = await store_of(config)
    row = await _forwarded_in_inbox(shared_broker, vhost, store, ico, "I1")
    # The chunks and manifest are lost on the way; only a stray manifest reaches the archive.
    await _purge(shared_broker, vhost, names.ARCHIVE_INBOX_QUEUE)
    sip = await store.sips.sip(row.sip)
    await _publish_manifest(shared_broker, vhost, config, sip)
    archive = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    try:
        archived = await wait_for_state(store, ico, "I1", "archived")
        [again] = await store.sips.sips_of(ico)
        assert again.sends >= 2
        assert [p.stem for p in stored_packages(archive.config, ico)] == [archived.sip]
    finally:
        await archive.stop()


async def test_sip_without_a_reply_is_sent_again(
    shared_broker, vhost, make_agent, start_hub, store_of, tmp_path, ico
):
    """A forwarded SIP whose messages were lost and that got no reply within `archive_resend_s` is sent again and archived."""
    config = closing_hub_config(shared_broker, vhost, tmp_path / "hub", archive_resend_s=1.0)
    agent = await make_agent(ico, config)
    await start_hub(config)
    await send_spis(agent, "N1", {"n1.pdf": pdf(6_000)})
    await close_spis(agent, "N1", 2)
    store = await store_of(config)
    await _forwarded_in_inbox(shared_broker, vhost, store, ico, "N1")
    await _purge(shared_broker, vhost, names.ARCHIVE_INBOX_QUEUE)
    archive = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    try:
        await wait_for_state(store, ico, "N1", "archived")
        assert len(stored_packages(archive.config, ico)) == 1
    finally:
        await archive.stop()


async def test_kill_9_of_the_hub_mid_transfer_stores_one_package(
    shared_broker, vhost, make_agent, hub_processes, tmp_path, ico
):
    """A hub killed while sending a SIP resends it after restart; the archive keeps exactly one package and the spis ends `archived`."""
    config = closing_hub_config(
        shared_broker, vhost, tmp_path / "hub", archive_chunk_size=1024, archive_window=1
    )
    agent = await make_agent(ico, config)
    archive = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    try:
        config_path = write_hub_toml(config, tmp_path / "HUB.toml")
        hub = HubProcess.start(config_path, tmp_path / "hub1.log")
        hub_processes.append(hub)
        await send_spis(agent, "K1", {"k1.pdf": pdf(400_000), "k2.pdf": pdf(200_000)})
        await close_spis(agent, "K1", 2)

        async def transferring() -> bool:
            return staged_chunks(archive.config) > 0 or bool(stored_packages(archive.config, ico))

        await wait_for(transferring, what="the transfer to start", timeout=60)
        hub.kill()
        partial = not stored_packages(archive.config, ico)
        restarted = HubProcess.start(config_path, tmp_path / "hub2.log")
        hub_processes.append(restarted)
        store = await SqliteMetadataStore.open(config.hub.data_path, instance="test")
        try:
            await wait_for_state(store, ico, "K1", "archived", timeout=60)
        finally:
            await store.close()
        assert restarted.terminate() == 0
        assert len(stored_packages(archive.config, ico)) == 1
        assert partial, "the kill should have hit the transfer (make the SIP larger)"
    finally:
        await archive.stop()


async def test_kill_9_of_the_archive_mid_transfer_stores_one_package(
    shared_broker, vhost, make_agent, start_hub, store_of, tmp_path, ico
):
    """An archive killed while receiving a SIP continues after restart; it keeps exactly one package and the spis ends `archived`."""
    config = closing_hub_config(shared_broker, vhost, tmp_path / "hub", archive_chunk_size=1024)
    agent = await make_agent(ico, config)
    await start_hub(config)
    archive = archive_config(shared_broker, vhost, tmp_path / "archive")
    process = ArchiveProcess.start(archive, tmp_path, "archive1")
    try:
        await send_spis(agent, "A1", {"a1.pdf": pdf(500_000)})
        await close_spis(agent, "A1", 2)
        await wait_for(lambda: _staged(archive), what="the archive to stage chunks", timeout=60)
        process.kill()
        partial = not stored_packages(archive, ico)
        process = ArchiveProcess.start(archive, tmp_path, "archive2")
        store = await store_of(config)
        await wait_for_state(store, ico, "A1", "archived", timeout=60)
        assert len(stored_packages(archive, ico)) == 1
        assert partial, "the kill should have hit the transfer (make the SIP larger)"
    finally:
        process.terminate()


async def _staged(archive) -> bool:
    return staged_chunks(archive) > 0


class _CorruptingBuilder(SipBuilder):
    """Builds the SIP, then spoils one CHECKSUM in its mets.xml (as a broken builder would)."""

    async def build(self, detail):
        built = await super().build(detail)
        path = built.sip.path
        spoiled = path.with_suffix(".spoiled")
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(spoiled, "w") as target:
            for info in source.infolist():
                data = source.read(info)
                if info.filename.endswith("/mets.xml"):
                    root = etree.fromstring(data)
                    ns = {"mets": "http://www.loc.gov/METS/"}
                    root.xpath("//mets:file", namespaces=ns)[0].set("CHECKSUM", "0" * 64)
                    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
                target.writestr(info, data)
        shutil.move(spoiled, path)
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        return BuiltClosing(
            sip=BuiltSip(name=built.sip.name, path=path, sha256=sha256, size=len(data)),
            components=built.components,
        )


async def test_rejected_sip_is_visible_and_releases_nothing(
    shared_broker, vhost, make_agent, start_hub, store_of, tmp_path, ico
):
    """A SIP the archive rejects shows every failure in `hub spisy`, is not retried, and none of its blobs or its ZIP is released."""
    config = closing_hub_config(
        shared_broker, vhost, tmp_path / "hub", release_grace_s=0.0, archive_resend_s=1.0
    )
    agent = await make_agent(ico, config)
    store = await SqliteMetadataStore.open(config.hub.data_path, instance="closer")
    blobs = LocalBlobStore(config.hub.data_path / "blobs")
    archive = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    try:
        builder = _CorruptingBuilder(config, store, blobs, _event())
        # Without the link's wake-up the forwarder finds the SIP on its next poll.
        await start_hub(config, closer=SipCloser(store, builder, wake=lambda: None))
        files = {"x.pdf": pdf(8_000)}
        await send_spis(agent, "X1", files)
        await close_spis(agent, "X1", 2)
        row = await wait_for_state(store, ico, "X1", "forwarded", sip_state="rejected")
        codes = {f.code for f in row.archive_failures}
        assert codes, row
        assert "SIP-INCOMPLETE" not in codes
        assert stored_packages(archive.config, ico) == []
        assert await ReleaseSweeper(config, store, blobs).sweep() == 0
        assert (config.hub.data_path / "sips" / f"{row.sip}.zip").exists()
        [current] = await store.current_files(ico)
        assert not current.released
        detail = await store.spis_detail(ico, "X1")
        content = await store.content(detail.dokumenty[0].komponenty[0].file.sha256)
        assert all([await blobs.exists(c) for c in content.chunks])
    finally:
        await archive.stop()
        await store.close()


async def _inbox_has_messages(shared_broker, vhost) -> bool:
    return not await _inbox_empty(shared_broker, vhost)


async def test_sigterm_during_a_sip_transfer_exits_within_ten_seconds(
    shared_broker, vhost, make_agent, hub_processes, tmp_path, ico
):
    """`spisync hub run` stops with exit code 0 within the 10 s bound even while it is sending a large SIP."""
    config = closing_hub_config(
        shared_broker, vhost, tmp_path / "hub", archive_chunk_size=1024, archive_window=1
    )
    agent = await make_agent(ico, config)
    hub = HubProcess.start(write_hub_toml(config, tmp_path / "HUB.toml"), tmp_path / "hub.log")
    hub_processes.append(hub)
    await send_spis(agent, "T1", {"t1.pdf": pdf(3_000_000)})
    await close_spis(agent, "T1", 2)
    await wait_for(
        lambda: _inbox_has_messages(shared_broker, vhost), what="the transfer to start", timeout=60
    )
    hub.process.send_signal(signal.SIGTERM)
    assert hub.process.wait(10) == 0
    events = [e.get("event") for e in hub.events()]
    assert "hub_stopped" in events
    assert "sip_forwarded" not in events, "the SIGTERM should have hit the transfer"


def test_incomplete_locations_are_parsed():
    """The archive's `chunks:` locations give the indexes to send again; anything else means all."""
    assert parse_chunk_location("chunks:2,5") == [2, 5]
    assert parse_chunk_location("chunks:0-2,7") == [0, 1, 2, 7]
    assert parse_chunk_location("mets.xml") is None
    assert parse_chunk_location("chunks:x") is None
