"""Publishing the outbox: confirms with a window, re-verified file content, bounded memory.

Rows go out in outbox order. A file row is read again at send time, chunk by
chunk, and every chunk is checked against the hashes recorded when the version
was queued; the manifest follows only when all of them matched, so a file
that changed meanwhile is never announced as a mix (its new version is
queued by the watcher instead). A row is deleted only when the broker has
confirmed every message of it; confirmed chunks are remembered, so a resumed
transfer skips them. Memory is bounded by the window: at most
`publish_window` chunks are held at once, whatever the backlog.

Small files go in bundles (`agent.bundles`): consecutive small file rows are
read and verified together and published as one `file_bundle`; each row is
still settled on its own (deleted on the bundle's confirm, dropped if its file
changed, deferred if unreadable), exactly like a single file. A small file
whose bytes were kept from hashing (`agent.kept_content`) is not read again:
those bytes are the recorded version.

Chunks of a new large file may have gone while it was hashed
(`agent.early_chunks`, `send_early`): its row passes over those the broker
confirmed or has in flight on the same channel, without reading them again.

Order on the wire: publishes are started one after another by one dispatcher;
aiormq writes them under a FIFO lock that is reached without suspending, so a
file's chunks precede its manifest on the channel (and so in the queue).
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from aio_pika.exceptions import DeliveryError, PublishError

from agent.bundles import BundleGroup, bundleable, read_verified_files
from agent.chunk_progress import ChunkProgress
from agent.deltas import remembered, signature_to_remember
from agent.early_chunks import OFFER_WAIT_S, EarlyChunks
from agent.envelopes import Envelopes
from agent.errors import FileChangedError
from agent.hasher import ChunkReader
from agent.pacing import TokenBucket
from agent.problems import Problem
from agent.records import FILE_KIND
from agent.row_deleter import RowDeleter
from agent.session import PublishSession
from protocol import (
    BUNDLE_CONTENT_TYPE,
    BundledFile,
    FileBundle,
    encode,
    encode_bundle,
    names,
    new_message_id,
    utc_now,
)
from spisync.backoff import Backoff
from spisync.events import wait_any
from spisync.memory import release_memory
from spisync.platform import is_sharing_violation

if TYPE_CHECKING:
    from collections.abc import Callable

    from aio_pika.abc import AbstractChannel

    from agent.bundles import ReadJob
    from agent.kept_content import KeptContent
    from agent.problems import Problems
    from agent.records import OutboxRow, Signature
    from agent.scanner import Folder
    from agent.state import State

__all__ = ["LinkLostError", "Publisher"]

log = structlog.get_logger(__name__)

# Rows read per query, and so the most small files gathered into one bundle.
_BATCH = names.BUNDLE_MAX_FILES
_IDLE_CHECK_S = 30.0
_DRAIN_S = 6.0
_DIRECT_TIMEOUT_S = 10.0
# Nothing to send and nothing settled for this long after sending: the burst is over.
_TRIM_WHEN_IDLE_S = 2.0
# A row the broker refused, or whose file cannot be read, is retried up to every 5 minutes.
_ROW_RETRY = Backoff(base_s=1.0, cap_s=300.0)


class LinkLostError(Exception):
    """The connection or channel went away during a session; reconnect."""


class _Verdict:
    """What to do with a row once its publishes settle (unless one of them failed)."""

    def __init__(self) -> None:
        self.action = "delete"  # or "drop", "defer", "keep"
        self.reason = ""
        self.signature: Signature | None = None  # of the content sent, to remember

    def set(self, action: str, reason: str = "") -> None:
        self.action, self.reason = action, reason


class Publisher:
    """Publishes outbox rows over one channel per session.

    Args:
        ico: The obec's IČO.
        username: The broker user (sent as `user_id`, which the broker validates).
        state: The state database.
        problems: Where problems are reported.
        folders: Watched folders by key.
        window: Most messages published and not yet confirmed.
        bandwidth_limit: Bytes per second, or None.
        kept: Bytes of small versions kept since they were hashed (sent as they are).
        compress: Whether to send content deflated where that makes it smaller.
        on_file_changed: Called with `(folder key, disk path)` of a file whose
            content no longer matches its queued version.
    """

    def __init__(
        self,
        *,
        ico: str,
        username: str,
        state: State,
        problems: Problems,
        folders: dict[str, Folder],
        window: int,
        bandwidth_limit: int | None,
        kept: KeptContent,
        compress: bool,
        on_file_changed: Callable[[str, str], None],
    ) -> None:
        self._ico = ico
        self._state = state
        self._problems = problems
        self._folders = folders
        self._window_size = window
        self._bucket = None if bandwidth_limit is None else TokenBucket(bandwidth_limit)
        self._kept = kept
        self._envelopes = Envelopes(ico=ico, username=username, compress=compress)
        self._on_file_changed = on_file_changed
        self._wake = asyncio.Event()
        self._active: set[int] = set()
        # Settled since the outbox was last read, which may still list them (not active).
        self._settled_since_read: set[int] = set()
        self._progress = ChunkProgress(state)
        self._deleter = RowDeleter(state)
        self._session: PublishSession | None = None
        self._session_up = asyncio.Event()
        self._early = EarlyChunks()
        self._broken = asyncio.Event()
        self._sent_since_idle = False

    def wake(self) -> None:
        """Tell the publisher new rows are waiting."""
        self._wake.set()

    # -- session ----------------------------------------------------------------

    async def session(self, channel: AbstractChannel, stop: asyncio.Event) -> None:
        """Publish until `stop` is set (then drain in-flight publishes) or the link fails.

        Raises:
            LinkLostError: If a publish failed because the channel or connection went away.
        """
        exchange = await channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
        session = PublishSession(
            exchange, ico=self._ico, window=self._window_size, bucket=self._bucket, stop=stop
        )
        finishers: set[asyncio.Task[None]] = set()
        self._broken = asyncio.Event()
        self._session = session
        self._session_up.set()
        try:
            await self._dispatch_loop(session, finishers)
            if finishers:
                await asyncio.wait(finishers, timeout=_DRAIN_S)
        finally:
            self._session = None
            self._session_up.clear()
            for task in finishers:
                task.cancel()
            await asyncio.gather(*finishers, return_exceptions=True)
            self._active.clear()
            await self._progress.flush()
        if self._broken.is_set():
            raise LinkLostError("the broker link failed while publishing")

    async def _dispatch_loop(
        self, session: PublishSession, finishers: set[asyncio.Task[None]]
    ) -> None:
        stop = session.stop
        cursor = 0
        group = BundleGroup()
        while not stop.is_set() and not self._broken.is_set():
            self._wake.clear()
            self._settled_since_read.clear()
            rows = await self._state.due_rows(cursor, _BATCH)
            bases = await self._state.delta_bases(r.path for r in rows if r.path and remembered(r))
            dispatched = False
            for row in rows:
                cursor = row.id
                if row.id in self._active or row.id in self._settled_since_read:
                    continue
                if stop.is_set() or self._broken.is_set():
                    return
                base = bases.get(row.path or "")
                await self._dispatch_next(row, group, session, finishers, base)
                dispatched = self._sent_since_idle = True
            if group.rows:
                await self._dispatch_bundle(group.take(), session, finishers)
            if len(rows) == _BATCH:
                continue
            cursor = 0
            if not dispatched:
                await self._idle_wait(stop)

    async def _dispatch_next(
        self,
        row: OutboxRow,
        group: BundleGroup,
        session: PublishSession,
        finishers: set[asyncio.Task[None]],
        base: Signature | None,
    ) -> None:
        """Add a small file to the bundle being gathered, or send the row (after that bundle).

        A file whose last version the hub holds (`base`) goes alone: a bundle
        carries whole files, and it may go as a delta.
        """
        self._active.add(row.id)
        if bundleable(row) and base is None:
            if not group.accepts(row):
                await self._dispatch_bundle(group.take(), session, finishers)
            group.add(row)
            return
        # Rows go out in outbox order: the small files gathered before this row first.
        if group.rows:
            await self._dispatch_bundle(group.take(), session, finishers)
        self._track(finishers, await self._dispatch_row(row, session, base))

    @staticmethod
    def _track(finishers: set[asyncio.Task[None]], finisher: asyncio.Task[None]) -> None:
        finishers.add(finisher)
        finisher.add_done_callback(finishers.discard)

    async def _idle_wait(self, stop: asyncio.Event) -> None:
        retry_at = await self._state.next_retry_at()
        timeout = _IDLE_CHECK_S
        if retry_at is not None:
            timeout = max(0.05, min(timeout, retry_at - time.time()))
        events = (self._wake, stop, self._broken)
        if not self._sent_since_idle:
            await wait_any(*events, within=timeout)
            return
        await wait_any(*events, within=min(timeout, _TRIM_WHEN_IDLE_S))
        if not any(event.is_set() for event in events):
            # A burst (a first load) is over and settled: give the heap it left
            # back to the system, or an idle agent keeps its peak resident for good.
            self._sent_since_idle = False
            self._kept.clear()
            release_memory()

    # -- one row ----------------------------------------------------------------

    async def _dispatch_row(
        self, row: OutboxRow, session: PublishSession, base: Signature | None = None
    ) -> asyncio.Task[None]:
        publishes: list[asyncio.Task[None]] = []
        verdict = _Verdict()
        if row.is_file:
            await self._dispatch_file(row, session, publishes, verdict, base)
        else:
            assert row.body is not None
            message = self._envelopes.message(row.kind, row.body, row.message_id, row.created_at)
            publishes.append(await session.start(row.kind, message))
        return asyncio.create_task(self._finish(row, publishes, verdict))

    async def _dispatch_file(
        self,
        row: OutboxRow,
        session: PublishSession,
        publishes: list[asyncio.Task[None]],
        verdict: _Verdict,
        base: Signature | None,
    ) -> None:
        assert row.path is not None
        assert row.sha256 is not None
        assert row.chunk_size is not None
        folder = self._folders.get(row.folder or "")
        if folder is None or row.disk_path is None:
            verdict.set("drop", "its folder is no longer configured")
            return
        verdict.signature = signature_to_remember(row, self._kept)
        sent_early = self._take_early(row, session, publishes)
        if row.force_content or not await self._state.is_held(row.sha256):
            sent = sent_early | await self._not_needed(row)
            wanted = None if row.only_chunks is None else set(row.only_chunks)
            reader = ChunkReader(
                wire_path=row.path,
                root_real=folder.root_real,
                path=folder.absolute(row.disk_path),
                chunk_size=row.chunk_size,
                expected=row.chunk_sha256,
            )
            try:
                await reader.open()
                while not reader.done:
                    if session.stop.is_set() or self._broken.is_set():
                        verdict.set("keep")
                        return
                    index = reader.index
                    if index in sent or (wanted is not None and index not in wanted):
                        # The broker has it (sent early or in an earlier session), the
                        # hub holds it, or a repair asks for others. Each chunk sent was
                        # verified then.
                        reader.skip()
                        continue
                    item = await reader.next_chunk()
                    assert item is not None  # not done: a chunk, or FileChangedError
                    publishes.append(await self._send_chunk(row, item, session, verdict, base))
                await reader.next_chunk()  # None at the recorded end; raises if the file grew
            except (FileNotFoundError, FileChangedError) as exc:
                verdict.set("drop", str(exc))
                return
            except OSError as exc:
                self._unreadable(row.path, exc, verdict)
                return
            finally:
                await reader.close()
            self._problems.resolve("unreadable", row.path)
        if row.kind != FILE_KIND and row.body is not None:
            # An attachment's manifest (a diagnostics result) was encoded when it was queued.
            message = self._envelopes.message(row.kind, row.body, row.message_id, row.created_at)
            publishes.append(await session.start(row.kind, message))
            return
        body = encode(self._envelopes.manifest(row, self._state.source_epoch))
        message = self._envelopes.message("file_version", body, row.message_id, row.created_at)
        publishes.append(await session.start("file_version", message))

    async def _send_chunk(
        self,
        row: OutboxRow,
        chunk: tuple[int, bytes],
        session: PublishSession,
        verdict: _Verdict,
        base: Signature | None,
    ) -> asyncio.Task[None]:
        """Start publishing a verified chunk `(index, bytes)` of a file row."""
        index, data = chunk
        if verdict.signature is None and len(row.chunk_sha256) == 1:
            verdict.signature = signature_to_remember(row, self._kept, data)
        message = await self._envelopes.file_chunk(row, index, data, base)
        task = await session.start("chunk", message)
        if len(row.chunk_sha256) > 1:
            # Progress only matters for resuming a file of several chunks;
            # skipping it for one-chunk files saves an fsync per small file.
            task.add_done_callback(functools.partial(self._progress.settled, row.id, index))
        return task

    async def _not_needed(self, row: OutboxRow) -> set[int]:
        """Return the chunks of `row` the broker confirmed already or the hub holds."""
        confirmed = await self._state.confirmed_chunks(row.id)
        if row.force_content or len(row.chunk_sha256) <= 1:  # one chunk: `is_held` decided
            return confirmed
        # A changed large file: the chunks the hub holds of an earlier version stay
        # where they are (if one is gone after all, the hub asks for it).
        held = await self._state.held_chunks_among(row.chunk_sha256)
        return confirmed | {i for i, sha in enumerate(row.chunk_sha256) if sha in held}

    def _take_early(
        self, row: OutboxRow, session: PublishSession, publishes: list[asyncio.Task[None]]
    ) -> set[int]:
        """Return the chunks of `row` sent while it was hashed that it need not send again.

        Confirmed ones are remembered like any confirmed chunk; ones still in
        flight on this session's channel settle with the row (they precede its
        manifest on the channel).
        """
        confirmed, in_flight = self._early.take(row.message_id, session)
        for index in confirmed:
            self._progress.confirmed(row.id, index)
        for index, task in in_flight.items():
            publishes.append(task)
            task.add_done_callback(functools.partial(self._progress.settled, row.id, index))
        return confirmed | in_flight.keys()

    async def send_early(self, transfer: str, index: int, data: bytes, sha256: str) -> bool:
        """Publish a chunk of a file still being hashed (see `agent.early_chunks`).

        Returns False, and sends nothing, when a bandwidth limit paces the link
        (early chunks would take its share from rows queued before them), or no
        session is up (the first scan of a start may hash before the link is)
        or no window slot frees within `OFFER_WAIT_S`.
        """
        if self._bucket is not None:
            return False
        if self._session is None:
            await wait_any(self._session_up, within=OFFER_WAIT_S)
        session = self._session
        if session is None or self._broken.is_set():
            return False
        body, encoding = await self._envelopes.encoded(data)
        message = self._envelopes.chunk(
            transfer=transfer,
            object_sha256="",  # not known until the whole file is hashed
            index=index,
            sha256=sha256,
            data=body,
            encoding=encoding,
            created_at=time.time(),
        )
        task = await session.start_within("chunk", message, OFFER_WAIT_S)
        if task is None:
            return False
        self._early.add(transfer, session, index, task)
        return True

    def discard_early(self, transfer: str) -> None:
        """Forget a transfer whose version was not recorded (its file changed while read)."""
        self._early.discard(transfer)

    # -- small files, bundled ----------------------------------------------------

    async def _dispatch_bundle(
        self, rows: list[OutboxRow], session: PublishSession, finishers: set[asyncio.Task[None]]
    ) -> None:
        """Send small file rows as one `file_bundle`; each row is settled like a single file.

        Content the hub confirmed it holds goes as a manifest alone (the
        single-file path); a file that changed or vanished since it was queued
        is dropped, an unreadable one deferred, and the others still go.
        """
        held = await self._state.held_among(r.sha256 or "" for r in rows if not r.force_content)
        bundled: list[OutboxRow] = []
        for row in rows:
            if row.sha256 in held and not row.force_content:
                self._track(finishers, await self._dispatch_row(row, session))
            else:
                bundled.append(row)
        verdicts = {row.id: _Verdict() for row in bundled}
        entries = await self._read_bundle(bundled, verdicts)
        publishes: list[asyncio.Task[None]] = []
        if entries and (session.stop.is_set() or self._broken.is_set()):
            for row_id in entries:
                verdicts[row_id].set("keep")
        elif entries:
            publishes.append(await self._start_bundle(session, list(entries.values())))
        for row in bundled:
            settled = publishes if row.id in entries else []
            finisher = asyncio.create_task(self._finish(row, settled, verdicts[row.id]))
            self._track(finishers, finisher)

    async def _read_bundle(
        self, rows: list[OutboxRow], verdicts: dict[int, _Verdict]
    ) -> dict[int, BundledFile]:
        """Take the rows' kept bytes, or read and verify their files in one thread hop.

        Rows that can be neither get their verdict.
        """
        entries: dict[int, BundledFile] = {}
        readable: list[OutboxRow] = []
        jobs: list[ReadJob] = []
        # A folder's real path once per bundle, not once per file: resolving it stats every level.
        roots: dict[str, str] = {}
        for row in rows:
            folder = self._folders.get(row.folder or "")
            if folder is None or row.disk_path is None:
                verdicts[row.id].set("drop", "its folder is no longer configured")
                continue
            assert row.path is not None
            assert row.sha256 is not None
            kept = self._kept.take((folder.key, row.disk_path, row.sha256))
            if kept is not None:
                entries[row.id] = self._bundled(row, kept, verdicts[row.id])
                continue
            readable.append(row)
            root_real = roots.get(folder.key) or roots.setdefault(folder.key, folder.root_real)
            absolute = folder.absolute(row.disk_path)
            jobs.append((row.path, root_real, absolute, row.size or 0, row.sha256))
        for row, result in zip(readable, await read_verified_files(jobs), strict=True):
            assert row.path is not None
            if isinstance(result, bytes):
                self._problems.resolve("unreadable", row.path)
                entries[row.id] = self._bundled(row, result, verdicts[row.id])
            elif isinstance(result, FileNotFoundError | FileChangedError):
                verdicts[row.id].set("drop", str(result))
            else:
                self._unreadable(row.path, result, verdicts[row.id])
        return {row.id: entries[row.id] for row in rows if row.id in entries}  # outbox order

    def _bundled(self, row: OutboxRow, content: bytes, verdict: _Verdict) -> BundledFile:
        """A row's bundle entry; its signature is remembered once the bundle is confirmed."""
        verdict.signature = signature_to_remember(row, self._kept, content)
        manifest = self._envelopes.manifest(row, self._state.source_epoch)
        return BundledFile(manifest=manifest, content=content)

    async def _start_bundle(
        self, session: PublishSession, entries: list[BundledFile]
    ) -> asyncio.Task[None]:
        bundle = FileBundle(
            message_id=new_message_id(), sender=self._ico, sent_at=utc_now(), files=tuple(entries)
        )
        body, encoding = await self._envelopes.encoded(encode_bundle(bundle))
        message = self._envelopes.message(
            "file_bundle",
            body,
            bundle.message_id,
            bundle.sent_at.timestamp(),
            content_type=BUNDLE_CONTENT_TYPE,
            content_encoding=encoding,
        )
        return await session.start("file_bundle", message)

    def _unreadable(self, path: str, exc: OSError, verdict: _Verdict) -> None:
        """Defer a row whose file cannot be read now; report it unless Office just holds it."""
        if is_sharing_violation(exc):  # open in Word on Windows: send it later, no problem
            log.info("file_in_use_send_deferred", path=path)
            verdict.set("defer", "in use by another program")
            return
        self._problems.report(Problem("unreadable", path, f"cannot read: {exc}"))
        verdict.set("defer", f"cannot read: {exc}")

    async def _finish(
        self, row: OutboxRow, publishes: list[asyncio.Task[None]], verdict: _Verdict
    ) -> None:
        try:
            results = await asyncio.gather(*publishes, return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            if any(not isinstance(f, DeliveryError) for f in failures):
                self._broken.set()  # the link is gone; the row stays for the next session
                return
            if verdict.action == "keep":
                return
            if verdict.action == "drop":
                await self._state.delete_row(row.id)
                log.info("outbox_row_superseded", path=row.path, reason=verdict.reason)
                if row.folder is not None and row.disk_path is not None:
                    self._on_file_changed(row.folder, row.disk_path)
                return
            if failures or verdict.action == "defer":
                reason = verdict.reason or _describe(failures[0])
                delay = _ROW_RETRY.delay(row.attempts + 1)
                await self._state.defer_row(row.id, delay, reason)
                self._problems.count_event("publish_failed")
                log.warning(
                    "outbox_row_deferred",
                    row=row.id,
                    kind=row.kind,
                    path=row.path,
                    reason=reason,
                    retry_in_s=round(delay, 1),
                )
                return
            await self._deleter.delete(row.id, verdict.signature)
            log.debug("outbox_row_confirmed", row=row.id, kind=row.kind, path=row.path)
        finally:
            self._active.discard(row.id)
            self._settled_since_read.add(row.id)
            self._wake.set()

    # -- publishing -------------------------------------------------------------

    async def publish_now(self, kind: str, body: bytes, message_id: str) -> bool:
        """Publish one message outside the outbox (heartbeats); False if not connected."""
        session = self._session
        if session is None:
            return False
        message = self._envelopes.message(kind, body, message_id, datetime.now(UTC).timestamp())
        try:
            # A link that went silent never answers: the confirm must not hold the caller.
            await asyncio.wait_for(session.publish(kind, message), _DIRECT_TIMEOUT_S)
        except (Exception, asyncio.CancelledError) as exc:
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and (task is None or task.cancelling()):
                raise
            # aiormq fails a pending confirm with CancelledError when the link went silent.
            log.info("direct_publish_failed", kind=kind, error=_describe(exc))
            return False
        return True

    async def close(self) -> None:
        """Write deletions and chunk progress still buffered (call before closing the state)."""
        await self._deleter.close()
        await self._progress.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PublishError):
        return "unroutable: the broker returned the message (is the obec's queue provisioned?)"
    if isinstance(exc, DeliveryError):
        return f"the broker refused the message: {exc}"
    return f"{type(exc).__name__}: {exc}"
