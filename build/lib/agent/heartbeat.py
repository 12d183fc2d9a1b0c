"""The heartbeat: every `heartbeat_interval_s`, what the ORP's operators need to see.

Heartbeats bypass the outbox: an hour-old heartbeat is worthless, so one that
cannot be sent now is simply skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from agent.diagnostics.figures import folder_figures, outbox_figures, registry_figures
from protocol import Heartbeat, encode, new_message_id, utc_now
from spisync.version import spisync_version

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from agent.config import RegistryConfig
    from agent.problems import Problems
    from agent.progress import ProgressFigures, SyncProgress
    from agent.publisher import Publisher
    from agent.scanner import Folder
    from agent.state import State
    from agent.watcher import ScanStats

__all__ = ["HeartbeatSender", "agent_version"]

log = structlog.get_logger(__name__)


def agent_version() -> str:
    """Return the installed spisync version (what heartbeats carry)."""
    return spisync_version()


def _progress_fields(figures: ProgressFigures | None) -> dict[str, Any]:
    if figures is None:
        return {}
    return {
        "sync_rate_bytes_per_s": figures.rate_bytes_per_s,
        "sync_eta_s": figures.eta_s,
        "initial_sync_complete": figures.initial_sync_complete,
    }


class HeartbeatSender:
    """Builds and sends heartbeats.

    Args:
        ico: The obec's IČO.
        state: The state database.
        state_dir: Where free disk space is measured.
        problems: Open problems and error counts.
        scan_stats: The watcher's scan figures.
        publisher: Sends the heartbeat.
        interval_s: Seconds between heartbeats.
        folders: The watched folders (their availability is reported).
        registry: The registry settings, for its cursor and lag.
        progress: The sync's progress (files remaining, rate, ETA).
    """

    def __init__(
        self,
        *,
        ico: str,
        state: State,
        state_dir: Path,
        problems: Problems,
        scan_stats: ScanStats,
        publisher: Publisher,
        interval_s: float,
        folders: Sequence[Folder] = (),
        registry: RegistryConfig | None = None,
        progress: SyncProgress | None = None,
    ) -> None:
        self._ico = ico
        self._state = state
        self._state_dir = state_dir
        self._problems = problems
        self._scan_stats = scan_stats
        self._publisher = publisher
        self._interval = interval_s
        self._folders = tuple(folders)
        self._registry = registry
        self._progress = progress
        self.started = time.monotonic()

    async def build(self) -> Heartbeat:
        """Return a heartbeat with the current figures."""
        outbox = await outbox_figures(self._state)
        oldest = outbox.oldest_created_at
        stats = self._scan_stats
        open_problems = self._problems.open_problems()
        folders = await folder_figures(self._folders)
        registry = await registry_figures(self._state, self._registry)
        return Heartbeat(
            message_id=new_message_id(),
            sender=self._ico,
            sent_at=utc_now(),
            agent_version=agent_version(),
            uptime_s=round(time.monotonic() - self.started, 3),
            outbox_depth=outbox.depth,
            oldest_pending_age_s=None if oldest is None else max(0.0, time.time() - oldest),
            last_scan_at=None
            if stats.last_scan_at is None
            else datetime.fromtimestamp(stats.last_scan_at, UTC),
            last_scan_duration_s=stats.last_scan_duration_s,
            files_watched=await self._state.count_files(),
            errors_by_kind=self._problems.errors_by_kind(),
            free_disk_bytes=shutil.disk_usage(self._state_dir).free,
            outbox_bytes=outbox.bytes,
            open_problems=len(open_problems),
            problem_kinds=dict(Counter(p.kind for p in open_problems)),
            folders={f.name: f.available for f in folders},
            registry_cursor=None if registry is None else registry.cursor,
            registry_lag=None if registry is None else registry.lag,
            sync_files_remaining=(await self._state.outbox_files_and_bytes())[0],
            **_progress_fields(None if self._progress is None else self._progress.figures),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Send a heartbeat every interval until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
            if stop.is_set():
                return
            beat = await self.build()
            sent = await self._publisher.publish_now("heartbeat", encode(beat), beat.message_id)
            log.debug(
                "heartbeat_sent" if sent else "heartbeat_skipped",
                outbox_depth=beat.outbox_depth,
                files_watched=beat.files_watched,
            )
