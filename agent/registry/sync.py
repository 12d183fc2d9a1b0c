"""Registry records to the outbox: snapshots in change-log order, closed/reopened events.

Every record is sent as a whole snapshot carrying `source_version` (the change
log's `seq`), so the hub can ignore an older one. A spis whose `stav` becomes
`uzavreny` also produces `SpisClosed`; one that leaves it, `SpisReopened`.
A periodic full reconciliation compares every record with what was last
sent and repairs whatever the change log missed (a pruned log, a trigger
that was off).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from agent.errors import RegistryError
from agent.problems import Problem
from agent.registry.contract import clean_row, event_time, to_snapshot
from protocol import (
    RecordDeleted,
    SpisClosed,
    SpisReopened,
    encode,
    kind_of,
    names,
    new_message_id,
    utc_now,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from agent.problems import Problems
    from agent.registry.contract import RawRow
    from agent.registry.source import RegistrySource
    from agent.state import State
    from protocol import AnyMessage, DokumentSnapshot, KomponentaSnapshot, SpisSnapshot

    AnySnapshot = SpisSnapshot | DokumentSnapshot | KomponentaSnapshot

__all__ = ["RegistrySync"]

log = structlog.get_logger(__name__)

# For a source that numbers its own versions (the reference schema's change
# log), `registry_cursor` is the log's seq read up to. For one the agent numbers,
# it is the last version given, and the adapter's own cursor (opaque: times, log
# ids) is kept in `registry_source_cursor`.
_CURSOR = "registry_cursor"
_SOURCE_CURSOR = "registry_source_cursor"
_CURSOR_SAVE_S = 60.0
_RECONCILE_CHUNK = 2000
_TABLES = ("spis", "dokument", "komponenta")
_UNREADABLE = "registry_unreadable"
_CLOSED = "uzavreny"
_INVALID = "registry_invalid_record"
_CLEANED = "registry_cleaned_record"


class _Batch:
    """Messages and bookkeeping that are committed together."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, bytes]] = []
        self.seen: list[tuple[str, str, str, str | None]] = []
        self.forgotten: list[tuple[str, str]] = []

    def add(self, message: AnyMessage) -> None:
        self.messages.append((kind_of(message), message.message_id, encode(message)))


