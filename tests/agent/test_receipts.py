"""The agent's record of what the hub confirmed: bounded re-sends, receipts before or after the confirm."""

from __future__ import annotations

import hashlib
import time

from agent.receipts import RESEND_BATCH
from agent.records import VersionRecord
from agent.state import State
from protocol import new_message_id


def _version(i: int) -> VersionRecord:
    sha = hashlib.sha256(f"file {i}".encode()).hexdigest()
    return VersionRecord(
        path=f"f{i:04}.pdf",
        folder="/data",
        disk_path=f"f{i:04}.pdf",
        size=10,
        mtime_ns=1,
        inode=i,
        sha256=sha,
        chunk_size=4096,
        chunk_sha256=(sha,),
    )


async def _sent(state: State, count: int) -> list[VersionRecord]:
    """Record `count` versions and have the broker confirm all of their rows."""
    versions = [_version(i) for i in range(count)]
    await state.record_changes([(v, new_message_id()) for v in versions], [])
    rows = await state.due_rows(0, limit=count + 10)
    await state.delete_rows([row.id for row in rows])
    return versions


async def test_a_long_outage_is_sent_again_in_bounded_batches(tmp_path) -> None:
    """However many versions wait for a receipt, one check queues at most RESEND_BATCH of them, the next check the rest."""
    state = await State.open(tmp_path / "state.sqlite")
    try:
        count = RESEND_BATCH + 44
        await _sent(state, count)
        later = time.time() + 1
        first = await state.queue_unconfirmed(sent_before=later, limit=RESEND_BATCH)
        assert len(first) == RESEND_BATCH
        assert (await state.outbox_depth())[0] == RESEND_BATCH
        second = await state.queue_unconfirmed(sent_before=later, limit=RESEND_BATCH)
        assert len(second) == 44
        assert {p for p, _, _ in first}.isdisjoint({p for p, _, _ in second})
        assert await state.queue_unconfirmed(sent_before=later, limit=RESEND_BATCH) == []
    finally:
        await state.close()


async def test_a_receipt_ends_the_wait_even_if_it_comes_before_the_confirm_is_recorded(
    tmp_path,
) -> None:
    """A version the hub confirmed is never sent again, whether its receipt came after or before the broker's confirm was recorded."""
    state = await State.open(tmp_path / "state.sqlite")
    try:
        early, late, silent = (_version(i) for i in range(3))
        await state.record_changes([(v, new_message_id()) for v in (early, late, silent)], [])
        rows = {row.path: row for row in await state.due_rows(0)}
        await state.record_receipt(early.sha256, early.path, rows[early.path].source_seq or 0)
        await state.delete_rows([row.id for row in rows.values()])
        await state.record_receipt(late.sha256, late.path, rows[late.path].source_seq or 0)
        queued = await state.queue_unconfirmed(sent_before=time.time() + 1, limit=RESEND_BATCH)
        assert [path for path, _, _ in queued] == [silent.path]
    finally:
        await state.close()


async def test_an_upgraded_agent_waits_for_receipts_of_what_it_sent_before(tmp_path) -> None:
    """An index kept before receipts were tracked is seeded: content the hub confirmed counts as confirmed, the rest is due."""
    state = await State.open(tmp_path / "state.sqlite")
    try:
        confirmed, unconfirmed = (_version(i) for i in range(2))
        await state.record_changes([(v, new_message_id()) for v in (confirmed, unconfirmed)], [])
        rows = await state.due_rows(0)
        # As an older agent did: rows deleted without tracking, receipts only in `held`.
        await state.delete_rows([row.id for row in rows], confirmed=False)
        await state._write(
            lambda db: db.execute(
                "INSERT INTO held (sha256, path, source_seq, received_at) VALUES (?, ?, 1, 0)",
                (confirmed.sha256, confirmed.path),
            )
        )
        assert await state.seed_sent_versions() == 2
        assert await state.seed_sent_versions() == 0
        queued = await state.queue_unconfirmed(sent_before=time.time(), limit=RESEND_BATCH)
        assert [path for path, _, _ in queued] == [unconfirmed.path]
    finally:
        await state.close()
