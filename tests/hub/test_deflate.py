"""Deflated content: chunks and bundles land as sent uncompressed; a bomb or bad stream stores nothing."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from protocol import ChunkMeta, FileReceipt, FileReceipts, chunk_headers, names
from testkit.waiting import wait_for
from tests.hub.hubkit import only_dead_letter, stored_content

_TEXT = "Zápis z jednání zastupitelstva obce, bod {i}: schváleno.\n"


def _text(lines: int) -> bytes:
    return "".join(_TEXT.format(i=i) for i in range(lines)).encode()


async def test_deflated_chunks_and_bundles_are_stored_as_sent_uncompressed(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A file of deflated chunks and a deflated bundle are recorded byte for byte."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    report = _text(3000)
    await agent.send_file("zapisy/zapis.txt", report, chunk_size=64 * 1024, deflate=True)
    small = {f"zapisy/bod-{i}.txt": _text(20 + i) for i in range(5)}
    await agent.send_bundle(agent.bundle(small), deflate=True)

    async def receipted() -> bool:
        await agent.drain_inbox()
        paths = {m.path for m in agent.received if isinstance(m, FileReceipt)}
        for message in agent.received:
            if isinstance(message, FileReceipts):
                paths |= {r.path for r in message.receipts}
        return paths == {"zapisy/zapis.txt", *small}

    await wait_for(receipted, what="receipts for the deflated file and bundle")
    store = await store_of(hub_config)
    for data in [report, *small.values()]:
        assert await stored_content(hub_config, store, hashlib.sha256(data).hexdigest()) == data


@pytest.mark.parametrize(
    ("body", "encoding", "reason", "detail"),
    [
        # 8 MiB and one byte of zeros deflate to some 8 KiB: one byte over the chunk bound.
        (zlib.compress(bytes(names.MAX_CHUNK_SIZE + 1)), "deflate", "oversized", "beyond"),
        (zlib.compress(b"zapis")[:-3], "deflate", "undecodable", "complete zlib stream"),
        (b"not a zlib stream at all", "deflate", "undecodable", "not a valid zlib stream"),
        (b"zapis", "gzip", "undecodable", "'gzip' is not supported"),
    ],
    ids=["bomb", "truncated", "garbage", "unknown-encoding"],
)
async def test_a_bad_deflated_chunk_is_dead_lettered_with_the_reason_and_stores_nothing(
    shared_broker,
    vhost,
    hub_config,
    make_agent,
    start_hub,
    store_of,
    ico,
    body,
    encoding,
    reason,
    detail,
):
    """A body that inflates too far, a broken stream or an unknown encoding: one clear dead letter."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    meta = ChunkMeta(**agent.envelope(), object_sha256="a" * 64, index=0, sha256="b" * 64)
    await agent.publish_raw(
        body,
        kind="chunk",
        headers=chunk_headers(meta),
        message_id=meta.message_id,
        content_type="application/octet-stream",
        content_encoding=encoding,
    )
    headers = await only_dead_letter(shared_broker, vhost)
    assert headers[names.HEADER_REJECT_REASON] == reason
    assert detail in str(headers[names.HEADER_REJECT_DETAIL])
    store = await store_of(hub_config)
    assert await store.stored_chunks({"b" * 64}) == set()
    assert hub.metrics.dead_lettered == 1
