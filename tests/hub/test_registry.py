"""Registry ingest: snapshot versions, deletions, and the hub state of a spis."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from hub.closing import ReadyRecorder
from protocol import (
    FileReceipt,
    RecordDeleted,
    RecordReceipt,
    SpisClosed,
    SpisReopened,
    Tombstone,
    kind_of,
    names,
)
from testkit.waiting import wait_for
from tests.hub.hubkit import registry_records


async def _state(store, ico, spis_id):
    [summary] = [s for s in await store.spisy(ico) if s.id == spis_id]
    return summary


async def test_older_snapshot_never_overwrites_newer(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A spis snapshot with a lower source_version arriving later leaves the newer one in place."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    [new, *_] = registry_records(agent, spis_id="S1", soubory=[], version=7)
    old = msgspec.structs.replace(new, message_id="old-1", source_version=3, nazev="stará věc")
    await agent.send(new)
    await agent.send(old)
    store = await store_of(hub_config)
    await wait_for(lambda: _processed(store, ico, 2), what="both snapshots")
    detail = await store.spis_detail(ico, "S1")
    assert detail is not None
    assert (detail.snapshot.source_version, detail.snapshot.nazev) == (7, new.nazev)


async def test_every_registry_message_and_tombstone_is_confirmed_applied_outdated_or_seen(
    hub_config, make_agent, start_hub, ico
):
    """The hub answers a RecordReceipt for a registry message it applied, one it found outdated, one it had seen (same message id) and a tombstone, to an agent that says it understands them."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    [new, *_] = registry_records(agent, spis_id="S9", soubory=[], version=7)
    old = msgspec.structs.replace(new, message_id="old-9", source_version=3)
    deleted = RecordDeleted(**agent.envelope(), table="dokument", record_id="D9", source_version=8)
    gone = Tombstone(
        **agent.envelope(), path="gone.pdf", source_seq=1, deleted_at=datetime.now(UTC)
    )
    for message in (new, old, new, deleted, gone):
        await agent.send(message, headers=_understands_record_receipts(message))

    def receipts() -> list[tuple[str, str, str, int]]:
        return sorted(
            (m.record_kind, m.record_id, m.table, m.source_version)
            for m in agent.received
            if isinstance(m, RecordReceipt)
        )

    await agent.wait_for_reply(lambda _: len(receipts()) >= 5, what="five receipts")
    assert receipts() == [
        ("record_deleted", "D9", "dokument", 8),
        ("spis", "S9", "", 3),
        ("spis", "S9", "", 7),
        ("spis", "S9", "", 7),
        ("tombstone", "gone.pdf", "", 1),
    ]


