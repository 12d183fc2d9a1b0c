"""How far the agent's sync has come: files and bytes remaining, rate, ETA.

During a first sync or a large backlog the agent logs one `sync_progress` line
at most every `interval_s` (10 s), says `initial_sync_complete` once (kept in
the state database, so once per installation), and `backlog_cleared` when a
later backlog is gone. The same figures go to heartbeats, to systemd's STATUS
line and, through the state database, to `spisync agent status`.

The rate is how fast the outbox's bytes went down over the last minute: what
decides when the backlog is gone, whatever is added to it meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from spisync.systemd import Notifier, notifier

if TYPE_CHECKING:
    from collections.abc import Callable

    from agent.state import State

__all__ = ["META_INITIAL_SYNC", "META_PROGRESS", "ProgressFigures", "SyncProgress", "status_line"]

log = structlog.get_logger(__name__)

META_INITIAL_SYNC = "initial_sync_complete_at"
"""State meta key: when the initial sync completed (ISO time)."""
META_PROGRESS = "sync_progress"
"""State meta key: the latest figures as JSON, for `spisync agent status`."""

_RATE_WINDOW_S = 60.0


@dataclass(frozen=True)
class ProgressFigures:
    """The sync's figures at one moment.

    Attributes:
        files_remaining: File versions waiting in the outbox.
        bytes_remaining: Bytes waiting in the outbox.
        files_total: Files in the agent's index.
        rate_bytes_per_s: How fast the outbox's bytes went down lately, None
            until there are two samples.
        eta_s: Seconds until the outbox is empty at that rate, None when unknown.
        initial_sync_complete: Whether the first full sync has ended.
        sampled_at: When (ISO time, UTC).
    """

    files_remaining: int
    bytes_remaining: int
    files_total: int
    rate_bytes_per_s: float | None
    eta_s: float | None
    initial_sync_complete: bool
    sampled_at: str


def _megabytes(count: float) -> str:
    return f"{count / 1_000_000:.1f} MB"


def status_line(figures: ProgressFigures) -> str:
    """Return the STATUS line systemd shows, e.g. `initial sync 40 % (12 / 30 files), 3.1 MB/s`."""
    rate = "" if figures.rate_bytes_per_s is None else f", {_megabytes(figures.rate_bytes_per_s)}/s"
    if figures.files_remaining == 0 and figures.bytes_remaining == 0:
        return "in sync" if figures.initial_sync_complete else "initial sync: first scan"
    phase = "backlog" if figures.initial_sync_complete else "initial sync"
    total = max(figures.files_total, figures.files_remaining)
    done = total - figures.files_remaining
    percent = 100 * done // total if total else 0
    return (
        f"{phase} {percent} % ({done:,} / {total:,} files, "
        f"{_megabytes(figures.bytes_remaining)} to send){rate}"
    )


class SyncProgress:
    """Samples the outbox every `interval_s`, logs progress and tells systemd.

    Args:
        state: The state database.
        first_scan_done: Whether the first full scan of the folders has ended and
            every file it found was looked at (before that the initial sync
            cannot be complete: a file found may not be in the outbox yet).
        interval_s: Seconds between samples, and so between progress lines.
        sd: Where STATUS lines go (the process's notifier by default).
        clock: Monotonic seconds (for tests).
    """

    def __init__(
        self,
        state: State,
        first_scan_done: Callable[[], bool],
        *,
        interval_s: float = 10.0,
        sd: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._state = state
        self._first_scan_done = first_scan_done
        self._interval = interval_s
        self._sd = sd or notifier()
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._initial_done: bool | None = None
        self._backlog_logged = False
        self._last_remaining = 0
        self.figures: ProgressFigures | None = None

    def _rate(self, now: float, remaining: int) -> float | None:
        self._samples.append((now, remaining))
        while len(self._samples) > 2 and now - self._samples[0][0] > _RATE_WINDOW_S:
            self._samples.popleft()
        if len(self._samples) < 2:
            return None
        first_at, first_bytes = self._samples[0]
        elapsed = now - first_at
        return max(0.0, (first_bytes - remaining) / elapsed) if elapsed > 0 else None

    async def sample(self) -> ProgressFigures:
        """Read the outbox, update the figures, log and report what changed."""
        if self._initial_done is None:
            self._initial_done = await self._state.get_meta(META_INITIAL_SYNC) is not None
        files, remaining = await self._state.outbox_files_and_bytes()
        depth, _ = await self._state.outbox_depth()
        rate = self._rate(self._clock(), remaining)
        eta = remaining / rate if rate and remaining else (0.0 if not remaining else None)
        just_completed = not self._initial_done and self._first_scan_done() and depth == 0
        if just_completed:
            self._initial_done = True
            await self._state.set_meta(META_INITIAL_SYNC, datetime.now(UTC).isoformat())
        figures = ProgressFigures(
            files_remaining=files,
            bytes_remaining=remaining,
            files_total=await self._state.count_files(),
            rate_bytes_per_s=None if rate is None else round(rate, 1),
            eta_s=None if eta is None else round(eta, 1),
            initial_sync_complete=self._initial_done,
            sampled_at=datetime.now(UTC).isoformat(),
        )
        self.figures = figures
        await self._state.set_meta(META_PROGRESS, json.dumps(asdict(figures)))
        self._report(figures, depth=depth, just_completed=just_completed)
        return figures

    def _report(self, figures: ProgressFigures, *, depth: int, just_completed: bool) -> None:
        status = status_line(figures)
        self._sd.status(status)
        if just_completed:
            log.info("initial_sync_complete", files=figures.files_total)
            self._backlog_logged = False
        elif depth and (self._last_remaining or not figures.initial_sync_complete):
            # Only a backlog that outlasts one interval is worth a line.
            log.info(
                "sync_progress",
                phase="backlog" if figures.initial_sync_complete else "initial sync",
                files_remaining=figures.files_remaining,
                bytes_remaining=figures.bytes_remaining,
                rate_bytes_per_s=figures.rate_bytes_per_s,
                eta_s=figures.eta_s,
                status=status,
            )
            self._backlog_logged = True
        elif not depth and self._backlog_logged:
            log.info("backlog_cleared")
            self._backlog_logged = False
        self._last_remaining = depth

    async def run(self, stop: asyncio.Event) -> None:
        """Sample every interval until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sample()
            except Exception as exc:  # figures must never stop the agent
                log.warning("sync_progress_failed", error=f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
