"""Dead letters kept in the metadata store: every hub process sees and settles the same ones.

The console takes each message off `spisync.dead` (acknowledging it only once
it is stored) and keeps it here with its headers and body. Replaying or
discarding one is a compare-and-set on its `state`: of two operators (or two
hub processes) acting on the same dead letter, exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["DeadLetter", "DeadLetterState", "DeadLetters", "NewDeadLetter"]

DeadLetterState = Literal["waiting", "replaying", "replayed", "discarded"]
"""waiting → replaying (claimed by one process) → replayed; or waiting → discarded."""


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    """A message taken off `spisync.dead`, as it is stored.

    Attributes:
        fingerprint: SHA-256 of its properties, headers and body: the same
            message taken twice (after a crash before the ack) is stored once.
        message_id: The original message's id.
        ico: The obec whose queue it came from, if known.
        reason: Why it was dead-lettered (`undecodable`, `user_mismatch`, `delivery_limit`...).
        detail: The human-readable detail.
        security: Whether it is a security event (forged or refused identity).
        sender: The original publisher's broker user.
        exchange: Where it was published, to replay it.
        routing_key: With which routing key.
        dead_at: When it was dead-lettered.
        properties: Its AMQP properties (content_type, type, timestamp, ...).
        headers: Its headers, as JSON-safe values.
        body: Its body (empty when it was too large to keep).
        body_size: The original body's size.
    """

    fingerprint: str
    message_id: str | None
    ico: str | None
    reason: str
    detail: str
    security: bool
    sender: str | None
    exchange: str | None
    routing_key: str | None
    dead_at: datetime
    properties: dict[str, Any]
    headers: dict[str, Any]
    body: bytes
    body_size: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stored dead letter with its id and state."""

    id: int
    letter: NewDeadLetter
    state: DeadLetterState
    state_by: str | None
    state_at: datetime | None

    @property
    def replayable(self) -> bool:
        """Whether it may be replayed: not a security event, kept whole, destination known."""
        letter = self.letter
        return (
            not letter.security
            and len(letter.body) == letter.body_size
            and bool(letter.exchange)
            and bool(letter.routing_key)
        )


class DeadLetters(Protocol):
    """The dead letters the console took off `spisync.dead`."""

    async def add(self, letter: NewDeadLetter) -> int | None:
        """Store a dead letter as `waiting`; return its id, None if it was stored before."""
        ...

    async def get(self, letter_id: int) -> DeadLetter | None:
        """Return one dead letter."""
        ...

    async def letters(
        self,
        *,
        security: bool | None = None,
        states: tuple[DeadLetterState, ...] = ("waiting", "replaying"),
        ico: str | None = None,
        limit: int = 200,
    ) -> list[DeadLetter]:
        """Return dead letters, newest first."""
        ...

    async def counts(self) -> dict[tuple[str, bool, str], int]:
        """Return how many dead letters there are by (reason, security, state)."""
        ...

    async def claim(
        self, letter_id: int, actor: str, *, stale_before: datetime
    ) -> DeadLetter | None:
        """Move a `waiting` letter (or one `replaying` since before `stale_before`) to `replaying`.

        Returns:
            The letter if this call claimed it; None if another process has it or it is settled.
        """
        ...

    async def settle(
        self, letter_id: int, actor: str, state: DeadLetterState, *, expect: DeadLetterState
    ) -> bool:
        """Move a letter from `expect` to `state`; False if it was not in `expect`."""
        ...
