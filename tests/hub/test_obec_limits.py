"""Per-obec limits: one obec's manifests can neither stall other obce nor record bytes nobody sent."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime

import msgspec

from hub.config import LimitsConfig
from protocol import FileReceipt, FileVersion, Tombstone, names
from testkit.waiting import wait_for
from tests.hub.hubkit import dead_letters, registry_records

_MIB = 1024 * 1024


def _with_limits(config, **limits):
    return msgspec.structs.replace(config, limits=LimitsConfig(**limits))


def _repeating_manifest(agent, path, chunk, repeats, *, sha256=None):
    """A manifest listing one chunk `repeats` times (true file hash unless `sha256` is given)."""
    if sha256 is None:
        digest = hashlib.sha256()
        for _ in range(repeats):
            digest.update(chunk)
        sha256 = digest.hexdigest()
    agent.seq += 1
    return FileVersion(
        **agent.envelope(),
        path=path,
        size=len(chunk) * repeats,
        mtime_ns=time.time_ns(),
        sha256=sha256,
        chunk_size=len(chunk),
        chunk_sha256=(hashlib.sha256(chunk).hexdigest(),) * repeats,
        source_seq=agent.seq,
    )


async def _dead_reasons(shared_broker, vhost, count):
    found = []

    async def enough() -> bool:
        found.extend(await dead_letters(shared_broker, vhost))
        return len(found) >= count

    await wait_for(enough, what=f"{count} dead letter(s)")
    return sorted(m.headers[names.HEADER_REJECT_REASON] for m in found)


async def test_one_obecs_huge_verification_never_holds_another_obecs_message(
    hub_config, make_agent, start_hub, store_of, ico, other_ico
):
    """While obec A's manifest of one 8 MiB chunk repeated 15,000 times is being verified, obec B's message is committed."""
    config = _with_limits(hub_config, max_file_bytes=2**50, max_repeat_factor=10**6)
    attacker = await make_agent(ico, config)
    neighbour = await make_agent(other_ico, config)
    hub = await start_hub(config)
    store = await store_of(config)
    chunk = os.urandom(names.MAX_CHUNK_SIZE)
    manifest = _repeating_manifest(attacker, "big.bin", chunk, 15_000, sha256="ab" * 32)
    await attacker.send_chunk(chunk, object_sha256=manifest.sha256, index=0)
    await attacker.send(manifest)

    async def verifying() -> bool:
        return hub.metrics.verifications_started >= 1

    await wait_for(verifying, what="obec A's manifest being verified", timeout=60)
    [spis, *_] = registry_records(neighbour, spis_id="B-1", soubory=[])
    await neighbour.send(spis)

    async def neighbour_committed() -> bool:
        return "B-1" in [s.id for s in await store.spisy(other_ico)]

    await wait_for(neighbour_committed, what="obec B's spis committed", timeout=60)
    assert hub.metrics.verifications_done == 0, "A's verification was still running"
    assert await store.current_files(ico) == []


async def test_repeated_chunks_beyond_the_limit_are_refused_before_reading(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A true manifest that repeats one chunk 24 times (over max_repeat_factor 16) is dead-lettered, not recorded; a few repeats are fine."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    store = await store_of(hub_config)
    chunk = os.urandom(_MIB)
    amplified = _repeating_manifest(agent, "amplified.bin", chunk, 24)
    await agent.send_chunk(chunk, object_sha256=amplified.sha256, index=0)
    await agent.send(amplified)
    assert await _dead_reasons(shared_broker, vhost, 1) == ["repeated_chunks"]
    honest = await agent.send_file("zeros.bin", b"\0" * 12 + b"tail", chunk_size=4)
    await agent.wait_for_reply(lambda m: getattr(m, "path", None) == "zeros.bin")
    assert [f.path for f in await store.current_files(ico)] == ["zeros.bin"]
    assert honest.chunk_sha256.count(honest.chunk_sha256[0]) == 3
    # Neither was read back: the amplified one was refused first, the honest one
    # was hashed whole as its chunks were stored (in order, repeats included).
    assert hub.metrics.verifications_started == 0


async def test_file_larger_than_max_file_bytes_is_refused(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A manifest above [limits] max_file_bytes is dead-lettered as file_too_large; a smaller file is recorded."""
    config = _with_limits(hub_config, max_file_bytes=1000)
    agent = await make_agent(ico, config)
    await start_hub(config)
    store = await store_of(config)
    await agent.send_file("big.txt", os.urandom(2000), chunk_size=512)
    assert await _dead_reasons(shared_broker, vhost, 1) == ["file_too_large"]
    await agent.send_file("small.txt", os.urandom(900), chunk_size=512)
    await agent.wait_for_reply(lambda m: getattr(m, "path", None) == "small.txt")
    assert [f.path for f in await store.current_files(ico)] == ["small.txt"]


