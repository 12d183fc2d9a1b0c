"""Chunks sent as deltas: rebuilt from the obec's own earlier chunk, verified, else asked for whole.

The deltas here are built by hand from the format's description in
`protocol.delta` (a msgpack list of 4 KiB block numbers of the base and
literal bytes), not by the agent's code.
"""

from __future__ import annotations

import hashlib
import os

import msgspec
import pytest

from protocol import FileReceipt, NeedChunks
from tests.hub.hubkit import only_dead_letter, stored_content

BLOCK = 4096
CHUNK_SIZE = 64 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _receipted(sha256: str):
    return lambda m: isinstance(m, FileReceipt) and m.sha256 == sha256


async def _first_version(agent, path: str) -> bytes:
    """Send a version of ten blocks and wait for its receipt."""
    data = os.urandom(10 * BLOCK)
    await agent.send_file(path, data, chunk_size=CHUNK_SIZE)
    await agent.wait_for_reply(_receipted(_sha(data)), what="the first version's receipt")
    return data


async def _send_delta(agent, path: str, data: bytes, delta: list, base: str, **kw) -> None:
    """Send `data`'s one chunk as `delta` against chunk `base`, then its manifest."""
    await agent.send_chunk(
        data, object_sha256=_sha(data), index=0, delta=msgspec.msgpack.encode(delta), base=base,
        **kw,
    )  # fmt: skip
    await agent.send_file(path, data, chunk_size=CHUNK_SIZE, skip=frozenset({0}))


@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "deflated"])
async def test_an_edit_sent_as_a_delta_is_recorded_byte_for_byte(
    hub_config, make_agent, start_hub, store_of, ico, deflate
):
    """Block 5 rewritten and 100 bytes appended: the rest comes from the version the hub holds."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    first = await _first_version(agent, "usneseni.doc")
    new_block, appended = os.urandom(BLOCK), os.urandom(100)
    second = first[: 5 * BLOCK] + new_block + first[6 * BLOCK :] + appended
    delta = [0, 1, 2, 3, 4, new_block, 6, 7, 8, 9, appended]
    await _send_delta(agent, "usneseni.doc", second, delta, _sha(first), deflate=deflate)

    await agent.wait_for_reply(_receipted(_sha(second)), what="the edited version's receipt")
    store = await store_of(hub_config)
    assert await stored_content(hub_config, store, _sha(second)) == second
    assert await stored_content(hub_config, store, _sha(first)) == first


@pytest.mark.parametrize(
    "unusable",
    ["another obec's chunk", "a block the base lacks", "bytes that do not hash", "no such chunk"],
)
async def test_a_delta_the_hub_cannot_use_is_asked_for_whole(
    hub_config, make_agent, start_hub, store_of, ico, unusable
):
    """Nothing is recorded from it; the manifest gets NeedChunks for the chunk, which then comes whole.

    A delta against another obec's chunk is never applied: it would tell the
    sender whether another obec holds some content.
    """
    agent = await make_agent(ico)
    other = await make_agent("00064581")
    await start_hub(hub_config)
    base = await _first_version(other if unusable == "another obec's chunk" else agent, "a.doc")
    second = base[: 9 * BLOCK] + os.urandom(BLOCK)
    delta: list = [*range(9), second[9 * BLOCK :]]
    base_sha = _sha(base)
    if unusable == "a block the base lacks":
        delta = [*range(9), 10]
    elif unusable == "bytes that do not hash":
        delta = [*range(10)]
    elif unusable == "no such chunk":
        base_sha = _sha(b"never sent")
    await _send_delta(agent, "b.doc", second, delta, base_sha)

    need = await agent.wait_for_reply(lambda m: isinstance(m, NeedChunks), what="need_chunks")
    assert (need.path, need.sha256, need.indexes) == ("b.doc", _sha(second), (0,))
    store = await store_of(hub_config)
    assert [f.path for f in await store.current_files(ico)] == (
        [] if unusable == "another obec's chunk" else ["a.doc"]
    )
    # The repair: the chunk whole and the manifest again, under the same source_seq.
    await agent.send_file("b.doc", second, chunk_size=CHUNK_SIZE, source_seq=agent.seq)
    await agent.wait_for_reply(_receipted(_sha(second)), what="the receipt once sent whole")
    assert await stored_content(hub_config, store, _sha(second)) == second


async def test_a_delta_that_is_not_one_is_dead_lettered(
    hub_config, make_agent, start_hub, shared_broker, vhost, ico
):
    """A body that is not a list of block numbers and bytes is refused as undecodable."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    first = await _first_version(agent, "a.doc")
    await agent.send_chunk(
        first, object_sha256=_sha(first), index=0, delta=b"\xc1 not msgpack", base=_sha(first)
    )
    headers = await only_dead_letter(shared_broker, vhost)
    assert headers["x-spisync-reject-reason"] == "undecodable"
