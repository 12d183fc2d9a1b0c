"""The agent's inbox: receipts suppress resending content, repair requests resend chunks."""

from __future__ import annotations

import hashlib
import os
from collections import Counter

from protocol import NeedChunks, new_message_id, utc_now


def _envelope() -> dict:
    return {"message_id": new_message_id(), "sender": "hub:test", "sent_at": utc_now()}


async def test_a_receipt_makes_identical_content_go_as_a_manifest_only(agent_env):
    """After the hub confirms content, a copy of it under another path sends no chunks."""
    folder = agent_env.folder
    data = os.urandom(5000)
    (folder / "original.pdf").write_bytes(data)
    reader = await agent_env.reader()
    await agent_env.start()
    await agent_env.eventually(lambda: reader.current().get("original.pdf") == data)
    (manifest,) = reader.manifests
    await agent_env.confirm(manifest)
    chunks_before = len(reader.chunk_deliveries)

    (folder / "copy.pdf").write_bytes(data)
    await agent_env.eventually(lambda: reader.current().get("copy.pdf") == data)
    assert len(reader.chunk_deliveries) == chunks_before
    assert not reader.violations


async def test_a_changed_large_file_sends_only_the_chunks_the_hub_does_not_hold(agent_env):
    """After a receipt, an append sends its new chunks and the manifest; a chunk the hub lost comes on request."""
    folder = agent_env.folder
    before = os.urandom(5 * 1024)  # chunks 0-4 of 1 KiB
    (folder / "spis.pst").write_bytes(before)
    reader = await agent_env.reader()
    await agent_env.start()
    await agent_env.eventually(lambda: reader.current().get("spis.pst") == before)
    (manifest,) = reader.manifests
    await agent_env.confirm(manifest)
    sent_before = len(reader.chunk_deliveries)

    after = before + os.urandom(1500)  # chunks 0-4 unchanged, 5 and 6 new
    sha = hashlib.sha256(after).hexdigest()
    (folder / "spis.pst").write_bytes(after)
    await agent_env.eventually(lambda: reader.current().get("spis.pst") == after)
    assert reader.chunk_deliveries[sent_before:] == [(sha, 5), (sha, 6)]

    await agent_env.publish_to_agent(
        NeedChunks(**_envelope(), path="spis.pst", sha256=sha, indexes=(2,), reason="blob lost")
    )
    await agent_env.eventually(lambda: (sha, 2) in reader.chunk_deliveries)
    assert not reader.violations


async def test_repair_requests_resend_the_named_chunks_or_the_whole_file(agent_env):
    """NeedChunks resends exactly the named chunks (or all) and the manifest, same source_seq."""
    folder = agent_env.folder
    data = os.urandom(5 * 1024)
    sha = hashlib.sha256(data).hexdigest()
    (folder / "scan.pdf").write_bytes(data)
    reader = await agent_env.reader()
    await agent_env.start()
    await agent_env.eventually(lambda: reader.current().get("scan.pdf") == data)
    (first,) = reader.manifests

    await agent_env.publish_to_agent(
        NeedChunks(**_envelope(), path="scan.pdf", sha256=sha, indexes=(1, 3), reason="corrupt")
    )
    await agent_env.eventually(lambda: len(reader.manifests) == 2)
    assert Counter(reader.chunk_deliveries) == Counter(
        {(sha, 0): 1, (sha, 1): 2, (sha, 2): 1, (sha, 3): 2, (sha, 4): 1}
    )
    second = reader.manifests[1]
    assert second.source_seq == first.source_seq
    assert second.message_id != first.message_id

    await agent_env.publish_to_agent(
        NeedChunks(**_envelope(), path="scan.pdf", sha256=sha, reason="blob lost")
    )
    await agent_env.eventually(lambda: len(reader.manifests) == 3)
    assert len(reader.chunk_deliveries) == 5 + 2 + 5

    (folder / "scan.pdf").write_bytes(b"new content")
    await agent_env.eventually(lambda: reader.current().get("scan.pdf") == b"new content")
    await agent_env.publish_to_agent(
        NeedChunks(**_envelope(), path="scan.pdf", sha256=sha, reason="stale request")
    )
    (folder / "marker.txt").write_bytes(b"after the stale request")
    await agent_env.eventually(lambda: "marker.txt" in reader.current())
    assert len(reader.chunk_deliveries) == 5 + 2 + 5 + 1 + 1
    assert not reader.violations
