"""Dead-lettering with a reason: a copy of the delivery goes to `spisync.dead`.

The broker's own dead-lettering (reject without requeue) cannot add headers,
so the hub publishes a copy carrying `x-spisync-reject-reason` and
`x-spisync-reject-detail` (confirmed, persistent) and only then acknowledges
the original. A delivery that crashes the hub again and again is dead-lettered
by the broker itself when the queue's delivery limit is reached (`x-death`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aio_pika

from protocol import names

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage

__all__ = [
    "HEADER_ORIGINAL_ROUTING_KEY",
    "HEADER_ORIGINAL_SIZE",
    "HEADER_ORIGINAL_USER_ID",
    "HEADER_QUEUE",
    "MAX_DEAD_LETTER_BODY",
    "DeadLetterBudget",
    "dead_letter_copy",
]

HEADER_ORIGINAL_ROUTING_KEY = "x-spisync-original-routing-key"
HEADER_ORIGINAL_USER_ID = "x-spisync-original-user-id"
HEADER_ORIGINAL_SIZE = "x-spisync-original-size"
HEADER_QUEUE = "x-spisync-queue"

MAX_DEAD_LETTER_BODY = names.MAX_CHUNK_SIZE
"""Bodies above this are not copied (an oversized message would be oversized again)."""

_DETAIL_LIMIT = 1000


def dead_letter_copy(
    message: AbstractIncomingMessage,
    *,
    queue: str,
    reason: str,
    detail: str,
    hub_user: str,
    security: bool = False,
) -> aio_pika.Message:
    """Return the copy of `message` to publish to `spisync.dead`.

    Args:
        message: The rejected delivery.
        queue: The obec queue it came from.
        reason: Machine-readable reason.
        detail: Human-readable detail (truncated to 1000 characters).
        hub_user: The hub's broker user, the copy's `user_id`.
        security: Whether the rejection is a security event (marked in a header,
            so the console lists it apart and never replays it).
    """
    headers: dict[str, Any] = dict(message.headers or {})
    headers.update(
        {
            names.HEADER_REJECT_REASON: reason,
            names.HEADER_REJECT_DETAIL: detail[:_DETAIL_LIMIT],
            HEADER_ORIGINAL_ROUTING_KEY: message.routing_key or "",
            HEADER_ORIGINAL_USER_ID: message.user_id or "",
            HEADER_ORIGINAL_SIZE: len(message.body),
            HEADER_QUEUE: queue,
        }
    )
    if security:
        headers[names.HEADER_SECURITY_EVENT] = True
    body = message.body if len(message.body) <= MAX_DEAD_LETTER_BODY else b""
    return aio_pika.Message(
        body,
        headers=headers,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        timestamp=message.timestamp,
        user_id=hub_user,
    )


@dataclass
class DeadLetterBudget:
    """How many dead letters each obec may still put into the shared `spisync.dead`.

    `spisync.dead` is bounded (spisync.broker.topology) and shared: without a
    budget per obec, one obec sending garbage fills it and every other obec's
    dead letters are refused. Each obec's budget refills at `per_hour` an hour up
    to `per_hour`; a delivery over budget is still refused and logged, only its
    copy is not kept.

    Attributes:
        per_hour: Dead letters one obec may add an hour (and at once).
    """

    per_hour: int
    _tokens: dict[str, float] = field(default_factory=dict)
    _updated: dict[str, float] = field(default_factory=dict)

    def take(self, ico: str, now: float) -> bool:
        """Spend one of `ico`'s dead letters at monotonic time `now`; False when none is left."""
        last = self._updated.get(ico, now)
        tokens = min(
            float(self.per_hour),
            self._tokens.get(ico, float(self.per_hour)) + (now - last) * self.per_hour / 3600,
        )
        self._updated[ico] = now
        if tokens < 1:
            self._tokens[ico] = tokens
            return False
        self._tokens[ico] = tokens - 1
        return True
