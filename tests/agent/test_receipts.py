"""The agent's record of what the hub confirmed: bounded re-sends, receipts before or after the confirm.

File versions, tombstones and registry messages alike.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from agent.receipts import RESEND_BATCH
from agent.records import VersionRecord
from agent.state import State
from protocol import (
    RecordDeleted,
    RecordReceipt,
    SpisClosed,
    SpisReopened,
    Tombstone,
    encode,
    kind_of,
    new_message_id,
)

_NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
_ENVELOPE = {"sender": "00255319", "sent_at": _NOW}


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


def _receipt(kind: str, record_id: str, version: int, table: str = "") -> RecordReceipt:
    return RecordReceipt(
        message_id=new_message_id(),
        sender="hub:test",
        sent_at=_NOW,
        record_kind=kind,  # type: ignore[arg-type]
        record_id=record_id,
        table=table,  # type: ignore[arg-type]
        source_version=version,
    )


async def _confirm_all(state: State) -> None:
    """Have the broker confirm every row in the outbox."""
    await state.delete_rows([row.id for row in await state.due_rows(0, limit=1000)])


async def test_registry_messages_wait_for_their_receipt_and_the_newest_state_is_sent_again(
    tmp_path,
) -> None:
    """Of each registry record only its newest message the hub did not confirm is queued again, as it was, once until the broker takes it, and never after the hub's receipt."""
    state = await State.open(tmp_path / "state.sqlite")
    try:
        ids = {"message_id": new_message_id(), **_ENVELOPE}
        closed = SpisClosed(**ids, spis_id="S1", source_version=1, closed_at=_NOW)
        reopened = SpisReopened(
            **{**ids, "message_id": new_message_id()},
            spis_id="S1",
            source_version=2,
            reopened_at=_NOW,
        )
        deleted = RecordDeleted(
            **{**ids, "message_id": new_message_id()},
            table="dokument",
            record_id="D1",
            source_version=2,
        )
        await state.add_messages(
            (kind_of(m), m.message_id, encode(m)) for m in (closed, reopened, deleted)
        )
        await _confirm_all(state)
        await state.record_record_receipt(_receipt("record_deleted", "D1", 2, "dokument"))
        later = time.time() + 1
        queued = await state.queue_unconfirmed(sent_before=later, limit=RESEND_BATCH)
        assert [(name, version) for name, version, _ in queued] == [("spis_closing/S1", 2)]
        [row] = await state.due_rows(0)
        assert (row.kind, row.message_id, row.body) == (
            "spis_reopened",
            reopened.message_id,
            encode(reopened),
        )
        # Waiting in the outbox: not queued a second time.
        assert await state.queue_unconfirmed(sent_before=later + 10, limit=RESEND_BATCH) == []
        await _confirm_all(state)
        again = await state.queue_unconfirmed(sent_before=later + 10, limit=RESEND_BATCH)
        assert [(name, resends) for name, _, resends in again] == [("spis_closing/S1", 1)]
        await _confirm_all(state)
        await state.record_record_receipt(_receipt("spis_reopened", "S1", 2))
        assert await state.queue_unconfirmed(sent_before=later + 20, limit=RESEND_BATCH) == []
    finally:
        await state.close()


async def test_a_tombstone_waits_for_its_receipt_unless_its_file_came_back(tmp_path) -> None:
    """An unconfirmed tombstone is queued again for its path; one whose path has a file again is not."""
    state = await State.open(tmp_path / "state.sqlite")
    try:
        gone, back = _version(0), _version(1)
        await _sent(state, 2)

        def tombstone(path: str, seq: int) -> tuple[str, bytes]:
            message = Tombstone(
                message_id=new_message_id(), **_ENVELOPE, path=path, source_seq=seq, deleted_at=_NOW
            )
            return message.message_id, encode(message)

        seqs = await state.record_deletions([gone.path, back.path], tombstone)
        await _confirm_all(state)
        await state.record_changes([(back, new_message_id())], [])
        await _confirm_all(state)
        await state.record_receipt(back.sha256, back.path, seqs[1] + 1)
        queued = await state.queue_unconfirmed(sent_before=time.time() + 1, limit=RESEND_BATCH)
        assert [(name, version) for name, version, _ in queued] == [(gone.path, seqs[0])]
        [row] = await state.due_rows(0)
        assert (row.kind, row.path, row.source_seq) == ("tombstone", gone.path, seqs[0])
    finally:
        await state.close()
