"""A new large file's chunks go while it is hashed; its row sends none of them again."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import agent.hasher
from protocol import Tombstone

_CHUNK = 1024  # the agent tests' chunk size


async def _connected(agent_env, reader) -> None:
    """Wait for the agent's link: chunks can go the moment a file is hashed."""
    await agent_env.eventually(lambda: reader.heartbeats)


def _before_manifest(reader, path: str) -> bool:
    """Every chunk that arrived came before the manifest of `path`."""
    manifest_at = reader.arrivals.index(("file_version", path))
    return all(kind != "chunk" for kind, _ in reader.arrivals[manifest_at:])


async def test_a_new_large_file_goes_while_it_is_hashed_and_no_chunk_goes_twice(agent_env):
    """Chunks from the first go under the transfer the manifest then names; each chunk goes once."""
    reader = await agent_env.reader()
    await agent_env.start()
    await _connected(agent_env, reader)
    data = os.urandom(64 * _CHUNK + 5)
    (agent_env.folder / "sken.pdf").write_bytes(data)
    await agent_env.eventually(lambda: reader.current().get("sken.pdf") == data)
    (manifest,) = reader.manifests
    assert {transfer for transfer, _ in reader.sent_while_hashed} == {manifest.message_id}
    early = sorted(index for _, index in reader.sent_while_hashed)
    assert early == list(range(len(early)))  # the file's first chunks, in a run
    assert Counter(reader.chunk_deliveries) == Counter(
        {(manifest.sha256, index): 1 for index in range(65)}
    )
    assert _before_manifest(reader, "sken.pdf")
    assert not reader.violations


async def test_a_file_changed_while_its_chunks_go_is_never_announced_as_a_mix(
    agent_env, monkeypatch
):
    """The first content's chunks went, then it changed mid-read: no manifest names it; the new one arrives whole."""
    old = os.urandom(40 * _CHUNK)
    new = os.urandom(30 * _CHUNK)
    real_hash = agent.hasher.digest_file
    rewritten: list[str] = []

    def rewriting_hash(root, path, chunk_size, sink=None):  # runs in a hashing thread
        if sink is None or rewritten:
            return real_hash(root, path, chunk_size, sink)

        def offer(index: int, data: bytes, sha256: str) -> bool:
            if index == 3:
                Path(path).write_bytes(new)  # the clerk saves again while it is read
                rewritten.append(path)
            return sink(index, data, sha256)

        return real_hash(root, path, chunk_size, offer)

    monkeypatch.setattr(agent.hasher, "digest_file", rewriting_hash)
    reader = await agent_env.reader()
    await agent_env.start()
    await _connected(agent_env, reader)
    (agent_env.folder / "zapis.docx").write_bytes(old)
    await agent_env.eventually(lambda: reader.current().get("zapis.docx") == new)
    assert rewritten
    (manifest,) = reader.manifests
    transfers = {transfer for transfer, _ in reader.sent_while_hashed}
    # The abandoned read's chunks went under a transfer no manifest names.
    assert len(transfers) == 2
    assert manifest.message_id in transfers
    assert _before_manifest(reader, "zapis.docx")
    assert not reader.violations


async def test_with_a_bandwidth_limit_every_chunk_goes_by_its_row(agent_env):
    """A paced link keeps the outbox order: nothing goes while a file is hashed."""
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(bandwidth_limit_bytes_per_s=1_000_000))
    await _connected(agent_env, reader)
    data = os.urandom(20 * _CHUNK)
    (agent_env.folder / "sken.pdf").write_bytes(data)
    await agent_env.eventually(lambda: reader.current().get("sken.pdf") == data)
    assert reader.sent_while_hashed == []
    assert not reader.violations


async def test_many_large_files_at_once_all_go_promptly(agent_env):
    """More new large files than threads: hashing threads that wait to send never starve the sending."""
    chunk = 256 * 1024
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(chunk_size=chunk))
    await _connected(agent_env, reader)
    # Over 2 MiB each: every file is hashed in a thread call of its own.
    for i in range(10):
        (agent_env.folder / f"sken-{i:02}.pdf").write_bytes(os.urandom(9 * chunk + i))
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(agent_env.folder)))
    early = {transfer for transfer, _ in reader.sent_while_hashed}
    assert early
    assert early <= {m.message_id for m in reader.manifests}
    assert set(Counter(reader.chunk_deliveries).values()) == {1}
    assert not reader.violations


async def test_hundreds_of_new_large_files_hashed_before_their_rows_send_no_chunk_twice(agent_env):
    """A first scan hashes (and sends early) every file before recording any: none is forgotten."""
    reader = await agent_env.reader()
    await agent_env.start()
    await _connected(agent_env, reader)
    for i in range(300):
        (agent_env.folder / f"sken-{i:03}.pdf").write_bytes(os.urandom(3 * _CHUNK + i))
    await agent_env.eventually(lambda: reader.matches(agent_env.disk_files(agent_env.folder)))
    assert len({transfer for transfer, _ in reader.sent_while_hashed}) > 64  # the old bound
    assert set(Counter(reader.chunk_deliveries).values()) == {1}
    assert not reader.violations


async def test_a_large_file_back_under_a_new_name_after_its_tombstone_sends_no_chunk(agent_env):
    """Content the hub confirmed, deleted and then saved under another name: its manifest alone goes."""
    reader = await agent_env.reader()
    await agent_env.start()
    await _connected(agent_env, reader)
    data = os.urandom(20 * _CHUNK + 7)
    (agent_env.folder / "sken.pdf").write_bytes(data)
    await agent_env.eventually(lambda: reader.current().get("sken.pdf") == data)
    (manifest,) = reader.manifests
    await agent_env.confirm(manifest)
    (agent_env.folder / "sken.pdf").unlink()
    await agent_env.eventually(
        lambda: any(isinstance(m, Tombstone) and m.path == "sken.pdf" for m in reader.messages)
    )
    sent_before = len(reader.chunk_deliveries)

    (agent_env.folder / "sken-2026.pdf").write_bytes(data)
    await agent_env.eventually(lambda: reader.current().get("sken-2026.pdf") == data)
    assert len(reader.chunk_deliveries) == sent_before
    assert not reader.violations
