"""The hub's link to the archive: one connection that forwards the SIP outbox and takes the replies.

Each session declares the archive topology (`declare_archive`: the inbox and
this hub's reply queue, so a reply is never unroutable), starts consuming the
reply queue (single active consumer), then forwards every due SIP: `built`
ones, and `forwarded` ones without a reply for `archive_resend_s`. A SIP whose
manifest is confirmed becomes `forwarded` (and its spis too). Sending is
resumable by restarting it: the archive stages chunks idempotently, so a crash
or a lost connection mid-transfer just means the SIP is sent again whole.

The session ends when the connection is lost (reconnect with backoff) or at
shutdown, which cancels a send in progress: it is redone at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from aio_pika.exceptions import DeliveryError

from hub.forwarding.builder import sips_dir
from hub.forwarding.replies import ReplyHandler
from hub.forwarding.sender import SendInterruptedError, SipSender
from hub.store.models import SipFailure
from protocol import names, utc_now
from spisync.broker import declare_archive, declare_core, run_sessions

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.store.metadata import MetadataStore
    from hub.store.models import SipRow
    from spisync.broker import Session

__all__ = ["HUB_SIP_LOST", "ArchiveLink"]

log = structlog.get_logger(__name__)

HUB_SIP_LOST = "HUB-SIP-LOST"
"""The built ZIP is gone from `<data_dir>/sips` before the archive accepted it."""

_POLL_MAX_S = 30.0
_REPLY_PREFETCH = 16


class ArchiveLink:
    """Forwards the SIP outbox and applies the archive's replies, reconnecting as needed.

    Args:
        config: The hub's configuration.
        store: The metadata store (with the SIP ledger).
        instance: This hub process's name (connection name).
    """

    def __init__(self, config: HubConfig, store: MetadataStore, *, instance: str) -> None:
        self._config = config
        self._store = store
        self._instance = instance
        self._wakeup = asyncio.Event()
        self.sessions = 0

    def wake(self) -> None:
        """Look for due SIPs now (a SIP was built or a re-send was asked for)."""
        self._wakeup.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Run sessions until `stopping` is set."""
        config = self._config
        await run_sessions(
            config.broker,
            lambda session: self._session(session, stopping),
            stopping,
            name=f"spisync-hub-archive {config.hub.orp} {self._instance}",
            link="hub_archive",
        )

    async def _session(self, session: Session, stopping: asyncio.Event) -> None:
        config = self._config
        connection = session.connection
        setup = await connection.channel()
        await declare_core(setup)
        await declare_archive(setup, config.hub.orp)
        await setup.close()
        replies = await connection.channel()
        session.watch(replies, "archive replies")
        await replies.set_qos(prefetch_count=_REPLY_PREFETCH)
        queue = await replies.get_queue(names.archive_reply_queue(config.hub.orp), ensure=False)
        handler = ReplyHandler(self._store, orp=config.hub.orp, wake=self.wake)
        await queue.consume(handler.on_message)
        publish = await connection.channel(publisher_confirms=True, on_return_raises=True)
        session.watch(publish, "publishing")
        exchange = await publish.get_exchange(names.ARCHIVE_EXCHANGE, ensure=False)
        sender = SipSender(
            exchange,
            orp=config.hub.orp,
            hub_user=config.broker.username,
            chunk_size=config.hub.archive_chunk_size,
            window=config.hub.archive_window,
            stopping=stopping,
        )
        self.sessions += 1
        log.info("archive_link_connected", reply_queue=queue.name)
        # The runner cancels this when the connection closes; shutdown cancels a send in
        # progress too (it is redone at the next start).
        forwarder = asyncio.create_task(self._forward(sender, stopping))
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait([forwarder, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarder

    async def _forward(self, sender: SipSender, stopping: asyncio.Event) -> None:
        """Send due SIPs, then wait for a wake-up or the next re-send check."""
        resend = timedelta(seconds=self._config.hub.archive_resend_s)
        poll = min(self._config.hub.archive_resend_s / 2, _POLL_MAX_S)
        while not stopping.is_set():
            self._wakeup.clear()
            for row in await self._store.sips.due(resend_before=utc_now() - resend):
                if stopping.is_set():
                    return
                await self._send(sender, row)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), poll)

    async def _send(self, sender: SipSender, row: SipRow) -> None:
        bound = log.bind(ico=row.ico, spis_id=row.spis_id, sip_name=row.name)
        path = sips_dir(self._config) / f"{row.name}.zip"
        only = row.resend_chunks if row.state == "built" else None
        try:
            chunks = await sender.send(row, path, only=only)
        except FileNotFoundError:
            await self._lost(row)
            return
        except SendInterruptedError:
            return
        except DeliveryError as exc:
            # Unroutable (the archive's inbox is gone): the SIP stays due for the next round.
            bound.warning("sip_unroutable", error=str(exc))
            return
        assert row.sha256 is not None
        await self._store.sips.mark_sent(row.name, at=utc_now())
        forwarded = await self._store.mark_forwarded(
            row.ico, row.spis_id, row.closing_seq, sip_name=row.name, sip_sha256=row.sha256
        )
        bound.info(
            "sip_forwarded",
            chunks=chunks,
            resend=row.sends > 0 or only is not None,
            spis_forwarded=forwarded,
            size=row.size,
        )

    async def _lost(self, row: SipRow) -> None:
        """The ZIP vanished before acceptance: record it and let the operator see it."""
        failure = SipFailure(HUB_SIP_LOST, f"{row.name}.zip is missing from the hub's sips folder")
        await self._store.sips.mark_rejected(row.name, [*row.failures, failure])
        log.error("sip_file_lost", ico=row.ico, spis_id=row.spis_id, sip_name=row.name)