class RegistrySync:
    """Polls the registry's change log and reconciles periodically.

    Args:
        reader: The registry reader.
        state: The state database.
        problems: Where problems are reported.
        ico: The obec's IČO (the sender).
        poll_interval_s: Seconds between change-log reads.
        reconcile_interval_s: Seconds between full reconciliations.
        on_queued: Called after messages were queued (wakes the publisher).
        spis_defaults: Contract fields every spis gets when the registry leaves them
            empty (`[registry.spisovy_plan]`).
    """

    def __init__(
        self,
        *,
        reader: RegistrySource,
        state: State,
        problems: Problems,
        ico: str,
        poll_interval_s: float,
        reconcile_interval_s: float,
        on_queued: Callable[[], None],
        spis_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self._reader = reader
        self._state = state
        self._problems = problems
        self._ico = ico
        self._poll = poll_interval_s
        self._reconcile_every = reconcile_interval_s
        self._on_queued = on_queued
        self._spis_defaults = dict(spis_defaults or {})
        self._cursor_saved_at = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile (at start, then periodically) and poll until `stop` is set."""
        # Reconciling at every start costs one read of the registry and repairs
        # whatever happened while the agent was down and the log was pruned.
        next_reconcile = 0.0
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_reconcile:
                        await self.reconcile()
                        next_reconcile = time.monotonic() + self._reconcile_every
                    while await self.poll_once() and not stop.is_set():
                        pass
                    self._problems.resolve(_UNREADABLE, self._reader.name)
                except RegistryError as exc:
                    # A database that is down or slow delays changes, never loses them:
                    # the cursor moves only with what was queued.
                    self._problems.report(Problem(_UNREADABLE, self._reader.name, str(exc)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._poll)
        finally:
            await self._reader.close()

    async def poll_once(self) -> bool:
        """Read one batch of changes; return True if there may be more."""
        key = _CURSOR if self._reader.numbers_versions else _SOURCE_CURSOR
        cursor = await self._state.get_meta(key)
        if cursor is None and not self._reader.numbers_versions:
            return False  # the first reconciliation sets where reading continues
        batch_read = await self._reader.changes_after(cursor)
        if batch_read.cursor == cursor and not batch_read.changes:
            return False
        version = None if self._reader.numbers_versions else await self._next_version()
        batch = _Batch()
        for table in _TABLES:
            changes = [c for c in batch_read.changes if c.table == table]
            if not changes:
                continue
            seen = await self._state.registry_seen(table, {c.record_id for c in changes})
            for change in changes:
                seq = change.seq if version is None else version
                assert seq is not None  # a source that numbers versions gives each change one
                self._emit(batch, table, change.record_id, change.row, seq=seq, seen=seen)
        batch.messages.sort(key=_source_version)
        await self._commit(batch, batch_read.cursor, version)
        if batch.messages:
            log.info("registry_changes_queued", messages=len(batch.messages))
            self._on_queued()
        return batch_read.more

    async def reconcile(self) -> None:
        """Compare every record with what was last sent; queue what differs."""
        snapshot = await self._reader.everything()
        version = snapshot.max_seq if self._reader.numbers_versions else await self._next_version()
        assert version is not None  # a source that numbers versions says up to which
        agent_version = None if self._reader.numbers_versions else version
        batch = _Batch()
        queued = 0
        for table in _TABLES:
            rows = snapshot.records.get(table, [])
            seen = await self._state.registry_seen(table)
            present: set[str] = set()
            for row in rows:
                record_id = str(row["id"])
                present.add(record_id)
                self._emit(batch, table, record_id, row, seq=version, seen=seen)
                if len(batch.messages) >= _RECONCILE_CHUNK:
                    # A large registry is queued in parts: memory stays bounded and the
                    # publisher starts at once. A part committed before a crash is in
                    # registry_seen, so the next reconciliation does not send it again.
                    await self._commit(batch, None, agent_version)
                    queued += len(batch.messages)
                    self._on_queued()
                    batch = _Batch()
            for record_id in seen.keys() - present:
                self._emit(batch, table, record_id, None, seq=version, seen=seen)
        key = _CURSOR if self._reader.numbers_versions else _SOURCE_CURSOR
        # The first reconciliation says where incremental reading starts; later
        # ones leave the cursor alone (it may already be past the snapshot).
        first = await self._state.get_meta(key) is None
        await self._commit(batch, snapshot.cursor if first else None, agent_version, force=first)
        queued += len(batch.messages)
        log.info("registry_reconciled", messages=queued, version=version)
        if batch.messages:
            self._on_queued()

    async def _next_version(self) -> int:
        """The next version the agent gives a batch: above the last, and at least the time in ms.

        The clock floor keeps versions increasing even if the agent's state was
        lost and numbering starts anew.
        """
        last = int(await self._state.get_meta(_CURSOR) or 0)
        return max(last + 1, int(time.time() * 1000))

    async def _commit(
        self, batch: _Batch, cursor: str | None, version: int | None, *, force: bool = False
    ) -> None:
        """Queue the batch and move the cursor, in one transaction.

        Without messages, an agent-numbered source's cursor is saved at most
        once a minute: it only narrows the next read, and an idle registry
        should not cost a disk write per poll.
        """
        if self._reader.numbers_versions:
            await self._state.commit_registry_batch(
                batch.messages, batch.seen, batch.forgotten, None if cursor is None else int(cursor)
            )
            return
        meta: dict[str, str] = {}
        if batch.messages and version is not None:
            meta[_CURSOR] = str(version)
        due = time.monotonic() - self._cursor_saved_at >= _CURSOR_SAVE_S
        if cursor is not None and (batch.messages or batch.forgotten or force or due):
            meta[_SOURCE_CURSOR] = cursor
            self._cursor_saved_at = time.monotonic()
        if meta or batch.seen or batch.forgotten:
            await self._state.commit_registry_batch(
                batch.messages, batch.seen, batch.forgotten, None, meta
            )

    def _emit(
        self,
        batch: _Batch,
        table: str,
        record_id: str,
        row: RawRow | None,
        *,
        seq: int,
        seen: dict[str, tuple[str, str | None]],
    ) -> None:
        previous = seen.get(record_id)
        if row is None:
            if previous is not None:
                batch.add(
                    RecordDeleted(
                        message_id=new_message_id(),
                        sender=self._ico,
                        sent_at=utc_now(),
                        table=table,  # type: ignore[arg-type]  # one of the three, from _TYPES
                        record_id=record_id,
                        source_version=seq,
                    )
                )
                batch.forgotten.append((table, record_id))
            return
        checked = self._check(table, record_id, row, seq, previous)
        if checked is None:
            return
        row, fingerprint, snapshot, encoded = checked
        batch.messages.append((kind_of(snapshot), snapshot.message_id, encoded))
        stav = row.get("stav") if table == "spis" else None
        batch.seen.append((table, record_id, fingerprint, None if stav is None else str(stav)))
        if table != "spis":
            return
        was_closed = previous is not None and previous[1] == _CLOSED
        self._closing_events(batch, record_id, row, seq, was_closed=was_closed)

    def _closing_events(
        self, batch: _Batch, record_id: str, row: RawRow, seq: int, *, was_closed: bool
    ) -> None:
        stav = row.get("stav")
        if stav == _CLOSED and not was_closed:
            # The product's own log says when and who, where it has one.
            closed_at, closed_by = event_time(row, "SpisUzavreni")
            batch.add(
                SpisClosed(
                    message_id=new_message_id(),
                    sender=self._ico,
                    sent_at=utc_now(),
                    spis_id=record_id,
                    source_version=seq,
                    closed_at=closed_at or utc_now(),
                    closed_by=closed_by,
                )
            )
        elif was_closed and stav != _CLOSED:
            reopened_at, reopened_by = event_time(row, "SpisOtevreni")
            batch.add(
                SpisReopened(
                    message_id=new_message_id(),
                    sender=self._ico,
                    sent_at=utc_now(),
                    spis_id=record_id,
                    source_version=seq,
                    reopened_at=reopened_at or utc_now(),
                    reopened_by=reopened_by,
                )
            )

    def _check(
        self,
        table: str,
        record_id: str,
        row: RawRow,
        seq: int,
        previous: tuple[str, str | None] | None,
    ) -> tuple[RawRow, str, AnySnapshot, bytes] | None:
        """Clean, compare and encode a record; None if refused or unchanged (problems reported)."""
        where = f"{table}/{record_id}"
        result = clean_row(row)
        if result.row is None:
            self._problems.report(Problem(_INVALID, where, result.refused or ""))
            return None
        row = result.row
        if table == "spis" and self._spis_defaults and not row.get("spisovy_plan_identifikator"):
            # A product that records no spisový plán: the office's one, from AGENT.toml
            # (whole, never mixed with a plan the registry names).
            row = {**row, **self._spis_defaults}
        if result.cleaned:
            self._problems.report(Problem(_CLEANED, where, "; ".join(result.cleaned)))
        else:
            self._problems.resolve(_CLEANED, where)
        fingerprint = _fingerprint(row)
        if previous is not None and previous[0] == fingerprint:
            self._problems.resolve(_INVALID, where)
            return None
        try:
            snapshot = to_snapshot(table, row, seq, self._ico)
            encoded = encode(snapshot)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            self._problems.report(Problem(_INVALID, where, f"záznam porušuje kontrakt: {exc}"))
            return None
        if len(encoded) > names.MAX_METADATA_BYTES:
            self._problems.report(
                Problem(
                    _INVALID,
                    where,
                    f"záznam má po zakódování {len(encoded)} bajtů, nejvýše "
                    f"{names.MAX_METADATA_BYTES}; zkraťte jeho texty nebo seznamy",
                )
            )
            return None
        self._problems.resolve(_INVALID, where)
        return row, fingerprint, snapshot, encoded


def _fingerprint(row: RawRow) -> str:
    # Empty optional fields are left out, so a registry without them (or an
    # agent from before they existed) fingerprints the same: no resend on upgrade.
    kept = {k: v for k, v in row.items() if v is not None and v != []}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def _source_version(item: tuple[str, str, bytes]) -> int:
    version: int = json.loads(item[2])["source_version"]
    return version
