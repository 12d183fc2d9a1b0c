"""The hub service: `run(config, shutdown_trigger)`.

Tasks under one `asyncio.TaskGroup`: the broker loop (connect, consume every
provisioned obec, batch, reconnect with backoff), the closing worker (SIP
builds), the archive link (forward the SIP outbox, take the archive's
replies; its own connection), the release sweeper and the diagnostics expiry
sweep. When `shutdown_trigger` is set, consumers are cancelled, the deliveries already
received are processed and acknowledged, and `run` returns (well within 10 s;
whatever is not done by then is left unacknowledged and redelivered later).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import TYPE_CHECKING, TypeVar

import structlog

from hub.batcher import Batcher
from hub.chunk_gc import ChunkCollector
from hub.closing import ClosingWorker
from hub.consumer import ObecConsumers
from hub.diagnostics import expiry_sweep
from hub.forwarding import ArchiveLink, ReleaseSweeper, SipBuilder, SipCloser
from hub.metrics import HubMetrics
from hub.provision import load_obce
from hub.publisher import HubPublisher
from hub.queue_names import queue_names
from hub.store import open_blob_store, open_metadata_store
from spisync.broker import declare_core, run_sessions
from spisync.events import wait_any
from spisync.systemd import notifier

if TYPE_CHECKING:
    from collections.abc import Awaitable

    import aio_pika

    from hub.closing import Closer
    from hub.config import HubConfig
    from hub.inspection import Delivery
    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataStore
    from spisync.broker import Session

__all__ = ["DRAIN_TIMEOUT_S", "instance_name", "run"]

log = structlog.get_logger(__name__)

_T = TypeVar("_T")

DRAIN_TIMEOUT_S = 7.0
"""How long a shutdown waits for received deliveries to be committed and acked."""


def instance_name(config: HubConfig) -> str:
    """Return this process's name: `[hub] instance` or `<host>-<pid>`."""
    return config.hub.instance or f"{socket.gethostname()}-{os.getpid()}"


