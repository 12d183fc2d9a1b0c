"""Content ingest: chunks, whole-file verification, repair requests, receipts, dedupe, versions."""

from __future__ import annotations

import hashlib
import os

import msgspec
import pytest

from hub.content import open_content
from hub.store import open_blob_store
from protocol import FileReceipt, NeedChunks, Tombstone, names, new_message_id
from testkit.hub import make_hub_config
from testkit.waiting import wait_for
from tests.hub.hubkit import dead_letters


def _receipt_for(manifest):
    return lambda m: (
        isinstance(m, FileReceipt)
        and m.sha256 == manifest.sha256
        and m.source_seq == manifest.source_seq
    )


@pytest.mark.parametrize("by_transfer", [False, True], ids=["by-hash", "by-transfer"])
async def test_file_version_is_recorded_and_receipted(
    hub_config, make_agent, start_hub, store_of, ico, by_transfer
):
    """A file sent as chunks and a manifest is recorded, receipted and streams back byte for byte.

    Its chunks name the whole file's hash, or (sent while the file was hashed) only
    the manifest's message id: followed whole either way, nothing read back.
    """
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    data = os.urandom(1000)
    manifest = await agent.send_file(
        "spisy/žádost.pdf", data, chunk_size=64, by_transfer=by_transfer
    )
    receipt = await agent.wait_for_reply(_receipt_for(manifest), what="receipt")
    assert receipt.path == "spisy/žádost.pdf"
    assert receipt.sender == "hub:testorp"
    store = await store_of(hub_config)
    [current] = await store.current_files(ico)
    assert (current.path, current.size, current.sha256, current.versions, current.deleted) == (
        "spisy/žádost.pdf",
        1000,
        manifest.sha256,
        1,
        False,
    )
    blobs = await open_blob_store(hub_config)
    streamed = b"".join([b async for b in open_content(store, blobs, manifest.sha256)])
    assert streamed == data
    assert hub.metrics.replies_sent >= 1
    # Its 16 chunks came in order: hashed whole as they were stored, never read back.
    assert hub.metrics.verifications_started == 0


