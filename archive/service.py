"""`run`: the archive consumer as a service.

One task consumes `archive.inbox` in sessions of `spisync.broker.run_sessions`
(each connection gets a fresh channel, topology declaration and consumer, so a
consumer can never silently stay lost after a reconnect), one sweeps stale
staged chunks. Setting
`shutdown_trigger` cancels the consumer, lets the delivery in hand finish (at
most `drain_timeout_s`) and closes the connection.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING

import structlog

from archive._blocking import run_blocking
from archive.consumer import ArchiveConsumer
from archive.inbox import declare_inbox
from archive.staging import Staging
from archive.store import PackageStore
from archive.validation import ExternalTools
from spisync.broker import run_sessions
from spisync.systemd import notifier

if TYPE_CHECKING:
    from archive.config import ArchiveConfig
    from spisync.broker import Session

__all__ = ["run"]

_log = structlog.get_logger(__name__)
_SWEEP_INTERVAL_S = 3600.0


async def _session(
    session: Session,
    config: ArchiveConfig,
    store: PackageStore,
    staging: Staging,
    stopping: asyncio.Event,
) -> None:
    """One connection's life: channel, topology, consumer."""
    channel = await session.connection.channel(publisher_confirms=True, on_return_raises=True)
    session.watch(channel, "inbox")
    await channel.set_qos(prefetch_count=config.archive.prefetch)
    queue = await declare_inbox(channel)
    notifier().ready("connected to the broker, consuming archive.inbox")
    consumer = ArchiveConsumer(
        channel,
        store=store,
        staging=staging,
        user_id=config.broker.username,
        stopping=stopping,
        tools=ExternalTools(vir1=config.archive.vir1_command, kom4=config.archive.kom4_command),
    )
    await consumer.consume(queue)


async def _consume_forever(
    config: ArchiveConfig, store: PackageStore, staging: Staging, stopping: asyncio.Event
) -> None:
    instance = config.archive.instance or f"{socket.gethostname()}-{os.getpid()}"
    await run_sessions(
        config.broker,
        lambda session: _session(session, config, store, staging, stopping),
        stopping,
        name=f"spisync-archive {instance}",
        link="archive",
    )


async def _sweep_forever(config: ArchiveConfig, staging: Staging) -> None:
    max_age_s = config.archive.staging_max_age_h * 3600
    while True:
        removed = await run_blocking(staging.sweep, max_age_s)
        if removed:
            _log.info("stale_staging_removed", sips=removed)
        await asyncio.sleep(_SWEEP_INTERVAL_S)


async def run(config: ArchiveConfig, shutdown_trigger: asyncio.Event) -> None:
    """Run the archive consumer until `shutdown_trigger` is set.

    Args:
        config: The loaded `ARCHIVE.toml`.
        shutdown_trigger: Set it (e.g. from SIGTERM) to drain and return.

    Raises:
        StoreError: If the data folder or the index cannot be opened.
    """
    data_dir = config.archive.data_path
    store = PackageStore(data_dir, id_prefix=config.archive.id_prefix)
    staging = Staging(data_dir / "staging")
    await run_blocking(store.open)
    try:
        await run_blocking(staging.prepare)
        _log.info("archive_started", data_dir=str(data_dir), broker=str(config.broker))
        async with asyncio.TaskGroup() as group:
            consumer = group.create_task(_consume_forever(config, store, staging, shutdown_trigger))
            sweeper = group.create_task(_sweep_forever(config, staging))
            waiter = group.create_task(shutdown_trigger.wait())
            await asyncio.wait({consumer, waiter}, return_when=asyncio.FIRST_COMPLETED)
            sweeper.cancel()
            shutdown_trigger.set()
            done, _ = await asyncio.wait({consumer}, timeout=config.archive.drain_timeout_s)
            if not done:
                _log.warning("drain_timed_out", timeout_s=config.archive.drain_timeout_s)
                consumer.cancel()
    finally:
        store.close()
    _log.info("archive_stopped")
