"""What the hub publishes: replies to agents and dead-letter copies, all confirmed.

Every message is persistent, `mandatory`, and awaited until the broker's
publisher confirm; an unroutable one raises (`on_return_raises`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aio_pika

from hub.deadletter import dead_letter_copy
from protocol import (
    SCHEMA_VERSION,
    FileReceipt,
    FileReceipts,
    ReceiptEntry,
    encode,
    kind_of,
    names,
    new_message_id,
    utc_now,
)

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage

    from protocol import DiagnosticsRequest, NeedChunks, RecordReceipt

__all__ = ["AgentReply", "HubPublisher", "batch_file_receipts"]

AgentReply = tuple[str, "FileReceipt | FileReceipts | NeedChunks | RecordReceipt"]
"""A reply and the IČO of the agent it goes to."""


def batch_file_receipts(replies: list[AgentReply], *, sender: str) -> list[AgentReply]:
    """Merge the `FileReceipt`s to each agent into `FileReceipts` of at most `RECEIPTS_MAX`.

    For an agent that announced it understands them (`names.HEADER_RECEIPT_BATCHES`):
    one message for a bundle's files instead of one each. Other replies keep
    their order, ahead of the merged receipts.
    """
    others: list[AgentReply] = []
    receipts: dict[str, list[ReceiptEntry]] = {}
    for ico, reply in replies:
        if isinstance(reply, FileReceipt):
            entry = ReceiptEntry(path=reply.path, sha256=reply.sha256, source_seq=reply.source_seq)
            receipts.setdefault(ico, []).append(entry)
        else:
            others.append((ico, reply))
    for ico, entries in receipts.items():
        for start in range(0, len(entries), names.RECEIPTS_MAX):
            merged = FileReceipts(
                message_id=new_message_id(),
                sender=sender,
                sent_at=utc_now(),
                receipts=tuple(entries[start : start + names.RECEIPTS_MAX]),
            )
            others.append((ico, merged))
    return others


class HubPublisher:
    """Publishes on one confirming channel; create it with `HubPublisher.open`.

    Args:
        agent_exchange: `spisync.agent`.
        dead_exchange: `spisync.dead`.
        hub_user: The hub's broker user (`user_id` of everything it publishes).
        sender: The `sender` of the hub's messages (`hub:<orp>`).
    """

    def __init__(
        self,
        agent_exchange: AbstractExchange,
        dead_exchange: AbstractExchange,
        *,
        hub_user: str,
        sender: str,
    ) -> None:
        self._agent_exchange = agent_exchange
        self._dead_exchange = dead_exchange
        self._hub_user = hub_user
        self.sender = sender

    @classmethod
    async def open(cls, channel: AbstractChannel, *, hub_user: str, orp: str) -> HubPublisher:
        """Bind a publisher to `channel` (opened with publisher confirms and `on_return_raises`)."""
        agent_exchange = await channel.get_exchange(names.AGENT_EXCHANGE, ensure=False)
        dead_exchange = await channel.get_exchange(names.DEAD_LETTER_EXCHANGE, ensure=False)
        return cls(agent_exchange, dead_exchange, hub_user=hub_user, sender=f"hub:{orp}")

    def new_envelope(self) -> dict[str, object]:
        """Return the envelope fields of a new hub message (id, sender, time)."""
        return {"message_id": new_message_id(), "sender": self.sender, "sent_at": utc_now()}

    async def send_to_agent(
        self,
        ico: str,
        reply: FileReceipt | FileReceipts | NeedChunks | RecordReceipt | DiagnosticsRequest,
        *,
        expiration_s: float | None = None,
    ) -> None:
        """Publish `reply` to obec `ico`'s inbox and wait for the confirm.

        Args:
            ico: The obec.
            reply: The message.
            expiration_s: A time to live: the broker drops the message if it is
                still in the inbox after that many seconds.

        Raises:
            aio_pika.exceptions.DeliveryError: If the broker returned or refused it.
        """
        kind = kind_of(reply)
        message = aio_pika.Message(
            encode(reply),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=reply.message_id,
            type=kind,
            timestamp=reply.sent_at,
            user_id=self._hub_user,
            headers={names.HEADER_KIND: kind, names.HEADER_SCHEMA_VERSION: SCHEMA_VERSION},
            expiration=expiration_s,
        )
        await self._agent_exchange.publish(
            message, routing_key=names.agent_routing_key(ico, kind), mandatory=True
        )

    async def dead_letter(
        self,
        message: AbstractIncomingMessage,
        *,
        queue: str,
        reason: str,
        detail: str,
        security: bool = False,
    ) -> None:
        """Publish a copy of `message` (from `queue`) with the reason to `spisync.dead`."""
        copy = dead_letter_copy(
            message,
            queue=queue,
            reason=reason,
            detail=detail,
            hub_user=self._hub_user,
            security=security,
        )
        await self._dead_exchange.publish(copy, routing_key=queue, mandatory=True)
