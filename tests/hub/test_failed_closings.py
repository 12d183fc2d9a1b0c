"""A SIP that could not be built is offered again only when its registry records change."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from hub.closing import ClosingWorker, find_complete_spisy
from hub.store import SqliteMetadataStore
from hub.store.models import ReadySpis, SipFailure, SpisStateRow
from protocol import SpisSnapshot, new_message_id, utc_now
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

ICO = "00255319"


def _spis(spis_id: str, version: int) -> SpisSnapshot:
    return SpisSnapshot(
        message_id=new_message_id(),
        sender=f"agent:{ICO}",
        sent_at=utc_now(),
        spis_id=spis_id,
        source_version=version,
        spisova_znacka=f"OÚ/{spis_id}",
        nazev="Žádost",
        spisovy_znak="1.2",
        skartacni_znak="A",
        skartacni_lhuta=10,
        datum_otevreni=date(2024, 3, 1),
        stav="uzavreny",
        zpracovatel="Jana Nováková",
    )


async def _failed_closing(store: SqliteMetadataStore, spis_id: str) -> None:
    """A closed, complete spis (no dokumenty: nothing missing) whose build failed."""
    async with store.transaction() as tx:
        await tx.put_spis(ICO, _spis(spis_id, 1))
        await tx.put_spis_state(
            SpisStateRow(
                ico=ICO,
                spis_id=spis_id,
                state="closed",
                state_version=2,
                closing_seq=1,
                closed_at=datetime(2024, 6, 1, tzinfo=UTC),
                complete_at=datetime(2024, 6, 1, tzinfo=UTC),
            )
        )
    await store.sips.record_failed(
        name=f"SIP_{ICO}_{spis_id}_1",
        ico=ICO,
        spis_id=spis_id,
        closing_seq=1,
        failures=[SipFailure("HUB-METADATA-MISSING", "chybí v evidenci", f"spis {spis_id}: x")],
        at=utc_now(),
    )


async def _offered(store: SqliteMetadataStore) -> list[str]:
    async with store.transaction() as tx:
        return [r.spis_id for r in await find_complete_spisy(tx, [ICO], at=utc_now())]


async def test_failed_closing_comes_back_only_after_its_own_registry_change(tmp_path):
    """A registry change of another spis does not offer a failed closing again; a newer snapshot of the spis itself does."""
    store = await SqliteMetadataStore.open(tmp_path, instance="test")
    try:
        await _failed_closing(store, "S1")
        await _failed_closing(store, "S2")
        assert await _offered(store) == []
        async with store.transaction() as tx:
            await tx.put_spis(ICO, _spis("S2", 3))
        assert await _offered(store) == ["S2"]
    finally:
        await store.close()


class _CountingCloser:
    def __init__(self) -> None:
        self.calls: list[ReadySpis] = []
        self.release = asyncio.Event()

    async def spis_complete(self, spis: ReadySpis) -> None:
        self.calls.append(spis)
        await self.release.wait()


def _calls(closer: _CountingCloser, count: int) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return len(closer.calls) >= count

    return reached


async def test_worker_queues_a_spis_offered_by_many_batches_once(tmp_path):
    """A spis offered again while it already waits in the closing queue is taken on once, not once per offer."""
    store = await SqliteMetadataStore.open(tmp_path, instance="test")
    closer = _CountingCloser()
    worker = ClosingWorker(store, closer)
    stop = asyncio.Event()
    first, second = (ReadySpis(ICO, f"S{i}", 1) for i in (1, 2))
    try:
        runner = asyncio.create_task(worker.run(stop))
        worker.submit([first])
        await wait_for(_calls(closer, 1), what="the first spis taken on")
        for _ in range(50):
            worker.submit([second, dataclasses.replace(second)])
        closer.release.set()
        await wait_for(_calls(closer, 2), what="the second spis taken on")
        stop.set()
        await runner
        assert closer.calls == [first, second]
    finally:
        await store.close()
