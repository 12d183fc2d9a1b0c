"""The agent service: every part under one `asyncio.TaskGroup`, stopped by one event.

`run(config, shutdown_trigger)` is what `spisync agent run` calls after wiring
SIGTERM/SIGINT to the trigger, and what tests call directly. On shutdown the
intake (watcher, registry) stops at once, the publisher settles in-flight
publishes, and everything is closed within `SHUTDOWN_BUDGET_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from agent.config import FolderConfig
from agent.diagnostics.context import AgentView
from agent.diagnostics.journal import Journal
from agent.diagnostics.logfile import LogFile
from agent.diagnostics.outgoing import Outgoing
from agent.diagnostics.redact import Redactor
from agent.diagnostics.runner import DiagnosticsRunner
from agent.heartbeat import HeartbeatSender
from agent.inbox import Inbox
from agent.kept_content import KeptContent
from agent.link import Link
from agent.problems import Problems
from agent.progress import SyncProgress
from agent.publisher import Publisher
from agent.receipts import ReceiptWatch
from agent.registry.sources import open_source, spis_defaults
from agent.registry.sync import RegistrySync
from agent.scanner import Folder, IgnoreRules
from agent.state import State
from agent.tracker import Tracker
from agent.watcher import FolderWatcher
from spisync.backoff import Backoff
from spisync.broker import RECONNECT, ReconnectPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agent.config import AgentConfig

__all__ = ["SHUTDOWN_BUDGET_S", "run"]

log = structlog.get_logger(__name__)

SHUTDOWN_BUDGET_S = 7.0
_PART_RESTART = Backoff(base_s=1.0, cap_s=60.0)
PROGRESS_INTERVAL_S = 10.0
"""Seconds between sync progress samples: at most one progress line per interval."""


async def _supervise(name: str, part: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run one part until `stop`; restart it with backoff if it fails.

    The agent runs unattended for months: a bug in one part must not take the
    others down, and the failure is logged with its traceback.
    """
    attempt = 0
    while not stop.is_set():
        try:
            await part()
        except (Exception, asyncio.CancelledError) as exc:
            if isinstance(exc, asyncio.CancelledError) and _really_cancelled():
                raise
            # Otherwise a library handed its own cancellation over as a failure (aiormq
            # does, to what waited on a link that went silent): restart the part.
            attempt += 1
            delay = _PART_RESTART.delay(attempt)
            log.exception(
                "agent_part_failed", part=name, attempt=attempt, restart_in_s=round(delay, 1)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
        else:
            return


def _really_cancelled() -> bool:
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


async def run(
    config: AgentConfig,
    shutdown_trigger: asyncio.Event,
    *,
    reconnect: ReconnectPolicy = RECONNECT,
) -> None:
    """Run the agent until `shutdown_trigger` is set.

    Args:
        config: The agent's configuration.
        shutdown_trigger: Set it to stop the agent (SIGTERM/SIGINT do, in the CLI).
        reconnect: When to reconnect to the broker (tests shorten it).
    """
    agent = config.agent
    started = time.monotonic()
    structlog.contextvars.bind_contextvars(ico=agent.ico)
    log_file = LogFile(
        agent.state_path / "logs" / "agent.log",
        ico=agent.ico,
        max_bytes=config.diagnostics.log_file_bytes,
    )
    log_file.start()
    try:
        await _run(config, shutdown_trigger, reconnect, started, log_file)
    finally:
        log_file.stop()


async def _run(  # noqa: PLR0915 - the wiring of every part, in one readable place
    config: AgentConfig,
    shutdown_trigger: asyncio.Event,
    reconnect: ReconnectPolicy,
    started: float,
    log_file: LogFile,
) -> None:
    agent = config.agent
    state = await State.open(agent.state_path / "state.sqlite")
    problems = Problems()
    ignore = IgnoreRules(config.ignore_patterns)
    folders = [Folder(f, config.folder_prefix(f), ignore) for f in config.folders]
    intake_stop = asyncio.Event()
    link_stop = asyncio.Event()

    watcher_ref: list[FolderWatcher] = []

    def file_changed(folder_key: str, disk_path: str) -> None:
        if watcher_ref:
            watcher_ref[0].recheck(folder_key, disk_path)

    # Diagnostics attachments are sent from here like files, but are not the office's.
    outgoing_dir = agent.state_path / "diagnostics" / "out"
    outgoing_folder = Folder(FolderConfig(path=str(outgoing_dir)), "", ignore)
    kept = KeptContent()
    publisher = Publisher(
        ico=agent.ico,
        username=config.broker.username,
        state=state,
        problems=problems,
        folders={f.key: f for f in [*folders, outgoing_folder]},
        window=agent.publish_window,
        bandwidth_limit=agent.bandwidth_limit_bytes_per_s,
        kept=kept,
        compress=agent.compression == "deflate",
        on_file_changed=file_changed,
    )
    tracker = Tracker(
        state=state,
        problems=problems,
        ico=agent.ico,
        chunk_size=agent.chunk_size,
        mass_delete_threshold=agent.mass_delete_threshold,
        mass_delete_min_files=agent.mass_delete_min_files,
        kept=kept,
        early=publisher,
    )
    watcher = FolderWatcher(
        folders=folders,
        state=state,
        tracker=tracker,
        problems=problems,
        quiet_window_s=agent.quiet_window_s,
        rescan_interval_s=agent.rescan_interval_s,
        on_recorded=publisher.wake,
    )
    watcher_ref.append(watcher)
    redactor = Redactor(config)
    view = AgentView(
        config=config,
        state=state,
        problems=problems,
        folders=folders,
        watcher=watcher if folders else None,
        wake_publisher=publisher.wake,
        started=started,
        log_file=log_file,
        journal=Journal(agent.state_path / "diagnostics"),
        redactor=redactor,
    )
    outgoing = Outgoing(
        ico=agent.ico,
        state=state,
        directory=outgoing_dir,
        chunk_size=agent.chunk_size,
        max_bytes=config.diagnostics.max_result_bytes,
        redactor=redactor,
        wake=publisher.wake,
    )
    diagnostics = DiagnosticsRunner(view, outgoing)
    if agent.inbox is None:
        log.warning(
            "agent_inbox_not_configured",
            inbox=agent.inbox_queue,
            fix="run `spisync hub provision-agent` again at the hub: it adds [agent] inbox",
        )
    inbox = Inbox(
        queue=agent.inbox_queue, state=state, on_queued=publisher.wake, diagnostics=diagnostics
    )
    link = Link(
        broker=config.broker,
        name=f"spisync-agent {agent.ico} {agent.name}",
        publisher=publisher,
        inbox=inbox,
        problems=problems,
        policy=reconnect,
    )
    progress = SyncProgress(
        state,
        lambda: not folders or watcher.caught_up(),
        interval_s=PROGRESS_INTERVAL_S,
    )
    heartbeat = HeartbeatSender(
        ico=agent.ico,
        state=state,
        state_dir=Path(agent.state_dir),
        problems=problems,
        scan_stats=watcher.stats,
        publisher=publisher,
        interval_s=agent.heartbeat_interval_s,
        folders=folders,
        registry=config.registry,
        progress=progress,
    )
    log.info(
        "agent_started",
        name=agent.name,
        folders=[str(f.root) for f in folders],
        registry=None if config.registry is None else config.registry.path,
    )
    if not folders and config.registry is None:
        log.warning("agent_has_nothing_to_watch", fix="add [[folders]] or [registry] to AGENT.toml")
    try:
        async with asyncio.TaskGroup() as group:
            intake: list[asyncio.Task[None]] = []
            if folders:
                intake.append(
                    group.create_task(
                        _supervise("watcher", lambda: watcher.run(intake_stop), intake_stop)
                    )
                )
            if config.registry is not None:
                registry = RegistrySync(
                    reader=open_source(config),
                    state=state,
                    problems=problems,
                    ico=agent.ico,
                    poll_interval_s=config.registry.poll_interval_s,
                    reconcile_interval_s=config.registry.reconcile_interval_s,
                    on_queued=publisher.wake,
                    spis_defaults=spis_defaults(config.registry),
                )
                intake.append(
                    group.create_task(
                        _supervise("registry", lambda: registry.run(intake_stop), intake_stop)
                    )
                )
            intake.append(
                group.create_task(
                    _supervise("heartbeat", lambda: heartbeat.run(intake_stop), intake_stop)
                )
            )
            intake.append(
                group.create_task(
                    _supervise("progress", lambda: progress.run(intake_stop), intake_stop)
                )
            )
            receipts = ReceiptWatch(
                state=state, timeout_s=agent.receipt_timeout_s, on_queued=publisher.wake
            )
            intake.append(
                group.create_task(
                    _supervise("receipts", lambda: receipts.run(intake_stop), intake_stop)
                )
            )
            linking = group.create_task(_supervise("link", lambda: link.run(link_stop), link_stop))
            await shutdown_trigger.wait()
            log.info("agent_stopping")
            intake_stop.set()
            link_stop.set()
            _, late = await asyncio.wait([*intake, linking], timeout=SHUTDOWN_BUDGET_S)
            for task in late:
                log.warning("agent_part_cancelled_at_shutdown", task=task.get_name())
                task.cancel()
    finally:
        await diagnostics.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(publisher.close(), timeout=1.0)
        await state.close()
        log.info("agent_stopped")
