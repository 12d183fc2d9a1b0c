"""Move semantics: an archived spis's blobs leave the hub after the grace period, unless still needed."""

from __future__ import annotations

import msgspec
import pytest

from hub.content import open_content
from hub.forwarding import ReleaseSweeper
from hub.store import LocalBlobStore
from protocol import FileReceipt, utc_now
from tests.hub.closingkit import (
    archive_config,
    close_spis,
    closing_hub_config,
    pdf,
    send_spis,
    start_archive,
    wait_for_state,
)
from tests.hub.hubkit import registry_records


@pytest.fixture
def config(shared_broker, vhost, tmp_path):
    # The hub's own sweeper runs once at start; the tests sweep by hand.
    return closing_hub_config(shared_broker, vhost, tmp_path / "hub", release_sweep_s=3600.0)


@pytest.fixture
async def archive(shared_broker, vhost, tmp_path):
    running = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    yield running.config
    await running.stop()


def _with_grace(config, grace):
    return msgspec.structs.replace(
        config, hub=msgspec.structs.replace(config.hub, release_grace_s=grace)
    )


async def _chunks(store, path_sha):
    content = await store.content(path_sha)
    assert content is not None
    return content.chunks


async def _all_exist(blobs, chunks) -> bool:
    return all([await blobs.exists(c) for c in chunks])


async def _none_exist(blobs, chunks) -> bool:
    return not any([await blobs.exists(c) for c in chunks])


async def _archived_spis_with_shared_content(agent, store, ico):
    """Spis A (archived) holds own.pdf, shared.pdf and copy.pdf; open spis B holds shared.pdf; inbox/copy.pdf is an unfiled copy."""
    files = {"a/own.pdf": pdf(5_000), "shared.pdf": pdf(4_000), "a/copy.pdf": pdf(3_000)}
    await send_spis(agent, "A", files)
    await agent.send_file("inbox/copy.pdf", files["a/copy.pdf"], chunk_size=1024)
    for record in registry_records(agent, spis_id="B", soubory=["shared.pdf"]):
        await agent.send(record)
    await close_spis(agent, "A", 2)
    row = await wait_for_state(store, ico, "A", "archived")
    sha = {f.path: f.sha256 for f in await store.current_files(ico)}
    return row, sha, files


async def test_release_waits_for_the_grace_period_and_spares_what_is_still_needed(
    config, archive, make_agent, start_hub, store_of, ico
):
    """Blobs of an archived spis stay until the grace period ends; then its own content and SIP go, while content an open spis or an unfiled file needs stays until that spis is archived too."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    store = await store_of(config)
    blobs = LocalBlobStore(config.hub.data_path / "blobs")
    row, sha, _ = await _archived_spis_with_shared_content(agent, store, ico)
    own, shared, copy = [
        await _chunks(store, sha[p]) for p in ("a/own.pdf", "shared.pdf", "a/copy.pdf")
    ]
    zip_path = config.hub.data_path / "sips" / f"{row.sip}.zip"

    assert await ReleaseSweeper(config, store, blobs).sweep() == 0
    assert zip_path.exists()
    assert await _all_exist(blobs, own)

    assert await ReleaseSweeper(_with_grace(config, 0.0), store, blobs).sweep() == 1
    assert not zip_path.exists()
    assert await _none_exist(blobs, own)
    assert await _all_exist(blobs, shared)
    assert await _all_exist(blobs, copy)
    released = {f.path: f.released for f in await store.current_files(ico)}
    assert released == {
        "a/own.pdf": True,
        "shared.pdf": False,
        "a/copy.pdf": False,
        "inbox/copy.pdf": False,
    }
    archived = await wait_for_state(store, ico, "A", "archived")
    assert archived.missing == ()

    await close_spis(agent, "B", 2)
    await wait_for_state(store, ico, "B", "archived")
    assert await ReleaseSweeper(_with_grace(config, 0.0), store, blobs).sweep() == 1
    assert await _none_exist(blobs, shared)
    assert await _all_exist(blobs, copy)
    assert [f.path for f in await store.current_files(ico) if f.released] == [
        "a/own.pdf",
        "shared.pdf",
    ]


async def test_content_sent_again_while_being_released_keeps_its_blobs(
    config, archive, make_agent, start_hub, store_of, ico
):
    """Content uploaded again between a release's metadata step and its blob deletion keeps its blobs and streams whole."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    store = await store_of(config)
    blobs = LocalBlobStore(config.hub.data_path / "blobs")
    _, sha, files = await _archived_spis_with_shared_content(agent, store, ico)
    result = await store.sips.release_content(sha["a/own.pdf"], at=utc_now())
    assert (result.outcome, result.chunks > 0) == ("released", True)

    await agent.send_file("znovu/own.pdf", files["a/own.pdf"], chunk_size=16384)
    await agent.wait_for_reply(
        lambda m: isinstance(m, FileReceipt) and m.path == "znovu/own.pdf", what="the receipt"
    )
    assert await store.sips.delete_released_blobs(blobs, limit=100) == 0
    streamed = b"".join([b async for b in open_content(store, blobs, sha["a/own.pdf"])])
    assert streamed == files["a/own.pdf"]
    assert not any(f.released for f in await store.current_files(ico))


async def test_content_sent_again_after_release_is_stored_anew(
    config, archive, make_agent, start_hub, store_of, ico
):
    """After a release deleted a content's blobs, the same bytes sent again (chunked differently) are stored anew and stream whole."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    store = await store_of(config)
    blobs = LocalBlobStore(config.hub.data_path / "blobs")
    _, sha, files = await _archived_spis_with_shared_content(agent, store, ico)
    assert await ReleaseSweeper(_with_grace(config, 0.0), store, blobs).sweep() == 1
    assert await _none_exist(blobs, await _chunks(store, sha["a/own.pdf"]))

    await agent.send_file("znovu/own.pdf", files["a/own.pdf"], chunk_size=1024)
    await agent.wait_for_reply(
        lambda m: isinstance(m, FileReceipt) and m.path == "znovu/own.pdf", what="the receipt"
    )
    streamed = b"".join([b async for b in open_content(store, blobs, sha["a/own.pdf"])])
    assert streamed == files["a/own.pdf"]
