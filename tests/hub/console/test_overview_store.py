"""The console's figures from the store (`store.overview`): current files, versions, bytes, spisy per state."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.store import SqliteMetadataStore
from hub.store.models import FileVersionRow, SpisStateRow
from protocol import SpisSnapshot, new_message_id


def _version(ico, path, seq, size, *, deleted=False):
    return FileVersionRow(
        ico=ico,
        path=path,
        source_seq=seq,
        sha256=None if deleted else f"{seq:064x}",
        size=None if deleted else size,
        mtime_ns=None if deleted else 0,
        deleted=deleted,
        recorded_at=datetime.now(UTC),
    )


def _spis(ico, spis_id):
    return SpisSnapshot(
        message_id=new_message_id(),
        sender=ico,
        sent_at=datetime.now(UTC),
        spis_id=spis_id,
        source_version=1,
        spisova_znacka=f"OÚ/{spis_id}/2026",
        nazev="Žádost",
        spisovy_znak="1.2",
        skartacni_znak="V",
        skartacni_lhuta=5,
        datum_otevreni=date(2026, 1, 5),
        stav="otevreny",
        zpracovatel="Jana Nováková",
    )


async def test_figures_count_current_files_versions_bytes_and_spisy(tmp_path, ico, other_ico):
    """Only each path's newest version counts as a file (a tombstone removes it); spisy without a closing are open."""
    store = await SqliteMetadataStore.open(tmp_path)
    try:
        async with store.transaction() as tx:
            await tx.touch_obec(ico, datetime.now(UTC))
            await tx.add_file_version(_version(ico, "a.pdf", 1, 100))
            await tx.add_file_version(_version(ico, "a.pdf", 2, 150))
            await tx.add_file_version(_version(ico, "b.pdf", 3, 10))
            await tx.add_file_version(_version(ico, "b.pdf", 4, 0, deleted=True))
            await tx.add_file_version(_version(ico, "c.pdf", 5, 7))
            for spis_id in ("S1", "S2", "S3"):
                await tx.put_spis(ico, _spis(ico, spis_id))
            await tx.delete_record("spis", ico, "S4", 1)
            await tx.put_spis_state(
                SpisStateRow(ico=ico, spis_id="S1", state="closed", state_version=1, closing_seq=1)
            )
            await tx.put_spis_state(
                SpisStateRow(
                    ico=ico, spis_id="S2", state="archived", state_version=2, closing_seq=1
                )
            )
            await tx.touch_obec(other_ico, datetime.now(UTC))
        figures = await store.overview.obce_figures()
        mine = figures[ico]
        assert (mine.files, mine.versions, mine.bytes) == (2, 5, 157)
        assert mine.spisy == {"closed": 1, "archived": 1, "open": 1}
        assert figures[other_ico].files == 0
        assert set(await store.overview.obce_figures([other_ico])) == {other_ico}
        assert await store.overview.obce_figures(["00000000"]) == {}
        found, total = await store.overview.find_files(ico, "a.p")
        assert total == 1
        assert [(f.path, f.size, f.versions) for f in found] == [("a.pdf", 150, 2)]
        recent = await store.overview.recent_versions(ico, limit=2)
        assert [(v.path, v.deleted) for v in recent] == [("c.pdf", False), ("b.pdf", True)]
    finally:
        await store.close()
