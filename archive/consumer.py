"""Consuming `archive.inbox`: stage chunks, store or reject SIPs, reply, dead-letter.

Deliveries are handled one at a time, in queue order (chunks come before their
manifest). How each delivery is settled:

- a chunk: acked once durably staged; a corrupt or undecodable one is
  dead-lettered (not staged) and acked;
- a manifest: acked once the package is stored (or rejected) and the reply is
  confirmed by the broker; a redelivered manifest gets the same reply;
- anything else: dead-lettered to `spisync.dead` with `x-spisync-reject-reason`
  (confirmed), then acked;
- a failure of the archive itself (disk, index): not acked; after a pause the
  delivery is returned to the queue, whose delivery limit dead-letters a
  message that fails again and again.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import aio_pika
import structlog
from aio_pika.exceptions import AMQPError, PublishError

from archive._blocking import run_blocking
from archive.errors import (
    DeadLetterError,
    IncompleteSipError,
    InvalidSipError,
    RejectedSipError,
)
from archive.inbox import Route, parse_routing_key
from archive.placeholders import package_placeholders
from archive.validation import ExternalTools, validate_sip
from protocol import (
    DecodeError,
    RuleFailure,
    SipAccepted,
    SipManifest,
    SipRejected,
    decode,
    decode_chunk_meta,
    encode,
    kind_of,
    names,
    new_message_id,
    utc_now,
)

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractIncomingMessage,
        AbstractQueue,
    )

    from archive.staging import Staging
    from archive.store import PackageStore, StoredPackage
    from archive.validation import RuleFailure as ValidationFailure

__all__ = ["ArchiveConsumer"]

_log = structlog.get_logger(__name__)
_SENDER = "archive"
_DETAIL_MAX = 1000
_FAILURE_PAUSE_S = 5.0
_REPLY_RETRY_MAX_S = 30.0


class _AbandonedError(Exception):
    """The delivery is given back unfinished (shutdown); the broker redelivers it."""


def _wire_failure(failure: ValidationFailure) -> RuleFailure:
    return RuleFailure(code=failure.code, message=failure.message, location=failure.location)


class ArchiveConsumer:
    """Handles the deliveries of `archive.inbox`.

    Args:
        channel: A channel opened with publisher confirms and `on_return_raises`.
        store: The package store (open).
        staging: The chunk staging area (prepared).
        user_id: The archive's broker user, stamped on what it publishes.
        stopping: Set when the service shuts down; ends waits for a retry.
        tools: The commands for rules vir1 and kom4 (none: not checked).
    """

    def __init__(
        self,
        channel: AbstractChannel,
        *,
        store: PackageStore,
        staging: Staging,
        user_id: str,
        stopping: asyncio.Event,
        tools: ExternalTools | None = None,
    ) -> None:
        self._channel = channel
        self._tools = tools or ExternalTools()
        self._store = store
        self._staging = staging
        self._user_id = user_id
        self._stopping = stopping
        self._replies: AbstractExchange | None = None
        self._dead: AbstractExchange | None = None

    async def consume(self, queue: AbstractQueue) -> None:
        """Handle deliveries until `stopping` is set or the channel closes.

        On shutdown the consumer is cancelled first (prefetched deliveries go
        back to the queue), then the delivery in hand is finished.
        """
        self._replies = await self._channel.get_exchange(names.ARCHIVE_REPLY_EXCHANGE)
        self._dead = await self._channel.get_exchange(names.DEAD_LETTER_EXCHANGE)
        async with queue.iterator() as messages:

            async def close_on_stop() -> None:
                await self._stopping.wait()
                await messages.close()

            closer = asyncio.create_task(close_on_stop())
            _log.info("inbox_consuming", queue=queue.name)
            try:
                async for message in messages:
                    await self.handle(message)
                    if self._stopping.is_set():
                        break
            finally:
                closer.cancel()

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery and settle it (ack, or return it to the queue)."""
        with structlog.contextvars.bound_contextvars(
            message_id=message.message_id, routing_key=message.routing_key
        ):
            try:
                try:
                    await self._dispatch(message)
                except DeadLetterError as exc:
                    await self._dead_letter(message, exc)
            except _AbandonedError as exc:
                _log.warning("delivery_abandoned", reason=str(exc))
                await self._settle(message, ack=False)
                return
            except Exception:
                _log.exception("delivery_failed")
                await self._pause_for(_FAILURE_PAUSE_S)
                await self._settle(message, ack=False)
                return
            await self._settle(message, ack=True)

    async def _dispatch(self, message: AbstractIncomingMessage) -> None:
        route = parse_routing_key(message.routing_key or "")
        declared = message.headers.get(names.HEADER_KIND)
        declared = declared.decode() if isinstance(declared, bytes) else declared
        if declared is not None and declared != route.kind:
            raise DeadLetterError(
                "kind-mismatch", f"header says {declared!r}, routing key {route.kind!r}"
            )
        if route.kind == "chunk":
            await self._on_chunk(route, message)
        else:
            await self._on_manifest(route, message)

    @staticmethod
    async def _settle(message: AbstractIncomingMessage, *, ack: bool) -> None:
        try:
            if ack:
                await message.ack()
            else:
                await message.nack(requeue=True)
        except (AMQPError, ConnectionError, RuntimeError) as exc:
            # The channel is gone; the broker redelivers, and every step is idempotent.
            _log.warning("delivery_settle_failed", ack=ack, error=str(exc))

    async def _on_chunk(self, route: Route, message: AbstractIncomingMessage) -> None:
        try:
            meta = decode_chunk_meta(message.headers)
        except DecodeError as exc:
            raise DeadLetterError("bad-chunk-headers", str(exc)) from None
        log = _log.bind(ico=route.ico, sip_sha256=meta.object_sha256, index=meta.index)
        if await run_blocking(self._store.holds_sha256, meta.object_sha256):
            log.info("chunk_of_stored_sip_skipped")
            return
        fresh = await run_blocking(
            self._staging.stage_chunk, meta.object_sha256, meta.sha256, message.body
        )
        log.debug("chunk_staged" if fresh else "chunk_already_staged", size=len(message.body))

    async def _on_manifest(self, route: Route, message: AbstractIncomingMessage) -> None:
        try:
            manifest = decode(message.body)
        except DecodeError as exc:
            raise DeadLetterError("undecodable", str(exc)) from None
        if not isinstance(manifest, SipManifest):
            raise DeadLetterError("unexpected-kind", f"body is a {kind_of(manifest)!r}")
        if manifest.ico != route.ico:
            raise DeadLetterError(
                "identity-mismatch",
                f"routing key names obec {route.ico}, the manifest {manifest.ico}",
                security=True,
            )
        with structlog.contextvars.bound_contextvars(
            ico=manifest.ico, sip_name=manifest.sip_name, sender_user=message.user_id
        ):
            reply, keep_chunks = await self._verdict(manifest)
            await self._reply(route, reply, correlation_id=manifest.message_id)
            if not keep_chunks:
                await run_blocking(self._staging.discard, manifest.sha256)

    async def _verdict(self, manifest: SipManifest) -> tuple[SipAccepted | SipRejected, bool]:
        """Store or reject the SIP; return the reply and whether to keep its chunks."""
        try:
            stored = await self._accept(manifest)
        except RejectedSipError as exc:
            _log.warning("sip_rejected", codes=exc.codes)
            rejected = SipRejected(
                message_id=new_message_id(),
                sender=_SENDER,
                sent_at=utc_now(),
                sip_name=manifest.sip_name,
                ico=manifest.ico,
                sha256=manifest.sha256,
                failures=exc.failures,
            )
            # Chunks that did arrive stay for the re-send; any other verdict is final.
            return rejected, isinstance(exc, IncompleteSipError)
        placeholders = await run_blocking(package_placeholders, stored.path)
        accepted = SipAccepted(
            message_id=new_message_id(),
            sender=_SENDER,
            sent_at=utc_now(),
            sip_name=manifest.sip_name,
            ico=manifest.ico,
            sha256=stored.sha256,
            archive_id=stored.archive_id,
            # The receipt tells the obec which values of the stored package are
            # placeholders for what its registry lacked, as the package itself lists them.
            placeholders=placeholders,
        )
        if set(placeholders) != set(manifest.placeholders):
            _log.warning(
                "sip_placeholders_differ_from_manifest",
                package=len(placeholders),
                manifest=len(manifest.placeholders),
            )
        elif placeholders:
            _log.info("sip_accepted_with_placeholders", placeholders=len(placeholders))
        return accepted, False

    async def _accept(self, manifest: SipManifest) -> StoredPackage:
        existing = await run_blocking(self._store.lookup, manifest.ico, manifest.sip_name)
        if existing is not None:
            if existing.sha256 != manifest.sha256:
                raise self._store.conflict(existing, manifest.sha256)
            _log.info("sip_redelivered", archive_id=existing.archive_id)
            return existing
        missing = await run_blocking(self._staging.check_manifest, manifest)
        if missing:
            raise self._staging.incomplete(manifest, missing)
        stored, created = await run_blocking(self._assemble_and_store, manifest)
        _log.info(
            "sip_stored" if created else "sip_redelivered",
            archive_id=stored.archive_id,
            size=stored.size,
            sha256=stored.sha256,
        )
        return stored

    def _assemble_and_store(self, manifest: SipManifest) -> tuple[StoredPackage, bool]:
        """Reassemble, verify, validate and store; blocking, runs in a worker thread."""
        with self._store.work_file(manifest.sip_name) as path:
            self._staging.reassemble(manifest, path)
            # reassemble() has just verified the bytes against manifest.sha256.
            report = validate_sip(path, tools=self._tools, sha256=manifest.sha256)
            if not report.ok:
                raise InvalidSipError([_wire_failure(f) for f in report.failures])
            return self._store.store(
                manifest.ico, manifest.sip_name, path, manifest.sha256, manifest.size
            )

    def _outgoing(
        self, body: bytes, *, kind: str, headers: dict[str, Any], **properties: Any
    ) -> aio_pika.Message:
        return aio_pika.Message(
            body,
            headers={names.HEADER_KIND: kind, names.HEADER_SCHEMA_VERSION: 1, **headers},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            user_id=self._user_id,
            timestamp=utc_now(),
            type=kind,
            **properties,
        )

    async def _reply(
        self, route: Route, reply: SipAccepted | SipRejected, *, correlation_id: str
    ) -> None:
        """Publish the verdict and wait for the broker's confirm, retrying if unroutable."""
        assert self._replies is not None
        kind = kind_of(reply)
        routing_key = names.archive_routing_key(route.orp, reply.ico, kind)
        message = self._outgoing(
            encode(reply),
            kind=kind,
            headers={},
            message_id=reply.message_id,
            correlation_id=correlation_id,
            content_type="application/json",
        )
        delay = 0.5
        while True:
            try:
                await self._replies.publish(message, routing_key, mandatory=True, timeout=30)
            except PublishError:
                # No hub reply queue (or shovel) is bound yet: the verdict must not be
                # lost, so the manifest stays unacked until the reply can be routed.
                _log.error("reply_unroutable", reply_routing_key=routing_key, retry_in_s=delay)
            else:
                _log.info("reply_confirmed", kind=kind, reply_routing_key=routing_key)
                return
            if self._stopping.is_set():
                raise _AbandonedError("shutting down with an unroutable reply")
            await self._pause_for(delay)
            delay = min(delay * 2, _REPLY_RETRY_MAX_S)

    async def _pause_for(self, seconds: float) -> None:
        # A disk failure or a missing reply queue would fail again at once; wait first.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _dead_letter(self, message: AbstractIncomingMessage, error: DeadLetterError) -> None:
        """Publish a copy of `message` with the reason to `spisync.dead`, confirmed."""
        assert self._dead is not None
        log = _log.error if error.security else _log.warning
        log(
            "security_event_dead_lettered" if error.security else "message_dead_lettered",
            reason=error.reason,
            detail=error.detail,
            sender_user=message.user_id,
        )
        original = dict(message.headers)
        kind = str(message.type or original.get(names.HEADER_KIND) or "unknown")
        copy = self._outgoing(
            message.body,
            kind=kind,
            headers={
                **original,
                names.HEADER_REJECT_REASON: error.reason,
                names.HEADER_REJECT_DETAIL: error.detail[:_DETAIL_MAX],
                "x-spisync-original-user-id": message.user_id or "",
                "x-spisync-original-queue": names.ARCHIVE_INBOX_QUEUE,
            },
            message_id=message.message_id,
            content_type=message.content_type,
        )
        await self._dead.publish(copy, message.routing_key or "", mandatory=True, timeout=30)