async def test_an_agent_that_does_not_understand_record_receipts_gets_none(
    hub_config, make_agent, start_hub, ico
):
    """A registry message without the record-receipts header (an older agent) is applied but not confirmed with a RecordReceipt the agent could not decode."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    [spis, *_] = registry_records(agent, spis_id="S8", soubory=[], version=2)
    await agent.send(spis)
    await agent.send_file("after.pdf", b"after the spis")
    await agent.wait_for_reply(
        lambda m: isinstance(m, FileReceipt) and m.path == "after.pdf", what="the file's receipt"
    )
    assert not [m for m in agent.received if isinstance(m, RecordReceipt)]


def _understands_record_receipts(message) -> dict[str, object]:
    return {
        names.HEADER_KIND: kind_of(message),
        names.HEADER_SCHEMA_VERSION: 1,
        names.HEADER_RECORD_RECEIPTS: 1,
    }


async def _processed(store, ico, count):
    return await store.processed_messages(ico) >= count


async def test_deleted_record_is_not_resurrected_by_an_older_snapshot(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A RecordDeleted hides the spis; an older snapshot arriving afterwards does not bring it back."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    [spis, *_] = registry_records(agent, spis_id="S2", soubory=[], version=2)
    await agent.send(spis)
    await agent.send(
        RecordDeleted(**agent.envelope(), table="spis", record_id="S2", source_version=5)
    )
    await agent.send(msgspec.structs.replace(spis, message_id="late", source_version=4))
    store = await store_of(hub_config)
    await wait_for(lambda: _processed(store, ico, 3), what="three messages")
    assert await store.spisy(ico) == []
    assert await store.spis_detail(ico, "S2") is None


async def test_spis_lifecycle_closed_waits_for_content_then_reopens(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A closed spis stays `closed` with its missing komponenty listed until their files arrive, and a reopen makes it `open`."""
    agent = await make_agent(ico)
    await start_hub(hub_config, closer=ReadyRecorder())
    for record in registry_records(
        agent, spis_id="S3", soubory=["s3/a.pdf", "s3/b.pdf"], stav="uzavreny"
    ):
        await agent.send(record)
    await agent.send(
        SpisClosed(**agent.envelope(), spis_id="S3", source_version=10, closed_at=datetime.now(UTC))
    )
    store = await store_of(hub_config)
    await wait_for(lambda: _processed(store, ico, 5), what="registry and close")
    summary = await _state(store, ico, "S3")
    assert summary.state == "closed"
    assert summary.stav == "uzavreny"
    assert sorted(m.soubor for m in summary.missing) == ["s3/a.pdf", "s3/b.pdf"]
    assert await store.ready_spisy() == []

    await agent.send_file("s3/a.pdf", b"first file")
    await agent.send_file("s3/b.pdf", b"second file")
    await agent.wait_for_reply(lambda m: isinstance(m, FileReceipt) and m.path == "s3/b.pdf")

    async def ready() -> bool:
        return bool(await store.ready_spisy())

    await wait_for(ready, what="spis complete")
    [spis] = await store.ready_spisy()
    assert (spis.ico, spis.spis_id, spis.closing_seq) == (ico, "S3", 1)
    summary = await _state(store, ico, "S3")
    assert (summary.state, summary.missing, summary.sip) == ("closed", (), None)
    detail = await store.spis_detail(ico, "S3")
    assert detail is not None
    assert [k.file.sha256 is not None for d in detail.dokumenty for k in d.komponenty] == [
        True,
        True,
    ]

    await agent.send(
        SpisReopened(
            **agent.envelope(), spis_id="S3", source_version=11, reopened_at=datetime.now(UTC)
        )
    )
    # A late, older close must not close it again.
    await agent.send(
        SpisClosed(**agent.envelope(), spis_id="S3", source_version=9, closed_at=datetime.now(UTC))
    )
    await wait_for(lambda: _processed(store, ico, 9), what="reopen")
    assert (await _state(store, ico, "S3")).state == "open"
    assert await store.ready_spisy() == []

    await agent.send(
        SpisClosed(**agent.envelope(), spis_id="S3", source_version=12, closed_at=datetime.now(UTC))
    )
    await wait_for(ready, what="second closing complete")
    [again] = await store.ready_spisy()
    assert again.closing_seq == 2


async def test_forwarded_and_archived_states_follow_the_closing(
    hub_config, make_agent, start_hub, store_of, ico
):
    """A complete spis moves to `forwarded` with its SIP name and then `archived`, only for its own closing."""
    agent = await make_agent(ico)
    await start_hub(hub_config, closer=ReadyRecorder())
    for record in registry_records(agent, spis_id="S4", soubory=[]):
        await agent.send(record)
    await agent.send(
        SpisClosed(**agent.envelope(), spis_id="S4", source_version=3, closed_at=datetime.now(UTC))
    )
    store = await store_of(hub_config)

    async def ready() -> bool:
        return bool(await store.ready_spisy())

    await wait_for(ready, what="spis without komponenty complete")
    assert not await store.mark_forwarded(ico, "S4", 2, sip_name="wrong", sip_sha256="0" * 64)
    assert await store.mark_forwarded(ico, "S4", 1, sip_name="SIP_S4_1", sip_sha256="a" * 64)
    assert (await _state(store, ico, "S4")).sip == "SIP_S4_1"
    assert (await _state(store, ico, "S4")).state == "forwarded"
    assert await store.mark_archived(ico, "S4", 1)
    assert (await _state(store, ico, "S4")).state == "archived"
    assert await store.ready_spisy() == []
