"""The archive consumer against a real broker: store, reject, dead-letter, idempotence."""

from __future__ import annotations

import asyncio
import hashlib
import zipfile
from typing import TYPE_CHECKING

import msgspec
from lxml import etree

from archive.service import run
from archive.validation import validate_sip
from protocol import Placeholder, SipAccepted, SipRejected, encode, names
from protocol.archive import PLACEHOLDER_NOTE
from testkit.waiting import wait_for
from tests.archive.conftest import wait_for_consumer
from tests.archive.hub_double import (
    METS_NS,
    ORP,
    HubDouble,
    Sip,
    build_sip,
    with_wrong_checksum,
)

if TYPE_CHECKING:
    from pathlib import Path

    from archive.config import ArchiveConfig


def stored_files(config: ArchiveConfig) -> list[Path]:
    return sorted(config.archive.data_path.glob("*/*.zip"))


def staged_chunks(config: ArchiveConfig) -> list[Path]:
    return sorted((config.archive.data_path / "staging").glob("*/*"))


async def _chunks_discarded(archive: ArchiveConfig) -> None:
    """Wait until the staged chunks are gone (the archive discards them after replying)."""

    async def discarded() -> bool:
        return staged_chunks(archive) == []

    await wait_for(discarded, what="staged chunks discarded")


async def test_valid_sip_is_stored_and_accepted(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip
) -> None:
    """A valid SIP sent in chunks is stored byte-identical at <data_dir>/<ičo>/<name>.zip and accepted with its SHA-256 and archive id."""
    assert len(sip.chunks()) > 3
    await hub.send_sip(sip)
    reply = await hub.reply()
    assert isinstance(reply, SipAccepted), reply
    assert (reply.sip_name, reply.ico, reply.sha256) == (sip.name, sip.ico, sip.sha256)
    assert reply.archive_id.startswith("KDS-")
    path = archive.archive.data_path / sip.ico / f"{sip.name}.zip"
    assert stored_files(archive) == [path]
    assert path.read_bytes() == sip.data
    await _chunks_discarded(archive)


