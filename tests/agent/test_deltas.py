"""Edited documents go as their changes once the hub holds their last version, else whole."""

from __future__ import annotations

import hashlib
import os

from protocol import NeedChunks, new_message_id, utc_now

KIB = 1024


def _edited(data: bytes, at: int, size: int, appended: int) -> bytes:
    """`data` with `size` bytes rewritten in place at `at` and `appended` bytes added."""
    return data[:at] + os.urandom(size) + data[at + size :] + os.urandom(appended)


async def _synced(agent_env, files: dict[str, bytes], chunk_size: int):
    """Write `files`, start the agent with `chunk_size`, and wait until all arrived; the reader."""
    for name, data in files.items():
        (agent_env.folder / name).write_bytes(data)
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(chunk_size=chunk_size))
    await agent_env.eventually(lambda: reader.matches(files))
    return reader


async def test_an_edited_document_goes_as_a_delta_once_the_hub_holds_its_last_version(agent_env):
    """Before the receipt the edit goes whole; after it, little more than the changed bytes."""
    path = agent_env.folder / "usneseni.doc"
    first = os.urandom(300 * KIB)
    reader = await _synced(agent_env, {"usneseni.doc": first}, chunk_size=1024 * KIB)

    second = _edited(first, at=100 * KIB, size=20 * KIB, appended=4 * KIB)
    path.write_bytes(second)
    await agent_env.eventually(lambda: reader.current().get("usneseni.doc") == second)
    assert reader.deltas == []  # the hub never confirmed holding the first version
    (_, manifest) = reader.manifests
    await agent_env.confirm(manifest)

    third = _edited(second, at=200 * KIB, size=20 * KIB, appended=4 * KIB)
    path.write_bytes(third)
    await agent_env.eventually(lambda: reader.current().get("usneseni.doc") == third)
    [(sha256, wire_bytes)] = reader.deltas
    assert sha256 == hashlib.sha256(third).hexdigest()
    # The 24 KiB changed, a 4 KiB block on either side at most, and a few bytes of framing.
    assert wire_bytes < (24 + 8 + 1) * KIB
    assert not reader.violations


async def test_a_delta_the_hub_cannot_use_is_sent_again_whole(agent_env):
    """When the hub asks for a chunk that came as a delta, the agent sends it whole."""
    path = agent_env.folder / "rozpocet.xls"
    first = os.urandom(200 * KIB)
    reader = await _synced(agent_env, {"rozpocet.xls": first}, chunk_size=1024 * KIB)
    await agent_env.confirm(reader.manifests[0])

    second = _edited(first, at=50 * KIB, size=8 * KIB, appended=0)
    path.write_bytes(second)
    sha256 = hashlib.sha256(second).hexdigest()
    await agent_env.eventually(lambda: reader.current().get("rozpocet.xls") == second)
    assert [sha for sha, _ in reader.deltas] == [sha256]

    await agent_env.publish_to_agent(
        NeedChunks(
            message_id=new_message_id(), sender="hub:test", sent_at=utc_now(),
            path="rozpocet.xls", sha256=sha256, indexes=(0,), reason="base released",
        )
    )  # fmt: skip
    await agent_env.eventually(lambda: reader.chunk_deliveries.count((sha256, 0)) == 2)
    assert len(reader.deltas) == 1  # the second delivery is the chunk itself
    assert not reader.violations


async def test_a_file_of_several_chunks_sends_its_changed_chunks_as_deltas(agent_env):
    """A document sent while it was hashed: its edit sends the changed chunk as a delta, no other.

    The signature comes from hashing (the chunks went while the file was hashed
    and were not read again); a file under 64 KiB goes whole.
    """
    small, large = agent_env.folder / "dopis.txt", agent_env.folder / "smlouva.docx"
    small.write_bytes(os.urandom(40 * KIB))
    large.write_bytes(os.urandom(300 * KIB))  # chunks of 128, 128 and 44 KiB
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(chunk_size=128 * KIB))
    await agent_env.eventually(
        lambda: len(reader.current()) == 2 and all(reader.current().values())
    )
    assert reader.sent_while_hashed  # the large file's chunks went while it was hashed
    for manifest in reader.manifests:
        await agent_env.confirm(manifest)
    sent_before = len(reader.chunk_deliveries)

    small.write_bytes(_edited(small.read_bytes(), at=KIB, size=KIB, appended=0))
    edited = _edited(large.read_bytes(), at=10 * KIB, size=KIB, appended=0)
    large.write_bytes(edited)
    expected = {"dopis.txt": small.read_bytes(), "smlouva.docx": edited}
    await agent_env.eventually(lambda: reader.matches(expected))
    sha256 = hashlib.sha256(edited).hexdigest()
    assert (sha256, 0) in reader.chunk_deliveries[sent_before:]
    assert (sha256, 1) not in reader.chunk_deliveries[sent_before:]  # the hub holds it
    first_chunk = hashlib.sha256(edited[: 128 * KIB]).hexdigest()
    [(delta_of, wire_bytes)] = reader.deltas
    assert delta_of == first_chunk
    assert wire_bytes < 8 * KIB  # one changed KiB in two blocks at most, and framing
    assert not reader.violations