async def test_forged_source_seq_is_refused_and_later_real_versions_become_current(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """A source_seq of 2**63-1 is dead-lettered as a security event; the next real version becomes current."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    store = await store_of(hub_config)
    await agent.send_file("a.txt", b"first real version", source_seq=1)
    await agent.wait_for_reply(lambda m: getattr(m, "source_seq", None) == 1)
    await agent.send_file("a.txt", b"forged version", source_seq=2**63 - 1)
    await agent.send(
        Tombstone(**agent.envelope(), path="b.txt", source_seq=2**62, deleted_at=datetime.now(UTC))
    )
    assert await _dead_reasons(shared_broker, vhost, 2) == ["source_seq_jump"] * 2
    assert hub.metrics.security_events == 2
    real = await agent.send_file("a.txt", b"second real version", source_seq=2)
    await agent.wait_for_reply(lambda m: getattr(m, "source_seq", None) == 2)
    [current] = await store.current_files(ico)
    assert (current.sha256, current.source_seq) == (real.sha256, 2)


async def _send_in_epoch(agent, path, data, *, source_seq, epoch):
    manifest, chunks = agent.manifest(path, data, source_seq=source_seq)
    manifest = msgspec.structs.replace(manifest, source_epoch=epoch)
    for index, chunk in enumerate(chunks):
        await agent.send_chunk(chunk, object_sha256=manifest.sha256, index=index)
    await agent.send(manifest)
    return manifest


async def test_reinstalled_agent_counting_from_one_again_makes_current_versions(
    shared_broker, vhost, hub_config, make_agent, start_hub, store_of, ico
):
    """An agent with a new state (new source_epoch, source_seq from 1) records versions that become current; receipts carry its own numbers."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    store = await store_of(hub_config)
    old, new = "a" * 32, "b" * 32
    await _send_in_epoch(agent, "a.txt", b"old one", source_seq=1, epoch=old)
    await _send_in_epoch(agent, "a.txt", b"old two", source_seq=2, epoch=old)
    await _send_in_epoch(agent, "b.txt", b"old b", source_seq=3, epoch=old)
    await agent.wait_for_reply(lambda m: isinstance(m, FileReceipt) and m.path == "b.txt")
    fresh = await _send_in_epoch(agent, "a.txt", b"after reinstall", source_seq=1, epoch=new)
    await agent.send(
        Tombstone(
            **agent.envelope(),
            path="b.txt",
            source_seq=2,
            deleted_at=datetime.now(UTC),
            source_epoch=new,
        )
    )
    receipt = await agent.wait_for_reply(
        lambda m: isinstance(m, FileReceipt) and m.sha256 == fresh.sha256
    )
    assert receipt.source_seq == 1

    async def deleted() -> bool:
        return any(f.path == "b.txt" and f.deleted for f in await store.current_files(ico))

    await wait_for(deleted, what="b.txt deleted by the reinstalled agent")
    current = {f.path: f for f in await store.current_files(ico)}
    assert current["a.txt"].sha256 == fresh.sha256
    assert await dead_letters(shared_broker, vhost) == []