def with_placeholder_note(sip: Sip, out_dir: Path, field: str, value: str) -> Sip:
    """Return a copy of `sip` whose metsHdr lists one placeholder, as a spisync hub writes it."""
    with zipfile.ZipFile(sip.path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / sip.path.name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in entries:
            if not info.filename.endswith("/mets.xml"):
                target.writestr(info, data)
                continue
            root = etree.fromstring(data)
            [agent] = root.xpath("//mets:agent[@TYPE='ORGANIZATION']", namespaces=METS_NS)
            note = etree.SubElement(agent, f"{{{METS_NS['mets']}}}note")
            note.text = f"{PLACEHOLDER_NOTE}{field} = {value}"
            target.writestr(info, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Sip(sip.name, sip.ico, path, digest, placeholders=())


async def test_receipt_reports_the_placeholders_the_package_lists(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip, tmp_path: Path
) -> None:
    """The receipt's placeholders are those the stored package's metsHdr lists, not the manifest's claim."""
    noted = with_placeholder_note(
        sip, tmp_path / "noted", "spis s1: zpracovatel_utvar", "neuvedeno"
    )
    await hub.send_sip(noted)
    reply = await hub.reply()
    assert isinstance(reply, SipAccepted), reply
    assert reply.placeholders == (
        Placeholder(field="spis s1: zpracovatel_utvar", value="neuvedeno"),
    )


async def test_invalid_sip_is_rejected_with_every_rule(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip, tmp_path: Path
) -> None:
    """A SIP with a wrong component checksum is rejected with every failing rule code and nothing is stored."""
    bad = with_wrong_checksum(sip, tmp_path / "bad")
    expected = validate_sip(bad.path)
    assert "kom2" in expected.codes
    await hub.send_sip(bad)
    reply = await hub.reply()
    assert isinstance(reply, SipRejected), reply
    assert reply.sha256 == bad.sha256
    assert [(f.code, f.location) for f in reply.failures] == [
        (f.code, f.location) for f in expected.failures
    ]
    assert stored_files(archive) == []
    await _chunks_discarded(archive)


async def test_corrupt_chunk_is_dead_lettered_not_staged(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip
) -> None:
    """A chunk whose bytes differ from its header hash is dead-lettered with a reason and not staged; the SIP is then incomplete until the chunk is re-sent."""
    count = len(sip.chunks())
    for index in range(count):
        await hub.send_chunk(sip, index, corrupt=index == 2)
    dead = await hub.dead_letter()
    assert dead.headers[names.HEADER_REJECT_REASON] == "chunk-sha256-mismatch"
    assert dead.routing_key == names.archive_routing_key(ORP, sip.ico, "chunk")
    await hub.send_manifest(sip)
    reply = await hub.reply()
    assert isinstance(reply, SipRejected), reply
    assert [f.code for f in reply.failures] == ["SIP-INCOMPLETE"]
    assert "(indexes 2)" in reply.failures[0].message
    assert reply.failures[0].location == "chunks:2"
    good_chunk = hashlib.sha256(sip.chunks()[2]).hexdigest()
    staged = {path.name for path in staged_chunks(archive)}
    assert good_chunk not in staged
    assert len(staged) == count - 1  # The chunks that did arrive wait for the re-send.
    assert stored_files(archive) == []

    await hub.send_chunk(sip, 2)
    await hub.send_manifest(sip)
    reply = await hub.reply()
    assert isinstance(reply, SipAccepted), reply
    assert stored_files(archive)[0].read_bytes() == sip.data


async def test_duplicate_sip_gives_one_file_and_the_same_archive_id(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip
) -> None:
    """The whole SIP delivered twice leaves one stored file and both replies carry the same archive id."""
    await hub.send_sip(sip)
    first = await hub.reply()
    await hub.send_sip(sip)
    second = await hub.reply()
    assert isinstance(first, SipAccepted), first
    assert isinstance(second, SipAccepted), second
    assert second.archive_id == first.archive_id
    assert second.message_id != first.message_id
    assert len(stored_files(archive)) == 1
    await _chunks_discarded(archive)


async def test_same_name_other_content_is_rejected_and_original_kept(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip, tmp_path: Path
) -> None:
    """A different package under a stored name is rejected with SIP-CONFLICT and the stored one stays byte-identical."""
    await hub.send_sip(sip)
    first = await hub.reply()
    assert isinstance(first, SipAccepted), first
    other = build_sip(tmp_path / "other", sip.ico, subject="Jiná věc")
    assert other.name == sip.name
    assert other.sha256 != sip.sha256
    await hub.send_sip(other)
    reply = await hub.reply()
    assert isinstance(reply, SipRejected), reply
    assert [f.code for f in reply.failures] == ["SIP-CONFLICT"]
    assert first.archive_id in reply.failures[0].message
    assert [p.read_bytes() for p in stored_files(archive)] == [sip.data]


async def test_two_sips_get_distinct_archive_ids(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip, tmp_path: Path
) -> None:
    """Two different SIPs are both stored, each with its own archive id."""
    other = build_sip(tmp_path / "other", sip.ico, spis_id="s2")
    await hub.send_sip(sip)
    await hub.send_sip(other)
    first, second = await hub.reply(), await hub.reply()
    assert isinstance(first, SipAccepted), first
    assert isinstance(second, SipAccepted), second
    assert {first.sip_name, second.sip_name} == {sip.name, other.name}
    assert first.archive_id != second.archive_id
    assert len(stored_files(archive)) == 2


async def test_undecodable_manifest_is_dead_lettered(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip
) -> None:
    """A manifest that is not valid JSON goes to spisync.dead with reason `undecodable` and gets no reply."""
    await hub.publish(names.archive_routing_key(ORP, sip.ico, "sip_manifest"), b"{not json", {})
    dead = await hub.dead_letter()
    assert dead.headers[names.HEADER_REJECT_REASON] == "undecodable"
    assert dead.body == b"{not json"
    assert stored_files(archive) == []


async def test_unknown_kind_and_foreign_obec_are_dead_lettered(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip, other_ico: str
) -> None:
    """An unknown kind and a manifest whose IČO differs from its routing key are dead-lettered with their reasons."""
    await hub.publish(names.archive_routing_key(ORP, sip.ico, "sip_accepted"), b"{}", {})
    dead = await hub.dead_letter()
    assert dead.headers[names.HEADER_REJECT_REASON] == "unknown-kind"
    await hub.publish(
        names.archive_routing_key(ORP, other_ico, "sip_manifest"), encode(sip.manifest()), {}
    )
    dead = await hub.dead_letter()
    assert dead.headers[names.HEADER_REJECT_REASON] == "identity-mismatch"
    assert stored_files(archive) == []


async def test_unroutable_reply_holds_the_manifest_until_a_hub_queue_is_bound(
    archive: ArchiveConfig, hub: HubDouble, sip: Sip
) -> None:
    """With no queue bound for replies the verdict is not lost: the archive retries until it can be routed."""
    assert hub.replies is not None
    await hub.replies.unbind(names.ARCHIVE_REPLY_EXCHANGE, routing_key=f"orp.{ORP}.#")
    await hub.send_sip(sip)
    await asyncio.sleep(1.0)
    assert await hub.replies.get(fail=False) is None
    await hub.replies.bind(names.ARCHIVE_REPLY_EXCHANGE, routing_key=f"orp.{ORP}.#")
    reply = await hub.reply()
    assert isinstance(reply, SipAccepted), reply
    assert len(stored_files(archive)) == 1


async def test_configured_malware_scanner_rejects_with_vir1(
    archive_config: ArchiveConfig, hub: HubDouble, sip: Sip
) -> None:
    """With `[archive] vir1_command` set, a scanner reporting a threat (exit 1) rejects the SIP under vir1 and nothing is stored."""
    section = msgspec.structs.replace(archive_config.archive, vir1_command="false {path}")
    config = msgspec.structs.replace(archive_config, archive=section)
    shutdown = asyncio.Event()
    task = asyncio.create_task(run(config, shutdown))
    try:
        await wait_for_consumer(hub)
        await hub.send_sip(sip)
        reply = await hub.reply()
        assert isinstance(reply, SipRejected), reply
        assert [f.code for f in reply.failures] == ["vir1"]
        assert stored_files(config) == []
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 10)
