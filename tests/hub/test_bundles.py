"""Bundles of small files: each lands as if sent as chunk and manifest; a bad one stores nothing."""

from __future__ import annotations

import hashlib
import os

import msgspec

from hub.config import LimitsConfig
from hub.content import open_content
from hub.store import open_blob_store
from protocol import FileReceipt, FileReceipts, names
from testkit.waiting import wait_for
from tests.hub.hubkit import dead_letters


def _files(count: int) -> dict[str, bytes]:
    files = {f"spisy/{i:03d}.txt": os.urandom(2048) for i in range(count)}
    files["spisy/prázdný.txt"] = b""
    return files


def _receipted(agent) -> dict[tuple[str, int], str]:
    """`(path, source_seq) -> sha256` of every file receipt the agent got, batched or not."""
    found = {}
    for message in agent.received:
        if isinstance(message, FileReceipts):
            found |= {(r.path, r.source_seq): r.sha256 for r in message.receipts}
        elif isinstance(message, FileReceipt):
            found[(message.path, message.source_seq)] = message.sha256
    return found


async def _receipts_for(agent, count: int) -> dict[tuple[str, int], str]:
    async def arrived() -> bool:
        await agent.drain_inbox()
        return len(_receipted(agent)) >= count

    await wait_for(arrived, what=f"{count} receipts")
    return _receipted(agent)


async def _dead(shared_broker, vhost) -> list:
    found = []

    async def dead() -> bool:
        found.extend(await dead_letters(shared_broker, vhost))
        return bool(found)

    await wait_for(dead, what="a dead letter")
    return found


async def test_bundle_lands_every_file_with_one_batched_receipt(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Every file of a bundle is recorded byte for byte, confirmed in one FileReceipts message."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    files = _files(40)
    bundle = agent.bundle(files)
    await agent.send_bundle(bundle)
    receipted = await _receipts_for(agent, len(files))
    assert receipted == {
        (f.manifest.path, f.manifest.source_seq): f.manifest.sha256 for f in bundle.files
    }
    assert [type(m) for m in agent.received] == [FileReceipts]
    store = await store_of(hub_config)
    current = {f.path: f for f in await store.current_files(ico)}
    assert set(current) == set(files)
    blobs = await open_blob_store(hub_config)
    try:
        for path, data in files.items():
            assert (current[path].size, current[path].versions) == (len(data), 1)
            sha = hashlib.sha256(data).hexdigest()
            assert b"".join([b async for b in open_content(store, blobs, sha)]) == data
    finally:
        await blobs.close()


async def test_older_agent_gets_one_receipt_per_file(hub_config, make_agent, start_hub, ico):
    """Without the receipt-batches header the agent gets a plain FileReceipt for each file."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    files = _files(3)
    await agent.send_bundle(agent.bundle(files), receipt_batches=False)
    await _receipts_for(agent, len(files))
    assert {type(m) for m in agent.received} == {FileReceipt}


async def test_bundle_with_one_forged_content_is_dead_lettered_and_stores_nothing(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """One entry whose bytes are not its manifest's refuses the whole bundle: no version, no chunk."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    bundle = agent.bundle(_files(5))
    files = list(bundle.files)
    files[2] = msgspec.structs.replace(files[2], content=os.urandom(2048))
    await agent.send_bundle(msgspec.structs.replace(bundle, files=tuple(files)))
    [dead] = await _dead(shared_broker, vhost)
    assert dead.headers[names.HEADER_REJECT_REASON] == "content_mismatch"
    assert files[2].manifest.path in str(dead.headers[names.HEADER_REJECT_DETAIL])
    store = await store_of(hub_config)
    assert await store.current_files(ico) == []
    honest = {f.manifest.sha256 for f in files if f.content}
    assert await store.stored_chunks(honest) == set()
    assert hub.metrics.dead_lettered == 1


async def test_redelivered_bundle_is_idempotent(hub_config, make_agent, start_hub, store_of, ico):
    """The same bundle sent twice records each version once and confirms it again."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    files = _files(10)
    bundle = agent.bundle(files)
    await agent.send_bundle(bundle)
    await _receipts_for(agent, len(files))
    agent.received.clear()
    await agent.send_bundle(bundle)
    again = await _receipts_for(agent, len(files))
    assert len(again) == len(files)
    store = await store_of(hub_config)
    current = await store.current_files(ico)
    assert sorted(f.path for f in current) == sorted(files)
    assert {f.versions for f in current} == {1}


async def test_oversize_bundle_is_refused(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A body above the bundle limit is dead-lettered as oversized, without being decoded."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    await agent.publish_raw(
        b"\x00" * (names.BUNDLE_MAX_BODY_BYTES + 1),
        kind="file_bundle",
        content_type="application/msgpack",
    )
    [dead] = await _dead(shared_broker, vhost)
    assert dead.headers[names.HEADER_REJECT_REASON] == "oversized"
    store = await store_of(hub_config)
    assert await store.current_files(ico) == []


async def test_entry_over_the_obec_limits_refuses_the_whole_bundle(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A file above [limits] max_file_bytes in a bundle dead-letters it; none of its files is recorded."""
    config = msgspec.structs.replace(hub_config, limits=LimitsConfig(max_file_bytes=1000))
    agent = await make_agent(ico, config)
    await start_hub(config)
    files = {"a.txt": b"small", "b.txt": os.urandom(1500), "c.txt": b"also small"}
    await agent.send_bundle(agent.bundle(files))
    [dead] = await _dead(shared_broker, vhost)
    assert dead.headers[names.HEADER_REJECT_REASON] == "file_too_large"
    store = await store_of(config)
    assert await store.current_files(ico) == []
    await agent.send_bundle(agent.bundle({"a.txt": b"small", "c.txt": b"also small"}))
    await _receipts_for(agent, 2)
    assert sorted(f.path for f in await store.current_files(ico)) == ["a.txt", "c.txt"]


async def test_bundle_mixing_recorded_and_new_files_records_the_new_and_confirms_all(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A file recorded before (same path, seq, content) beside new ones: the new are recorded, all confirmed."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    first = agent.bundle({"a.txt": b"first"})
    await agent.send_bundle(first)
    await _receipts_for(agent, 1)
    second = agent.bundle({"b.txt": b"second", "c.txt": b""})
    mixed = msgspec.structs.replace(second, files=(first.files[0], *second.files))
    await agent.send_bundle(mixed)
    await _receipts_for(agent, 3)
    store = await store_of(hub_config)
    current = {f.path: f for f in await store.current_files(ico)}
    assert sorted(current) == ["a.txt", "b.txt", "c.txt"]
    assert {f.versions for f in current.values()} == {1}


async def test_bundle_conflicting_with_a_recorded_version_is_dead_lettered_whole(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """Other content under a recorded (path, source_seq) refuses the bundle; its other files stay unrecorded."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    recorded = agent.bundle({"a.txt": b"recorded"})
    await agent.send_bundle(recorded)
    await _receipts_for(agent, 1)
    seq = recorded.files[0].manifest.source_seq
    liar = agent.bundle({"b.txt": b"innocent", "a.txt": b"other content"})
    files = list(liar.files)
    files[1] = msgspec.structs.replace(
        files[1], manifest=msgspec.structs.replace(files[1].manifest, source_seq=seq)
    )
    await agent.send_bundle(msgspec.structs.replace(liar, files=tuple(files)))
    [dead] = await _dead(shared_broker, vhost)
    assert dead.headers[names.HEADER_REJECT_REASON] == "version_conflict"
    store = await store_of(hub_config)
    assert [f.path for f in await store.current_files(ico)] == ["a.txt"]