async def test_missing_chunks_trigger_need_chunks_then_resend_completes(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A manifest whose chunks did not all arrive gets NeedChunks for exactly those, and nothing is recorded."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    data = os.urandom(40)
    manifest = await agent.send_file("a.txt", data, chunk_size=4, skip=frozenset({2, 3, 7}))
    need = await agent.wait_for_reply(lambda m: isinstance(m, NeedChunks), what="need_chunks")
    assert (need.path, need.sha256, need.indexes) == ("a.txt", manifest.sha256, (2, 3, 7))
    store = await store_of(hub_config)
    assert await store.current_files(ico) == []
    # The agent re-sends the chunks asked for and the manifest again (new id, same seq).
    chunks = [data[i : i + 4] for i in range(0, 40, 4)]
    for index in need.indexes:
        await agent.send_chunk(chunks[index], object_sha256=manifest.sha256, index=index)
    again = await agent.send_file(
        "a.txt", data, chunk_size=4, source_seq=manifest.source_seq, skip=frozenset(range(10))
    )
    await agent.wait_for_reply(_receipt_for(again), what="receipt")
    [current] = await store.current_files(ico)
    assert current.sha256 == manifest.sha256
    # Chunks that came out of order are read back and hashed in order before the version counts.
    assert hub.metrics.verifications_started == 1


@pytest.mark.parametrize("chunk_size", [4096, 300], ids=["one-chunk", "four-chunks"])
async def test_manifest_whose_size_or_hash_lies_is_not_recorded(
    hub_config, make_agent, start_hub, store_of, ico, chunk_size
):
    """Verified chunks under a manifest with a wrong size or whole-file hash get NeedChunks, not a version."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    data = os.urandom(1000)
    honest, chunks = agent.manifest("lies.bin", data, chunk_size=chunk_size)
    for index, chunk in enumerate(chunks):
        await agent.send_chunk(chunk, object_sha256=honest.sha256, index=index)
    wrong_size = msgspec.structs.replace(honest, message_id=new_message_id(), size=999)
    wrong_hash = msgspec.structs.replace(
        honest, message_id=new_message_id(), sha256=hashlib.sha256(b"other").hexdigest()
    )
    for liar in (wrong_size, wrong_hash):
        await agent.send(liar)
        need = await agent.wait_for_reply(
            lambda m, liar=liar: isinstance(m, NeedChunks) and m.sha256 == liar.sha256,
            what="need_chunks",
        )
        assert need.indexes == ()
    store = await store_of(hub_config)
    assert await store.current_files(ico) == []
    await agent.send(honest)
    await agent.wait_for_reply(_receipt_for(honest), what="receipt")
    [current] = await store.current_files(ico)
    assert (current.size, current.sha256) == (1000, honest.sha256)


async def test_chunks_sent_under_a_false_whole_file_hash_are_refused_without_reading_back(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Chunks streamed in order under a whole-file hash they do not make: NeedChunks, no version, nothing read back."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    honest, chunks = agent.manifest("forged.bin", os.urandom(1000), chunk_size=300)
    forged = msgspec.structs.replace(honest, sha256=hashlib.sha256(b"other").hexdigest())
    for index, chunk in enumerate(chunks):
        await agent.send_chunk(chunk, object_sha256=forged.sha256, index=index)
    await agent.send(forged)
    need = await agent.wait_for_reply(
        lambda m: isinstance(m, NeedChunks) and m.sha256 == forged.sha256, what="need_chunks"
    )
    assert need.indexes == ()
    assert "SHA-256" in need.reason
    store = await store_of(hub_config)
    assert await store.current_files(ico) == []
    assert hub.metrics.verifications_started == 0


async def test_chunks_of_another_transfer_are_read_back_before_the_version_counts(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Chunks naming a transfer that is not this manifest's prove nothing by themselves: the hub reads them back."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    data = os.urandom(1000)
    manifest, chunks = agent.manifest("jiný.bin", data, chunk_size=300)
    other = new_message_id()
    for index, chunk in enumerate(chunks):
        await agent.send_chunk(chunk, object_sha256="", index=index, transfer=other)
    await agent.send(manifest)
    await agent.wait_for_reply(_receipt_for(manifest), what="receipt")
    assert hub.metrics.verifications_started == 1


async def test_chunks_of_a_transfer_under_a_false_whole_file_hash_are_refused(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A transfer's chunks followed whole under a manifest whose hash they do not make: NeedChunks, no version."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    honest, chunks = agent.manifest("podvrh.bin", os.urandom(1000), chunk_size=300)
    forged = msgspec.structs.replace(honest, sha256=hashlib.sha256(b"other").hexdigest())
    for index, chunk in enumerate(chunks):
        await agent.send_chunk(chunk, object_sha256="", index=index, transfer=forged.message_id)
    await agent.send(forged)
    need = await agent.wait_for_reply(
        lambda m: isinstance(m, NeedChunks) and m.sha256 == forged.sha256, what="need_chunks"
    )
    assert need.indexes == ()
    store = await store_of(hub_config)
    assert await store.current_files(ico) == []
    assert hub.metrics.verifications_started == 0


@pytest.mark.parametrize("by_transfer", [False, True], ids=["by-hash", "by-transfer"])
async def test_corrupt_chunk_is_rejected_and_requested_again(
    hub_config, make_agent, start_hub, store_of, ico, by_transfer
):
    """A chunk whose bytes do not match its hash is never stored; the manifest gets a NeedChunks naming it."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    data = b"0123456789abcdef"
    manifest, chunks = agent.manifest("b.bin", data, chunk_size=4)
    # Named by the whole file's hash, or (sent while hashing) by the manifest's message id only.
    named = (
        {"object_sha256": "", "transfer": manifest.message_id}
        if by_transfer
        else {"object_sha256": manifest.sha256}
    )
    for index, chunk in enumerate(chunks):
        if index == 1:
            await agent.send_chunk(b"XXXX", index=1, sha256=manifest.chunk_sha256[1], **named)
        else:
            await agent.send_chunk(chunk, index=index, **named)
    await agent.send(manifest)
    need = await agent.wait_for_reply(lambda m: isinstance(m, NeedChunks), what="need_chunks")
    assert need.indexes == (1,)
    assert "failed verification" in need.reason
    store = await store_of(hub_config)
    assert await store.stored_chunks([manifest.chunk_sha256[1]]) == set()
    assert await store.stored_chunks([hashlib.sha256(b"XXXX").hexdigest()]) == set()
    assert not any(isinstance(m, FileReceipt) for m in agent.received)


async def test_identical_content_is_stored_once_but_each_obec_must_upload_it(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Obec B gets no receipt for content only obec A uploaded: it must send the chunks itself; blobs are stored once."""
    other = "00255319" if ico != "00255319" else "00509001"
    agent_a = await make_agent(ico)
    agent_b = await make_agent(other)
    await start_hub(hub_config)
    data = os.urandom(64)
    manifest_a = await agent_a.send_file("shared.pdf", data, chunk_size=16)
    await agent_a.wait_for_reply(_receipt_for(manifest_a), what="receipt for A")
    # B claims the same content without sending any chunk: as if the hub had nothing.
    manifest_b, chunks = agent_b.manifest("copy.pdf", data, chunk_size=16)
    await agent_b.send(manifest_b)
    need = await agent_b.wait_for_reply(
        lambda m: isinstance(m, NeedChunks), what="need_chunks for B"
    )
    assert need.indexes == (0, 1, 2, 3)
    assert not any(isinstance(m, FileReceipt) for m in agent_b.received)
    for index, chunk in enumerate(chunks):
        await agent_b.send_chunk(chunk, object_sha256=manifest_b.sha256, index=index)
    await agent_b.send(manifest_b)
    await agent_b.wait_for_reply(_receipt_for(manifest_b), what="receipt for B")
    blob_files = [p for p in (hub_config.hub.data_path / "blobs").rglob("*") if p.is_file()]
    assert len(blob_files) == 4
    store = await store_of(hub_config)
    assert [f.path for f in await store.current_files(other)] == ["copy.pdf"]


async def test_every_version_is_kept_and_deletes_are_tombstones(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Versions of a path are all kept, the highest source_seq is current even if it arrived first, and a delete is a tombstone."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    v3 = await agent.send_file("doc.txt", b"version three", source_seq=3)
    v1 = await agent.send_file("doc.txt", b"version one", source_seq=1)
    await agent.wait_for_reply(_receipt_for(v3), what="receipt v3")
    await agent.wait_for_reply(_receipt_for(v1), what="receipt v1")
    store = await store_of(hub_config)
    [current] = await store.current_files(ico)
    assert (current.sha256, current.versions, current.deleted) == (v3.sha256, 2, False)
    await agent.send(
        Tombstone(**agent.envelope(), path="doc.txt", source_seq=4, deleted_at=v3.sent_at)
    )

    async def deleted() -> bool:
        files = await store.current_files(ico)
        return bool(files) and files[0].deleted

    await wait_for(deleted, what="tombstone")
    [current] = await store.current_files(ico)
    assert (current.versions, current.sha256) == (3, None)
    history = await store.file_history(ico, "doc.txt")
    assert [(h.source_seq, h.sha256) for h in history] == [
        (1, v1.sha256),
        (3, v3.sha256),
        (4, None),
    ]


async def test_redelivered_manifest_is_applied_once_and_receipted_again(
    hub_config, make_agent, start_hub, store_of, ico
):
    """The same manifest delivered twice records one version and answers both with a receipt."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    manifest = await agent.send_file("x.txt", b"hello world")
    await agent.send(manifest)

    async def two_receipts() -> bool:
        await agent.drain_inbox()
        return sum(_receipt_for(manifest)(m) for m in agent.received) == 2

    await wait_for(two_receipts, what="two receipts")
    store = await store_of(hub_config)
    assert len(await store.file_history(ico, "x.txt")) == 1
    assert await store.processed_messages(ico) == 1


async def test_s3_storage_ingests_and_streams_back(
    shared_broker, vhost, tmp_path, s3_storage, make_agent, start_hub, store_of, ico
):
    """With `kind = "s3"` the chunks land in the bucket and the file streams back verified."""
    config = make_hub_config(shared_broker, vhost, tmp_path / "hub-s3", storage=s3_storage)
    agent = await make_agent(ico, config)
    await start_hub(config)
    data = os.urandom(300)
    manifest = await agent.send_file("s3.bin", data, chunk_size=100)
    await agent.wait_for_reply(_receipt_for(manifest), what="receipt")
    store = await store_of(config)
    blobs = await open_blob_store(config)
    try:
        assert b"".join([b async for b in open_content(store, blobs, manifest.sha256)]) == data
        assert not (config.hub.data_path / "blobs").exists()
    finally:
        await blobs.close()


async def test_conflicting_manifest_for_a_recorded_version_is_dead_lettered(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A second, different content under an already recorded (path, source_seq) is refused, the first kept."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    first = await agent.send_file("c.txt", b"first content", source_seq=5)
    await agent.wait_for_reply(_receipt_for(first), what="receipt")
    await agent.send_file("c.txt", b"other content", source_seq=5)
    found = []

    async def dead() -> bool:
        found.extend(await dead_letters(shared_broker, vhost))
        return bool(found)

    await wait_for(dead, what="the conflicting manifest dead-lettered")
    assert found[0].headers[names.HEADER_REJECT_REASON] == "version_conflict"
    store = await store_of(hub_config)
    [current] = await store.current_files(ico)
    assert current.sha256 == first.sha256
