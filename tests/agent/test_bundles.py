"""Small files travel in bundles: byte for byte, never with stale content, nothing lost on a kill."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from collections import Counter

from agent.kept_content import KeptContent
from agent.state import State
from protocol import FileReceipts, ReceiptEntry, names, new_message_id, utc_now
from spisync.broker import open_connection

_CHUNK = 2 * names.BUNDLE_MAX_FILE_BYTES  # a file at the bundle limit is one chunk


def _write(folder, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).write_bytes(data)


async def test_small_files_go_in_bundles_and_large_ones_in_chunks(agent_env):
    """Many small files and a few large ones all land byte for byte; the small ones in bundles."""
    folder = agent_env.folder
    small = {f"small-{i:03}.txt": os.urandom(2048) for i in range(300)}
    small["empty.txt"] = b""
    small["limit.bin"] = os.urandom(names.BUNDLE_MAX_FILE_BYTES)
    large = {
        "one-chunk-large.bin": os.urandom(names.BUNDLE_MAX_FILE_BYTES + 1),
        "chunks.bin": os.urandom(3 * _CHUNK + 5),
    }
    _write(folder, small | large)
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(chunk_size=_CHUNK))
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)))
    assert sum(reader.bundles) == len(small)
    assert len(reader.bundles) < len(small) / 10
    big_chunks = Counter(sha for sha, _ in reader.chunk_deliveries)
    for data in large.values():
        assert big_chunks[hashlib.sha256(data).hexdigest()] == -(-len(data) // _CHUNK)
    assert not reader.violations


async def _record_change_then_publish(agent_env, files: dict[str, bytes], kept: KeptContent):
    """Record `files` as queued versions, then change f1 and delete f2 on disk, then publish.

    Returns the reader and the `(folder, path)` the publisher reported changed.
    """
    folder = agent_env.folder
    _write(folder, files)
    state = await State.open(agent_env.state_dir / "state.sqlite")
    changed: list[tuple[str, str]] = []
    try:
        await agent_env.record_versions(state, list(files), _CHUNK)
        (folder / "f1.txt").write_bytes(os.urandom(1000))  # same size, other bytes
        (folder / "f2.txt").unlink()
        publisher = agent_env.publisher(
            state,
            kept=kept,
            on_file_changed=lambda key, disk_path: changed.append((key, disk_path)),
        )
        reader = await agent_env.reader()
        connection = await open_connection(agent_env.agent_url, name="spisync tests")
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            stop = asyncio.Event()
            session = asyncio.create_task(publisher.session(channel, stop))
            await agent_env.eventually(lambda: agent_env.outbox_depth() == 0)
            await agent_env.eventually(lambda: len(reader.manifests) == len(files) - len(changed))
            stop.set()
            await session
            await publisher.close()
    finally:
        await state.close()
    return reader, changed


async def test_a_file_changed_after_queueing_is_not_sent_with_the_wrong_content(agent_env):
    """A queued small file that changed or vanished before sending is dropped; the rest of its bundle goes."""
    files = {f"f{i}.txt": os.urandom(1000) for i in range(5)}
    reader, changed = await _record_change_then_publish(agent_env, files, KeptContent())
    sent = {m.path: reader.reassemble(m) for m in reader.manifests}
    assert sent == {name: files[name] for name in ("f0.txt", "f3.txt", "f4.txt")}
    assert reader.bundles == [3]
    folder = str(agent_env.folder)
    assert sorted(changed) == [(folder, "f1.txt"), (folder, "f2.txt")]
    assert not reader.violations


async def test_bytes_kept_since_hashing_go_as_the_recorded_version_without_reading_again(
    agent_env,
):
    """Kept bytes are the version as hashed: sent as they are, whatever the disk holds now."""
    files = {f"f{i}.txt": os.urandom(1000) for i in range(5)}
    kept = KeptContent()
    folder = str(agent_env.folder)
    for name, data in files.items():
        kept.keep((folder, name, hashlib.sha256(data).hexdigest()), data)
    reader, changed = await _record_change_then_publish(agent_env, files, kept)
    # f1 changed and f2 vanished on disk after hashing: only kept bytes could make these.
    assert {m.path: reader.reassemble(m) for m in reader.manifests} == files
    assert reader.bundles == [5]
    assert changed == []
    assert not reader.violations


def test_kept_content_is_bounded_and_each_version_taken_once() -> None:
    """Bytes beyond the bound are not kept (read again when sent); a take frees room."""
    kept = KeptContent(max_bytes=10)
    kept.keep(("f", "a", "1"), b"123456")
    kept.keep(("f", "b", "2"), b"123456")  # over the bound: not kept
    assert kept.take(("f", "b", "2")) is None
    assert kept.take(("f", "a", "1")) == b"123456"
    assert kept.take(("f", "a", "1")) is None
    kept.keep(("f", "b", "2"), b"123456")  # room again
    kept.clear()
    assert kept.take(("f", "b", "2")) is None


async def test_batched_receipts_make_identical_content_go_as_a_manifest_only(agent_env):
    """After a FileReceipts confirms a small file, its copy goes as a manifest alone, not in a bundle."""
    folder = agent_env.folder
    data = os.urandom(500)
    sha = hashlib.sha256(data).hexdigest()
    (folder / "original.txt").write_bytes(data)
    reader = await agent_env.reader()
    await agent_env.start()
    await agent_env.eventually(lambda: reader.current().get("original.txt") == data)
    (manifest,) = reader.manifests
    entry = ReceiptEntry(path="original.txt", sha256=sha, source_seq=manifest.source_seq)
    await agent_env.publish_to_agent(
        FileReceipts(
            message_id=new_message_id(), sender="hub:test", sent_at=utc_now(), receipts=(entry,)
        )
    )
    await agent_env.eventually(lambda: sha in agent_env.held())
    bundles_before = len(reader.bundles)

    (folder / "copy.txt").write_bytes(data)
    await agent_env.eventually(lambda: reader.current().get("copy.txt") == data)
    assert len(reader.bundles) == bundles_before
    assert not reader.violations


async def test_kill_9_mid_bundles_then_restart_loses_nothing(agent_env):
    """Killing the agent while bundles are in flight, twice, leaves every small file delivered in the end."""
    folder = agent_env.folder
    # 16 KiB files: 64 fill a bundle, so 240 of them make at least four.
    _write(folder, {f"doc-{i:04}.txt": os.urandom(16 * 1024) for i in range(240)})
    reader = await agent_env.reader()
    slow = agent_env.write_config(chunk_size=_CHUNK, bandwidth_limit_bytes_per_s=512 * 1024)
    left_queued = []
    for threshold in (60, 120):
        process = agent_env.spawn(slow)
        await agent_env.eventually(lambda t=threshold: len(reader.manifests) >= t)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        left_queued.append(agent_env.outbox_depth())
        (folder / f"after-kill-{threshold}.txt").write_bytes(b"written after a kill")
    # The first kill came after one bundle of four: the others were still queued.
    assert left_queued[0] > 0

    process = agent_env.spawn(agent_env.write_config(chunk_size=_CHUNK))
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(folder)), timeout=60)
    assert all(reader.reassemble(m) is not None for m in reader.manifests)
    assert not reader.violations
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
