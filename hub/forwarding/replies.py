"""The archive's verdicts on `hub.archive-reply.<orp>`: archive, re-send, or record the failure.

- `SipAccepted` whose SHA-256 is the recorded SIP's: the SIP becomes
  `accepted` with its archive id, the spis `archived`. Several acceptances of
  one SIP (re-sends, redeliveries) change nothing more. An acceptance carrying
  another SHA-256 is an integrity event: logged, recorded as a failure, and
  nothing is archived (nor ever released on its account).
- `SipRejected` with only `SIP-INCOMPLETE`: the chunks it names
  (`location = "chunks:2,5"`) are queued to be sent again with the manifest.
- any other `SipRejected` (including `SIP-CONFLICT`: the name is taken by
  other bytes): final for these bytes; the SIP becomes `rejected` with every
  failure, which `hub spisy` shows. Nothing is released.

A reply is acknowledged once its effect is committed. A reply that is not
`orp.<our orp>.<ičo>.<kind>` with a matching body is dead-lettered and logged
as a security event.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from hub.store.models import SipFailure
from protocol import DecodeError, SipAccepted, SipRejected, decode, kind_of, names, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable

    from aio_pika.abc import AbstractIncomingMessage

    from hub.store.metadata import MetadataStore
    from hub.store.models import SipRow

__all__ = ["HUB_SHA256_MISMATCH", "SIP_INCOMPLETE", "ReplyHandler", "parse_chunk_location"]

log = structlog.get_logger(__name__)

_FAILURE_PAUSE_S = 2.0

SIP_INCOMPLETE = "SIP-INCOMPLETE"
HUB_SHA256_MISMATCH = "HUB-SHA256-MISMATCH"
"""The archive confirmed a SIP with a SHA-256 other than the one the hub built."""


class _RefusedReplyError(Exception):
    """A reply that does not check out; dead-lettered."""


def parse_chunk_location(location: str) -> list[int] | None:
    """Return the indexes of `chunks:2,5` (also `chunks:2-4`), or None if not of that form."""
    prefix = "chunks:"
    if not location.startswith(prefix):
        return None
    indexes: list[int] = []
    try:
        for part in location.removeprefix(prefix).split(","):
            if not part.strip():
                continue
            first, _, last = part.strip().partition("-")
            indexes.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        return None
    return indexes


class ReplyHandler:
    """Applies the archive's replies to the SIP ledger and the spis states.

    Args:
        store: The metadata store.
        orp: This hub's ORP.
        wake: Tells the forwarder there is something to (re-)send.
    """

    def __init__(self, store: MetadataStore, *, orp: str, wake: Callable[[], None]) -> None:
        self._store = store
        self._orp = orp
        self._wake = wake

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Handle one delivery and settle it."""
        try:
            reply = self._check(message)
        except _RefusedReplyError as exc:
            log.error(
                "security_event_archive_reply_refused",
                reason=str(exc),
                routing_key=message.routing_key,
                sender_user=message.user_id,
            )
            await message.reject(requeue=False)
            return
        try:
            await self.apply(reply)
        except Exception:
            # The database failed: give it back; the queue's delivery limit stops a loop.
            log.exception("archive_reply_failed", sip_name=reply.sip_name)
            await asyncio.sleep(_FAILURE_PAUSE_S)
            await message.nack(requeue=True)
            return
        await message.ack()

    def _check(self, message: AbstractIncomingMessage) -> SipAccepted | SipRejected:
        parts = (message.routing_key or "").split(".")
        if len(parts) != 4 or parts[0] != "orp" or parts[1] != self._orp:
            raise _RefusedReplyError("routing key is not orp.<this orp>.<ičo>.<kind>")
        try:
            reply = decode(message.body)
        except DecodeError as exc:
            raise _RefusedReplyError(f"undecodable: {exc}") from None
        if not isinstance(reply, SipAccepted | SipRejected):
            raise _RefusedReplyError(f"unexpected kind {kind_of(reply)!r}")
        header = message.headers.get(names.HEADER_KIND)
        header = header.decode() if isinstance(header, bytes) else header
        if parts[3] != kind_of(reply) or (header is not None and header != parts[3]):
            raise _RefusedReplyError("kind in routing key, header and body disagree")
        if reply.ico != parts[2]:
            raise _RefusedReplyError("the body names another obec than the routing key")
        return reply

    async def apply(self, reply: SipAccepted | SipRejected) -> None:
        """Apply one verdict (idempotent)."""
        bound = log.bind(ico=reply.ico, sip_name=reply.sip_name)
        row = await self._store.sips.sip(reply.sip_name)
        if row is None or row.ico != reply.ico:
            bound.warning("archive_reply_for_unknown_sip", reply_kind=kind_of(reply))
            return
        if isinstance(reply, SipAccepted):
            await self._accepted(row, reply, bound)
        else:
            await self._rejected(row, reply, bound)

    async def _accepted(
        self, row: SipRow, reply: SipAccepted, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        if reply.sha256 != row.sha256:
            bound.error(
                "security_event_sip_sha256_mismatch",
                built=row.sha256,
                confirmed=reply.sha256,
                archive_id=reply.archive_id,
            )
            await self._store.sips.add_failure(
                row.name,
                SipFailure(
                    HUB_SHA256_MISMATCH,
                    f"the archive confirmed SHA-256 {reply.sha256}, the hub built {row.sha256}",
                    reply.archive_id,
                ),
            )
            return
        if not await self._store.sips.mark_accepted(
            row.name, archive_id=reply.archive_id, at=utc_now()
        ):
            bound.warning("archive_acceptance_ignored", sip_state=row.state)
            return
        assert row.sha256 is not None
        # The acceptance may overtake the forwarder's own bookkeeping of the manifest's confirm.
        await self._store.mark_forwarded(
            row.ico, row.spis_id, row.closing_seq, sip_name=row.name, sip_sha256=row.sha256
        )
        archived = await self._store.mark_archived(row.ico, row.spis_id, row.closing_seq)
        if row.state != "accepted":
            bound.info(
                "sip_archived",
                spis_id=row.spis_id,
                closing_seq=row.closing_seq,
                archive_id=reply.archive_id,
                spis_archived=archived,
                # The receipt's word on which values of the stored package are placeholders.
                placeholders=[f"{p.field} = {p.value}" for p in reply.placeholders],
            )

    async def _rejected(
        self, row: SipRow, reply: SipRejected, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        if reply.sha256 != row.sha256:
            bound.warning(
                "archive_rejection_of_other_bytes", built=row.sha256, rejected=reply.sha256
            )
            return
        failures = [SipFailure(f.code, f.message, f.location) for f in reply.failures]
        if failures and all(f.code == SIP_INCOMPLETE for f in failures):
            indexes: set[int] | None = set()
            for failure in failures:
                found = parse_chunk_location(failure.location)
                if found is None or indexes is None:
                    indexes = None
                else:
                    indexes.update(found)
            if await self._store.sips.request_resend(row.name, indexes or None):
                bound.warning("sip_incomplete_at_archive", resend=sorted(indexes or ()) or "all")
                self._wake()
            return
        if await self._store.sips.mark_rejected(row.name, failures):
            assert row.sha256 is not None
            await self._store.mark_forwarded(
                row.ico, row.spis_id, row.closing_seq, sip_name=row.name, sip_sha256=row.sha256
            )
            bound.error(
                "sip_rejected",
                spis_id=row.spis_id,
                codes=sorted({f.code for f in failures}),
                failures=[f"{f.code}: {f.message}" for f in failures][:20],
            )
        else:
            bound.warning("archive_rejection_ignored", sip_state=row.state)