async def _unless_stopped(opening: Awaitable[_T], shutdown: asyncio.Event) -> _T | None:
    """Await a start-up step, or cancel it and return None when `shutdown` is set first.

    Opening a store can wait long (a locked database, an S3 endpoint that does not
    answer); SIGTERM must still end the hub at once.
    """
    task = asyncio.ensure_future(opening)
    stop = asyncio.ensure_future(shutdown.wait())
    try:
        await asyncio.wait([task, stop], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
        if task.cancelled():
            log.info("hub_stopped_while_starting")
            return None
    return task.result()


class _BrokerLoop:
    """Connects, runs a session until it ends, and reconnects with backoff."""

    def __init__(
        self,
        config: HubConfig,
        *,
        instance: str,
        store: MetadataStore,
        blobs: BlobStore,
        worker: ClosingWorker,
        metrics: HubMetrics,
    ) -> None:
        self._config = config
        self._instance = instance
        self._store = store
        self._blobs = blobs
        self._worker = worker
        self._metrics = metrics

    async def run(self, shutdown: asyncio.Event) -> None:
        config = self._config
        # Before any session: a broken key file is one clear error, not a reconnect loop.
        queue_names(config)
        await run_sessions(
            config.broker,
            lambda session: self._session(session, shutdown),
            shutdown,
            name=f"spisync-hub {config.hub.orp} {self._instance}",
            link="hub",
        )

    async def _session(self, session: Session, shutdown: asyncio.Event) -> None:
        config = self._config
        connection = session.connection
        setup = await connection.channel()
        await declare_core(setup)
        await setup.close()
        publish_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        session.watch(publish_channel, "publishing")
        publisher = await HubPublisher.open(
            publish_channel, hub_user=config.broker.username, orp=config.hub.orp
        )
        self._metrics.sessions += 1
        notifier().ready(f"ORP {config.hub.orp}: connected to the broker, consuming")
        await self._consume(connection, publisher, shutdown, session.lost)

    async def _consume(
        self,
        connection: aio_pika.abc.AbstractConnection,
        publisher: HubPublisher,
        shutdown: asyncio.Event,
        lost: asyncio.Event,
    ) -> None:
        hub = self._config.hub
        deliveries: asyncio.Queue[Delivery] = asyncio.Queue()
        consumers = ObecConsumers(
            connection,
            deliveries,
            prefetch=hub.prefetch,
            tag_prefix=f"hub-{hub.orp}-{self._instance}",
            user_prefix=hub.agent_user_prefix,
            queue_names=queue_names(self._config),
            broken=lost,
        )
        batcher = Batcher(
            store=self._store,
            blobs=self._blobs,
            publisher=publisher,
            batch_max=hub.batch_max,
            batch_wait_s=hub.batch_wait_s,
            metrics=self._metrics,
            on_ready=self._worker.submit,
            in_flight_limit=lambda: hub.prefetch * len(consumers.icos),
            limits=self._config.limits,
        )
        stop_batcher = asyncio.Event()
        batcher_task = asyncio.create_task(batcher.run(deliveries, stop_batcher))
        try:
            while not (shutdown.is_set() or lost.is_set() or batcher_task.done()):
                obce = await asyncio.to_thread(load_obce, self._config)
                await consumers.ensure(obce)
                notifier().status(
                    f"ORP {hub.orp}: consuming {len(consumers.icos)} obce, "
                    f"{self._metrics.deliveries_acked} deliveries stored since start"
                )
                await wait_any(shutdown, lost, within=hub.obce_poll_s)
        finally:
            if lost.is_set() or batcher_task.done():
                # The connection is gone: whatever was received comes again.
                while not deliveries.empty():
                    deliveries.get_nowait()
            else:
                await consumers.cancel_all()
            stop_batcher.set()
            try:
                await asyncio.wait_for(asyncio.shield(batcher_task), DRAIN_TIMEOUT_S)
            except TimeoutError:
                log.warning("drain_timed_out", left=deliveries.qsize())
                batcher_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await batcher_task


async def run(
    config: HubConfig,
    shutdown_trigger: asyncio.Event,
    *,
    metrics: HubMetrics | None = None,
    closer: Closer | None = None,
) -> None:
    """Run the hub until `shutdown_trigger` is set.

    Args:
        config: The hub's configuration.
        shutdown_trigger: Set it to drain and stop (the CLI sets it on SIGTERM/SIGINT).
        metrics: Counters to update (a fresh set by default).
        closer: What to do with a closed spis once complete; by default
            `hub.forwarding.SipCloser` (build its SIP for the archive). The
            forwarder, the archive's replies and the release run either way.
    """
    instance = instance_name(config)
    structlog.contextvars.bind_contextvars(hub_instance=instance)
    metrics = metrics if metrics is not None else HubMetrics()
    store = await _unless_stopped(open_metadata_store(config, instance=instance), shutdown_trigger)
    if store is None:
        return
    try:
        blobs = await _unless_stopped(open_blob_store(config), shutdown_trigger)
        if blobs is None:
            return
        try:
            link = ArchiveLink(config, store, instance=instance)
            if closer is None:
                builder = SipBuilder(config, store, blobs, shutdown_trigger)
                closer = SipCloser(store, builder, wake=link.wake)
            worker = ClosingWorker(store, closer)
            loop = _BrokerLoop(
                config, instance=instance, store=store, blobs=blobs, worker=worker, metrics=metrics
            )
            sweeper = ReleaseSweeper(config, store, blobs)
            collector = ChunkCollector(config, store, blobs)
            log.info("hub_started", orp=config.hub.orp, data_dir=config.hub.data_dir)
            async with asyncio.TaskGroup() as group:
                group.create_task(worker.run(shutdown_trigger))
                group.create_task(loop.run(shutdown_trigger))
                group.create_task(link.run(shutdown_trigger))
                group.create_task(sweeper.run(shutdown_trigger))
                group.create_task(expiry_sweep(store, shutdown_trigger))
                group.create_task(collector.run(shutdown_trigger))
                if config.console is not None:
                    # Imported here: a hub without `[console]` never loads the web stack.
                    from hub.console.app import serve  # noqa: PLC0415

                    group.create_task(serve(config, store, shutdown_trigger, instance=instance))
        finally:
            await blobs.close()
    finally:
        await store.close()
    log.info("hub_stopped", **vars(metrics))
