"""Turning what is on disk into durable changes: new versions and tombstones.

The watcher decides *when* a path is looked at (after its quiet window); the
tracker decides *what* it means: unchanged (stat only), a new version (hashed,
indexed and queued in one transaction), or gone (a tombstone, unless the
folder looks unmounted or too much of it vanished at once).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from agent.early_chunks import offer_from_thread
from agent.hasher import digest_files
from agent.problems import Problem
from agent.records import StatUpdate, VersionRecord
from agent.scanner import DiskFile
from protocol import Tombstone, encode, new_message_id, utc_now

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agent.early_chunks import EarlySender
    from agent.hasher import ChunkSink, FileDigest
    from agent.kept_content import KeptContent
    from agent.problems import Problems
    from agent.records import IndexEntry
    from agent.scanner import Folder
    from agent.state import State

__all__ = ["Look", "Outcome", "Tracker"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Look:
    """A file to look at: its folder, its stat now, and its stat when it became quiet."""

    folder: Folder
    disk: DiskFile
    quiet_stat: tuple[int, int]


@dataclass(frozen=True)
class Outcome:
    """What looking at one present file led to.

    Attributes:
        settled: True when nothing more is needed; False when the file changed
            while it was read and must wait another quiet window.
        recorded: True when a new version was queued.
    """

    settled: bool
    recorded: bool = False


class Tracker:
    """Records versions and tombstones in the state database.

    Args:
        state: The state database.
        problems: Where problems are reported.
        ico: The obec's IČO (the sender of tombstones).
        chunk_size: Bytes per chunk.
        mass_delete_threshold: Share of a folder's files that may vanish at once.
        mass_delete_min_files: Fewer vanished files than this are never "mass".
        kept: Where the bytes of small versions just recorded wait for the publisher.
        early: Where chunks of new large files go while they are hashed
            (`agent.early_chunks`), or None to send every file by its row only.
    """

    def __init__(
        self,
        *,
        state: State,
        problems: Problems,
        ico: str,
        chunk_size: int,
        mass_delete_threshold: float,
        mass_delete_min_files: int,
        kept: KeptContent,
        early: EarlySender | None = None,
    ) -> None:
        self._state = state
        self._kept = kept
        self._early = early
        self._problems = problems
        self._ico = ico
        self._chunk_size = chunk_size
        self._threshold = mass_delete_threshold
        self._min_files = mass_delete_min_files

    async def look_at_many(self, looks: Sequence[Look]) -> list[Outcome | OSError]:
        """Hash files whose stat has been quiet and queue those with new content.

        The files are hashed side by side and their versions recorded in one
        transaction, so a scan that finds hundreds of files pays one fsync,
        not one per file. Each wire path may appear once.

        Returns:
            For each look, in order: its outcome, or the `OSError` that kept
            the file from being read (nothing of it was recorded).
        """
        entries = await self._state.get_files(look.disk.path for look in looks)
        outcomes: list[Outcome | OSError | None] = [
            self._settled_without_reading(look, entries.get(look.disk.path)) for look in looks
        ]
        to_read = [i for i, outcome in enumerate(outcomes) if outcome is None]
        roots = {look.folder.key: look.folder.root_real for look in looks}
        transfers = self._early_transfers(looks, to_read, entries)
        sinks = self._sinks(transfers)
        digests = await digest_files(
            [
                (
                    roots[looks[i].folder.key],
                    looks[i].folder.absolute(looks[i].disk.disk_path),
                    looks[i].disk.size,
                    sinks.get(i),
                )
                for i in to_read
            ],
            self._chunk_size,
        )
        versions: list[tuple[VersionRecord, str]] = []
        digested: list[FileDigest] = []
        recorded: list[int] = []
        moved: list[StatUpdate] = []
        for i, digest in zip(to_read, digests, strict=True):
            look = looks[i]
            disk = look.disk
            if isinstance(digest, OSError):
                outcomes[i] = digest
                continue
            if not digest.stable or (digest.size, digest.mtime_ns) != look.quiet_stat:
                log.debug("file_still_changing", path=disk.path)
                outcomes[i] = Outcome(settled=False)
                continue
            self._problems.resolve("unreadable", disk.path)
            outcomes[i] = Outcome(settled=True)
            entry = entries.get(disk.path)
            if entry is not None and _same_content(entry, digest.sha256, self._chunk_size):
                moved.append(
                    StatUpdate(
                        path=disk.path,
                        disk_path=disk.disk_path,
                        mtime_ns=digest.mtime_ns,
                        inode=digest.inode,
                    )
                )
                continue
            version = VersionRecord(
                path=disk.path,
                folder=look.folder.key,
                disk_path=disk.disk_path,
                size=digest.size,
                mtime_ns=digest.mtime_ns,
                inode=digest.inode,
                sha256=digest.sha256,
                chunk_size=self._chunk_size,
                chunk_sha256=digest.chunk_sha256,
            )
            # A version whose chunks went while it was hashed keeps their transfer as its id.
            versions.append((version, transfers.pop(i, "") or new_message_id()))
            digested.append(digest)
            recorded.append(i)
        for transfer in transfers.values():
            assert self._early is not None  # transfers come only with an early sender
            self._early.discard_early(transfer)
        if versions or moved:
            seqs = await self._state.record_changes(versions, moved)
            for i, (version, _), digest, seq in zip(
                recorded, versions, digested, seqs, strict=True
            ):
                outcomes[i] = Outcome(settled=True, recorded=True)
                key = (version.folder, version.disk_path, version.sha256)
                self._kept.keep_read(key, digest.content, digest.blocks)
                # Per file at debug only: a first sync records thousands a second;
                # agent.progress reports the whole at most every 10 s.
                log.debug(
                    "file_version_recorded",
                    path=version.path,
                    size=version.size,
                    sha256=version.sha256,
                    source_seq=seq,
                )
        done: list[Outcome | OSError] = []
        for outcome in outcomes:
            assert outcome is not None  # every look was settled, read, or failed above
            done.append(outcome)
        return done

    def _early_transfers(
        self, looks: Sequence[Look], to_read: list[int], entries: dict[str, IndexEntry]
    ) -> dict[int, str]:
        """Give a transfer id to each new path of several chunks: they go while hashed."""
        if self._early is None:
            return {}
        return {
            i: new_message_id()
            for i in to_read
            if looks[i].disk.size > self._chunk_size and looks[i].disk.path not in entries
        }

    def _sinks(self, transfers: dict[int, str]) -> dict[int, ChunkSink]:
        if not transfers:
            return {}
        loop = asyncio.get_running_loop()
        return {
            i: offer_from_thread(functools.partial(self._offer, transfer), loop)
            for i, transfer in transfers.items()
        }

    async def _offer(self, transfer: str, index: int, data: bytes, sha256: str) -> bool:
        """Send a chunk of a file being hashed, unless the hub holds it or the file is indexed."""
        assert self._early is not None
        if await self._state.held_chunks_among((sha256,)):
            # Of a version the hub confirmed (a file renamed after its tombstone went,
            # say): its row leaves it out. The next chunks may still be new.
            return True
        if index == 0 and await self._state.first_chunk_indexed(sha256):
            # A copy or a rename, most likely: once hashed, its row sends only what the
            # hub lacks (a manifest alone for content it confirmed holding).
            return False
        return await self._early.send_early(transfer, index, data, sha256)

    def _settled_without_reading(self, look: Look, entry: IndexEntry | None) -> Outcome | None:
        """Settle a look by stat alone (unchanged, or a name collision), or None to read it."""
        disk = look.disk
        if entry is not None and entry.disk_path != disk.disk_path:
            other = look.folder.stat_file(entry.disk_path)
            if isinstance(other, DiskFile) and other.path == disk.path:
                self._problems.report(
                    Problem(
                        "name_collision",
                        look.folder.prefix + disk.disk_path,
                        f"same name as {entry.disk_path!r} after Unicode normalisation",
                    )
                )
                return Outcome(settled=True)
        if (
            entry is not None
            and entry.disk_path == disk.disk_path
            and entry.same_stat(disk.size, disk.mtime_ns, disk.inode)
        ):
            return Outcome(settled=True)
        return None

    async def delete(self, folder: Folder, paths: list[str], *, folder_available: bool) -> bool:
        """Queue tombstones for vanished wire paths, unless that looks like an unmounted share.

        Returns:
            True if tombstones were queued.
        """
        if not paths:
            return False
        if not folder_available:
            self._problems.report(
                Problem(
                    "folder_unavailable",
                    str(folder.root),
                    "the folder is missing or unreadable; deletions are paused until it is back",
                )
            )
            return False
        self._problems.resolve("folder_unavailable", str(folder.root))
        known = await self._state.count_files(folder.key)
        approval_key = f"allow_deletions:{folder.key}"
        approved = await self._state.get_meta(approval_key) is not None
        if len(paths) >= self._min_files and len(paths) > self._threshold * known:
            if not approved:
                self._problems.report(
                    Problem(
                        "deletions_paused",
                        str(folder.root),
                        f"{len(paths)} of {known} files vanished at once (more than "
                        f"{self._threshold:.0%}); is the share unmounted? Nothing was deleted "
                        "at the hub. If the deletion is real, run "
                        "`spisync agent allow-deletions --config AGENT.toml "
                        f"--folder {folder.key}`",
                    )
                )
                return False
            log.warning("mass_deletion_allowed", folder=folder.key, count=len(paths))
        self._problems.resolve("deletions_paused", str(folder.root))
        if approved:
            # An approval covers one mass deletion, not every future one.
            await self._state.set_meta_absent(approval_key)
        deleted_at = utc_now()
        ico = self._ico
        epoch = self._state.source_epoch

        def tombstone(path: str, seq: int) -> tuple[str, bytes]:
            message = Tombstone(
                message_id=new_message_id(),
                sender=ico,
                sent_at=utc_now(),
                path=path,
                source_seq=seq,
                deleted_at=deleted_at,
                source_epoch=epoch,
            )
            return message.message_id, encode(message)

        seqs = await self._state.record_deletions(paths, tombstone)
        for path, seq in zip(paths, seqs, strict=True):
            log.info("file_deletion_recorded", path=path, source_seq=seq)
        return True


def _same_content(entry: IndexEntry, sha256: str, chunk_size: int) -> bool:
    return entry.sha256 == sha256 and entry.chunk_size == chunk_size
