"""When to look at a path: watchfiles events, a quiet window, and periodic full rescans.

Every path that may have changed waits in `pending` until it has been quiet
(no event, same size and mtime) for `quiet_window_s`; then the tracker looks
at it. Deletions of a folder wait until the whole folder has been quiet, so
that a share being unmounted, or a big folder being moved, is judged as one
batch by the mass-disappearance guard.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import stat
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
import watchfiles

from agent.problems import Problem
from agent.scanner import DiskFile, scan_folder, sibling_collisions
from agent.tracker import Look
from protocol.errors import UnsafePathError
from spisync.events import wait_any
from spisync.memory import release_memory
from spisync.platform import is_sharing_violation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from agent.problems import Problems
    from agent.scanner import Folder
    from agent.state import State
    from agent.tracker import Tracker

__all__ = ["FolderWatcher", "ScanStats"]

log = structlog.get_logger(__name__)

_MAX_READ_BACKOFF_S = 600.0
# How often a missing folder is looked for (unless full rescans come more often).
_UNAVAILABLE_RECHECK_S = 30.0
# Quiet files looked at (hashed side by side, recorded in one commit) at a time:
# at most this many, and no more bytes than this unless it is one file, so that
# large files do not hold back the commit of the others for long.
_LOOK_BATCH_FILES = 512  # a full bundle of small files (names.BUNDLE_MAX_FILES)
_LOOK_BATCH_BYTES = 64 * 1024 * 1024
# Problems a full scan finds; a rescan re-reports the ones still there and resolves the rest.
_SCAN_KINDS = ("unsafe_name", "name_collision", "symlink_outside")


@dataclass
class _Pending:
    due: float
    stat: tuple[int, int] | None  # (size, mtime_ns) when the quiet window started
    attempts: int = 0
    # What a full scan saw of a file already quiet then, until anything else touches
    # the path: looked at without a second stat and name check (the scan made both).
    scanned: DiskFile | None = None


# A due path that stayed quiet: its key, its pending entry, and what to look at.
_Quiet = tuple[tuple[str, str], _Pending, Look]


@dataclass
class ScanStats:
    """Figures for the heartbeat.

    Attributes:
        last_scan_at: Unix time the last full scan finished.
        last_scan_duration_s: How long it took.
    """

    last_scan_at: float | None = None
    last_scan_duration_s: float | None = None


class FolderWatcher:
    """Watches the folders and feeds quiet paths to the tracker.

    Args:
        folders: The watched folders.
        state: The state database (to find vanished files).
        tracker: Records versions and tombstones.
        problems: Where problems are reported.
        quiet_window_s: How long a path must be quiet.
        rescan_interval_s: Seconds between full rescans.
        on_recorded: Called after a change was queued (wakes the publisher).
    """

    def __init__(
        self,
        *,
        folders: list[Folder],
        state: State,
        tracker: Tracker,
        problems: Problems,
        quiet_window_s: float,
        rescan_interval_s: float,
        on_recorded: Callable[[], None],
    ) -> None:
        self._folders = {f.key: f for f in folders}
        self._state = state
        self._tracker = tracker
        self._problems = problems
        self._quiet = quiet_window_s
        self._rescan_interval = rescan_interval_s
        self._on_recorded = on_recorded
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._folder_activity: dict[str, float] = {}
        self._rescan_due: dict[str, float] = {}
        # The folders' identities (device, inode) as they were when watching began:
        # inotify watches die with the directory, so a folder that appears, or is
        # unmounted and mounted again, needs a new watch.
        self._watched: dict[str, tuple[int, int] | None] = {}
        self._rewatch = asyncio.Event()
        self._wake = asyncio.Event()
        self._watching = asyncio.Event()
        self.stats = ScanStats()

    def caught_up(self) -> bool:
        """Whether the first scan has ended and every file found since has been looked at.

        Until then a file the scan found may still be waiting out its quiet
        window, not yet in the outbox. A file retried because it cannot be read
        does not hold this back: it is reported as a problem instead.
        """
        return self.stats.last_scan_at is not None and all(
            pending.attempts for pending in self._pending.values()
        )

    # -- feeding pending --------------------------------------------------------

    def recheck(self, folder_key: str, disk_path: str) -> None:
        """Look at a path again after a quiet window (the publisher found it changed)."""
        folder = self._folders.get(folder_key)
        if folder is not None:
            self._pend(folder, disk_path)

    def _pend(
        self,
        folder: Folder,
        disk_path: str,
        stat: tuple[int, int] | None = None,
        *,
        scanned_quiet: DiskFile | None = None,
    ) -> None:
        now = time.monotonic()
        if stat is None:
            looked = folder.stat_file(disk_path)
            stat = (looked.size, looked.mtime_ns) if isinstance(looked, DiskFile) else None
        entry = self._pending.get((folder.key, disk_path))
        if entry is None:
            due = now if scanned_quiet is not None else now + self._quiet
            self._pending[(folder.key, disk_path)] = _Pending(
                due=due, stat=stat, scanned=scanned_quiet
            )
        else:
            entry.due = max(entry.due, now + self._quiet)
            entry.stat = stat
            entry.scanned = None
        self._folder_activity[folder.key] = now
        self._wake.set()

    def _on_event(self, path: str) -> None:
        for folder in self._folders.values():
            if path == str(folder.root):
                # The folder itself went away (or a share under it): look again soon.
                self._rescan_due[folder.key] = time.monotonic() + self._quiet
                self._wake.set()
                return
            disk_path = folder.relative(path)
            if disk_path is None or folder.ignore.ignores(disk_path):
                continue
            if os.path.isdir(path):  # noqa: PTH112 - one stat per event
                # A folder appeared, moved or was renamed: inotify names only the
                # folder, so look at everything in it with a (stat-only) rescan.
                self._rescan_due[folder.key] = time.monotonic() + self._quiet
                self._folder_activity[folder.key] = time.monotonic()
                self._wake.set()
            else:
                self._pend(folder, disk_path)
            return

    # -- scanning ---------------------------------------------------------------

    async def scan(self, folder: Folder) -> None:
        """Scan one folder fully and pend what differs from the index."""
        started = time.monotonic()
        result = await asyncio.to_thread(scan_folder, folder)
        index = await self._state.folder_index(folder.key)
        if folder.key in self._watched and _identity(folder) != self._watched[folder.key]:
            log.info("folder_watch_renewed", folder=folder.key, available=result.available)
            self._rewatch.set()
        if not result.available:
            # Until it is back (a share mounted late), look for it more often than hourly.
            self._rescan_due[folder.key] = started + min(
                self._rescan_interval, _UNAVAILABLE_RECHECK_S
            )
            self._problems.report(
                Problem(
                    "folder_unavailable",
                    str(folder.root),
                    "the folder is missing or unreadable; deletions are paused until it is back",
                )
            )
            return
        self._problems.resolve("folder_unavailable", str(folder.root))
        found = {(p.kind, p.path) for p in result.problems}
        for problem in self._problems.open_problems():
            if (
                problem.kind in _SCAN_KINDS
                and problem.path.startswith(folder.prefix)
                and (problem.kind, problem.path) not in found
            ):
                self._problems.resolve(problem.kind, problem.path)
        for problem in result.problems:
            self._problems.report(problem)
        changed = 0
        # A file last modified a quiet window ago is not being written: it is hashed
        # at once instead of after another window, by the scan's stat. A share whose
        # clock is behind could make a file being written look old, and a file may
        # change after the scan: the hash pass refuses a file whose size or mtime
        # is not the scan's, or changes while it is read.
        quiet_before_ns = time.time_ns() - int(self._quiet * 1e9)
        for wire, disk in result.files.items():
            entry = index.get(wire)
            if (
                entry is None
                or entry.disk_path != disk.disk_path
                or not entry.same_stat(disk.size, disk.mtime_ns, disk.inode)
            ):
                self._pend(
                    folder,
                    disk.disk_path,
                    (disk.size, disk.mtime_ns),
                    scanned_quiet=disk if disk.mtime_ns <= quiet_before_ns else None,
                )
                changed += 1
        vanished = [
            entry
            for wire, entry in index.items()
            if wire not in result.files and not _is_blocked(wire, result.blocked)
        ]
        for entry in vanished:
            self._pend(folder, entry.disk_path, None)
        duration = time.monotonic() - started
        log.info(
            "folder_scanned",
            folder=folder.key,
            files=len(result.files),
            changed=changed,
            vanished=len(vanished),
            problems=len(result.problems),
            duration_s=round(duration, 3),
        )

    async def scan_all(self) -> None:
        """Scan every folder and record the scan's time and duration."""
        started = time.monotonic()
        for folder in self._folders.values():
            await self.scan(folder)
        self.stats.last_scan_at = time.time()
        self.stats.last_scan_duration_s = time.monotonic() - started
        # A scan of a large tree leaves its listings' memory on the heap: give it back.
        release_memory()

    # -- processing -------------------------------------------------------------

    async def _process_due(self, stop: asyncio.Event) -> None:
        now = time.monotonic()
        for folder_key, due in list(self._rescan_due.items()):
            if due <= now:
                del self._rescan_due[folder_key]
                await self.scan(self._folders[folder_key])
        deletions, quiet = self._sort_due(now)
        for batch in _look_batches(quiet):
            if stop.is_set():
                return
            await self._look_at(batch, now)
        if await self._process_deletions(deletions, now):
            self._on_recorded()

    def _sort_due(self, now: float) -> tuple[dict[str, list[str]], list[_Quiet]]:
        """Stat the paths due: gone (deletions by folder), quiet (to look at), or changed."""
        deletions: dict[str, list[str]] = {}
        quiet: list[_Quiet] = []
        listings: dict[tuple[str, str], dict[str, list[str]]] = {}
        for key, pending in [(k, p) for k, p in self._pending.items() if p.due <= now]:
            folder = self._folders[key[0]]
            if (scanned := pending.scanned) is not None:
                pending.scanned = None
                stat = (scanned.size, scanned.mtime_ns)
                quiet.append((key, pending, Look(folder=folder, disk=scanned, quiet_stat=stat)))
                continue
            looked = folder.stat_file(key[1])
            if looked is None:
                deletions.setdefault(key[0], []).append(key[1])
            elif isinstance(looked, Problem):
                self._handle_problem(key, pending, looked)
            elif pending.stat != (current := (looked.size, looked.mtime_ns)):
                pending.stat, pending.due = current, now + self._quiet
            else:
                self._report_twins(folder, looked, listings)
                quiet.append((key, pending, Look(folder=folder, disk=looked, quiet_stat=current)))
        return deletions, quiet

    async def _look_at(self, batch: list[_Quiet], now: float) -> None:
        """Have the tracker look at quiet files; each wire path once per call."""
        seen: set[str] = set()
        unique = []
        for item in batch:
            # Two spellings of one name (NFC/NFD) wait for the next round, so the
            # tracker sees the first one indexed and reports the collision.
            if item[2].disk.path not in seen:
                seen.add(item[2].disk.path)
                unique.append(item)
        outcomes = await self._tracker.look_at_many([look for _, _, look in unique])
        recorded = False
        for (key, pending, look), outcome in zip(unique, outcomes, strict=True):
            if isinstance(outcome, FileNotFoundError):
                # Gone since its stat: the next round finds it missing (a deletion).
                pending.stat, pending.due = None, time.monotonic()
            elif isinstance(outcome, OSError) and is_sharing_violation(outcome):
                # Windows: Office holds the file open without sharing. It is being
                # worked on, not broken: look again later, report nothing.
                self._schedule_retry(pending, look.disk.path, "file_in_use_retry_scheduled")
            elif isinstance(outcome, OSError):
                problem = Problem("unreadable", look.disk.path, f"cannot read: {outcome}")
                self._handle_problem(key, pending, problem)
            elif not outcome.settled:
                pending.stat, pending.due = None, time.monotonic() + self._quiet
            elif self._pending.get(key) is pending and pending.due <= now:
                # Only if no event touched the path while it was read: an event
                # moved `due` on, and the path must be looked at again.
                del self._pending[key]
            recorded |= not isinstance(outcome, OSError) and outcome.recorded
        if recorded:
            self._on_recorded()  # let the publisher start while the rest is still hashed

    def _report_twins(
        self,
        folder: Folder,
        looked: DiskFile,
        listings: dict[tuple[str, str], dict[str, list[str]]],
    ) -> None:
        # A twin by case (case.txt beside CASE.TXT) is told now, not at the next scan.
        for problem in sibling_collisions(folder, looked, listings):
            self._problems.report(problem)

    def _handle_problem(self, key: tuple[str, str], pending: _Pending, problem: Problem) -> None:
        self._problems.report(problem)
        if problem.kind != "unreadable":
            del self._pending[key]
            return
        self._schedule_retry(pending, problem.path, "file_read_retry_scheduled")

    def _schedule_retry(self, pending: _Pending, path: str, event: str) -> None:
        pending.attempts += 1
        delay = min(_MAX_READ_BACKOFF_S, self._quiet + 2.0 ** (pending.attempts - 1))
        pending.due = time.monotonic() + delay * random.uniform(0.75, 1.25)
        log.info(event, path=path, attempt=pending.attempts, delay_s=round(delay, 1))

    async def _process_deletions(self, deletions: dict[str, list[str]], now: float) -> bool:
        recorded = False
        for folder_key, disk_paths in deletions.items():
            quiet_since = self._folder_activity.get(folder_key, 0.0) + self._quiet
            if quiet_since > now:
                # The folder is still busy: judge its deletions as one batch later.
                for disk_path in disk_paths:
                    self._pending[(folder_key, disk_path)].due = quiet_since
                continue
            folder = self._folders[folder_key]
            paths: list[str] = []
            for disk_path in disk_paths:
                del self._pending[(folder_key, disk_path)]
                try:
                    wire = folder.wire_path(disk_path)
                except UnsafePathError:
                    continue
                entry = await self._state.get_file(wire)
                if entry is not None and entry.disk_path == disk_path:
                    paths.append(wire)
                    continue
                # Perhaps a folder went away: inotify names only the folder itself.
                for inner in await self._state.disk_paths_under(folder_key, disk_path):
                    self._pend(folder, inner)
            available = os.path.isdir(folder.root)  # noqa: PTH112
            if not available:
                # Perhaps an unmounted share: look for it again (and watch it anew) soon.
                self._rescan_due.setdefault(folder_key, now + _UNAVAILABLE_RECHECK_S)
            recorded |= await self._tracker.delete(folder, paths, folder_available=available)
        return recorded

    # -- loops ------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Watch, scan, and process until `stop` is set."""
        async with asyncio.TaskGroup() as group:
            # Watch before the first scan, so nothing written in between is missed
            # (the hourly rescan is the safety net for anything events never tell).
            group.create_task(self._watch(stop))
            await self._watching.wait()
            await self.scan_all()
            group.create_task(self._rescan_loop(stop))
            group.create_task(self._work(stop))

    async def _watch(self, stop: asyncio.Event) -> None:
        """Watch the available folders; start again whenever one appears or is replaced."""
        while not stop.is_set():
            self._rewatch.clear()
            self._watched = {key: _identity(f) for key, f in self._folders.items()}
            roots = [str(f.root) for key, f in self._folders.items() if self._watched[key]]
            restart = asyncio.Event()
            relay = asyncio.ensure_future(_first_of(stop, self._rewatch, then=restart.set))
            # Set before the watch starts, in the same step: watchfiles adds the
            # watches before it first waits, so whoever waits for this runs only
            # once they are in place (and nothing written after the scan is missed).
            self._watching.set()
            try:
                if not roots:
                    await restart.wait()
                    continue
                await self._watch_roots(roots, restart)
            finally:
                relay.cancel()
            if not stop.is_set():
                # Whatever changed while no watch was in place is found by a scan.
                for key in self._folders:
                    self._rescan_due.setdefault(key, time.monotonic())
                self._wake.set()

    async def _watch_roots(self, roots: list[str], restart: asyncio.Event) -> None:
        try:
            async for changes in watchfiles.awatch(
                *roots,
                watch_filter=None,
                # Our own quiet window does the real waiting; these only group bursts
                # of events. A longer step keeps an idle agent from waking 50 times a
                # second.
                debounce=200,
                step=100,
                stop_event=restart,
                ignore_permission_denied=True,
            ):
                for _, path in changes:
                    self._on_event(path)
        except OSError as exc:
            # A folder vanished between looking for it and watching it.
            log.warning("folder_watch_failed", roots=roots, error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(restart.wait(), timeout=_UNAVAILABLE_RECHECK_S)

    async def _rescan_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._rescan_interval)
            except TimeoutError:
                await self.scan_all()

    async def _work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            await self._process_due(stop)
            timeout = self._next_timeout()
            await wait_any(self._wake, stop, within=timeout)

    def _next_timeout(self) -> float | None:
        dues = [p.due for p in self._pending.values()] + list(self._rescan_due.values())
        if not dues:
            return None
        return max(0.02, min(dues) - time.monotonic())


def _identity(folder: Folder) -> tuple[int, int] | None:
    """The folder's (device, inode), or None if it is not an available directory."""
    try:
        st = os.stat(folder.root)  # noqa: PTH116 - one call per scan
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


async def _first_of(*events: asyncio.Event, then: Callable[[], None]) -> None:
    """Call `then` as soon as any of `events` is set."""
    await wait_any(*events)
    then()


def _look_batches(quiet: list[_Quiet]) -> Iterator[list[_Quiet]]:
    batch: list[_Quiet] = []
    size = 0
    for item in quiet:
        item_size = item[2].disk.size
        if batch and (len(batch) == _LOOK_BATCH_FILES or size + item_size > _LOOK_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def _is_blocked(wire: str, blocked: set[str]) -> bool:
    if wire in blocked:
        return True
    return any(b.endswith("/") and wire.startswith(b) for b in blocked)
