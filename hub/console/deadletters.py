"""The dead-letter desk: keeps what lands in `spisync.dead`, replays or discards it on request.

Why keep them in the metadata store instead of browsing the queue: browsing a
quorum queue means taking messages and handing them back, and RabbitMQ 4.x
counts such returns against the queue's delivery limit, so looking at a dead
letter often enough would drop it. Taken off the queue (acknowledged only
once stored), a dead letter has a stable id that every hub process agrees on;
replay and discard are compare-and-set moves of its state, so two operators
clicking the same one settle it once.

A replay publishes the kept message again to the exchange and routing key it
was first published with, as the hub's own broker user (no one else's
`user_id` can be sent), marked with `x-spisync-replay-of` and the original
publisher in `x-spisync-original-user-id`; `hub.identity.check_user` accepts
exactly that from a non-agent user. Security events are never replayed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import aio_pika
import structlog

from hub import audit
from hub.deadletter import HEADER_ORIGINAL_ROUTING_KEY, HEADER_ORIGINAL_USER_ID, HEADER_QUEUE
from hub.identity import SECURITY_REASONS
from hub.store.deadletters import NewDeadLetter
from protocol import names, utc_now
from spisync.broker import declare_core, run_sessions

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

    from hub.config import HubConfig
    from hub.store.deadletters import DeadLetter
    from hub.store.metadata import MetadataStore
    from spisync.broker.session import Session

__all__ = [
    "MAX_KEPT_BODY",
    "DeadLetterDesk",
    "ReplayOutcome",
    "json_safe",
    "kept_letter",
]

log = structlog.get_logger(__name__)

MAX_KEPT_BODY = 2 * names.MAX_CHUNK_SIZE
"""Bodies above this are not kept (such a message cannot be replayed; its headers are)."""

_STALE_CLAIM = timedelta(minutes=5)
_DROPPED_ON_REPLAY = (
    names.HEADER_REJECT_REASON,
    names.HEADER_REJECT_DETAIL,
    HEADER_ORIGINAL_ROUTING_KEY,
    HEADER_ORIGINAL_USER_ID,
    HEADER_QUEUE,
    names.HEADER_SECURITY_EVENT,
    "x-spisync-original-size",
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)


def json_safe(value: Any) -> Any:  # noqa: PLR0911 - one return per AMQP value type
    """Return an AMQP header value as JSON-safe data (bytes as text, times as ISO 8601)."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _text(value: Any) -> str | None:
    value = json_safe(value)
    return value if isinstance(value, str) and value else None


def kept_letter(message: AbstractIncomingMessage) -> NewDeadLetter:
    """Describe a message taken off `spisync.dead` as it will be kept.

    Two kinds arrive: the hub's own copies (reason in `x-spisync-reject-reason`,
    published to the ingest exchange under `x-spisync-original-routing-key`),
    and messages the broker dead-lettered itself (`x-death`, e.g. a delivery
    that crashed the hub until the queue's delivery limit).
    """
    headers = json_safe(dict(message.headers or {}))
    deaths = headers.get("x-death") or [{}]
    first = deaths[-1] if isinstance(deaths, list) and deaths else {}
    broker_reason = _text(headers.get("x-first-death-reason")) or _text(first.get("reason"))
    reason = _text(headers.get(names.HEADER_REJECT_REASON))
    queue = _text(headers.get(HEADER_QUEUE)) or _text(headers.get("x-first-death-queue"))
    if reason is not None:
        detail = _text(headers.get(names.HEADER_REJECT_DETAIL)) or ""
        exchange: str | None = names.INGEST_EXCHANGE
        routing_key = _text(headers.get(HEADER_ORIGINAL_ROUTING_KEY))
        sender = _text(headers.get(HEADER_ORIGINAL_USER_ID)) or message.user_id
    else:
        reason = (broker_reason or "unknown").replace("-", "_")
        detail = f"dead-lettered by the broker from {queue or '?'} ({reason})"
        exchange = _text(headers.get("x-first-death-exchange")) or _text(first.get("exchange"))
        keys = first.get("routing-keys") if isinstance(first, dict) else None
        routing_key = keys[0] if isinstance(keys, list) and keys else message.routing_key
        sender = message.user_id
    died = first.get("time") if isinstance(first, dict) else None
    dead_at = datetime.fromisoformat(died) if isinstance(died, str) else utc_now()
    properties = {
        "content_type": message.content_type,
        "type": message.type,
        "message_id": message.message_id,
        "user_id": message.user_id,
        "timestamp": message.timestamp.astimezone(UTC).isoformat() if message.timestamp else None,
    }
    body = message.body if len(message.body) <= MAX_KEPT_BODY else b""
    fingerprint = hashlib.sha256(
        json.dumps([properties, headers], sort_keys=True).encode() + b"\0" + message.body
    ).hexdigest()
    return NewDeadLetter(
        fingerprint=fingerprint,
        message_id=message.message_id,
        ico=names.ico_of_queue(queue),
        reason=reason,
        detail=detail,
        security=reason in SECURITY_REASONS or headers.get(names.HEADER_SECURITY_EVENT) is True,
        sender=sender,
        exchange=exchange,
        routing_key=routing_key,
        dead_at=dead_at if dead_at.tzinfo else dead_at.replace(tzinfo=UTC),
        properties=properties,
        headers=headers,
        body=body,
        body_size=len(message.body),
    )


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """What a replay or discard did: `ok`, or why not (in Czech, for the operator)."""

    ok: bool
    message: str


class DeadLetterDesk:
    """Takes dead letters into the store and replays or discards them.

    Args:
        config: The hub's configuration.
        store: The hub's metadata store.
        instance: This hub process's name (connection names, claims).
    """

    def __init__(self, config: HubConfig, store: MetadataStore, *, instance: str) -> None:
        self._config = config
        self._store = store
        self._instance = instance
        self._channel: AbstractChannel | None = None
        self.connected = asyncio.Event()

    async def run(self, shutdown: asyncio.Event) -> None:
        """Keep dead letters until `shutdown` is set, reconnecting when the broker goes away."""
        config = self._config
        await run_sessions(
            config.broker,
            lambda session: self._session(session, shutdown),
            shutdown,
            name=f"spisync-console {config.hub.orp} {self._instance}",
            link="hub_console",
        )

    async def _session(self, session: Session, shutdown: asyncio.Event) -> None:
        connection = session.connection
        try:
            setup = await connection.channel()
            await declare_core(setup)
            await setup.close()
            channel = await connection.channel(publisher_confirms=True)
            session.watch(channel, "console publish")
            consume = await connection.channel()
            session.watch(consume, "dead-letter")
            await consume.set_qos(prefetch_count=32)
            queue = await consume.get_queue(names.DEAD_LETTER_QUEUE, ensure=False)
            await queue.consume(self._keep)
            self._channel = channel
            self.connected.set()
            await shutdown.wait()
        finally:
            self.connected.clear()
            self._channel = None

    async def _keep(self, message: AbstractIncomingMessage) -> None:
        try:
            letter = kept_letter(message)
            letter_id = await self._store.dead_letters.add(letter)
        except Exception as exc:
            log.error("dead_letter_not_kept", error=f"{type(exc).__name__}: {exc}")
            await message.nack(requeue=True)
            return
        await message.ack()
        if letter_id is not None:
            log.info(
                "dead_letter_kept",
                id=letter_id,
                reason=letter.reason,
                ico=letter.ico,
                security=letter.security,
                message_id=letter.message_id,
            )

    async def replay(self, letter_id: int, actor: str) -> ReplayOutcome:
        """Publish a kept dead letter again to where it was first sent; audit the outcome."""
        current = await self._store.dead_letters.get(letter_id)
        ico = current.letter.ico if current else None
        outcome = await self._replay(current, letter_id, actor)
        result = audit.RESULT_OK if outcome.ok else audit.error_result(outcome.message)
        await audit.record(
            self._store,
            actor,
            "dead_letter_replay",
            ico,
            self._describe(current, letter_id),
            result,
        )
        return outcome

    async def _replay(  # noqa: PLR0911 - each refusal is its own answer
        self, current: DeadLetter | None, letter_id: int, actor: str
    ) -> ReplayOutcome:
        if current is None:
            return ReplayOutcome(ok=False, message="takový nedoručitelný záznam neexistuje")
        if current.letter.security:
            return ReplayOutcome(ok=False, message="bezpečnostní událost nelze znovu odeslat")
        if not current.replayable:
            return ReplayOutcome(
                ok=False, message="zprávu nelze znovu odeslat (chybí tělo nebo cíl)"
            )
        channel = self._channel
        if channel is None:
            return ReplayOutcome(ok=False, message="konzole není připojena k brokeru")
        claimed = await self._store.dead_letters.claim(
            letter_id, actor, stale_before=utc_now() - _STALE_CLAIM
        )
        if claimed is None:
            return ReplayOutcome(ok=False, message="záznam už vyřídil někdo jiný")
        letter = claimed.letter
        headers = {k: v for k, v in letter.headers.items() if k not in _DROPPED_ON_REPLAY}
        headers[names.HEADER_REPLAY_OF] = str(letter_id)
        headers[HEADER_ORIGINAL_USER_ID] = letter.sender or ""
        timestamp = letter.properties.get("timestamp")
        message = aio_pika.Message(
            letter.body,
            headers=headers,
            content_type=letter.properties.get("content_type"),
            type=letter.properties.get("type"),
            message_id=letter.message_id,
            timestamp=datetime.fromisoformat(timestamp) if timestamp else None,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            user_id=self._config.broker.username,
        )
        try:
            exchange = await channel.get_exchange(letter.exchange or "", ensure=False)
            await exchange.publish(message, routing_key=letter.routing_key or "", mandatory=True)
        except Exception as exc:
            await self._store.dead_letters.settle(letter_id, actor, "waiting", expect="replaying")
            log.warning("dead_letter_replay_failed", id=letter_id, error=str(exc))
            return ReplayOutcome(ok=False, message=f"odeslání selhalo: {exc}")
        await self._store.dead_letters.settle(letter_id, actor, "replayed", expect="replaying")
        log.info("dead_letter_replayed", id=letter_id, routing_key=letter.routing_key, actor=actor)
        return ReplayOutcome(ok=True, message="zpráva byla znovu odeslána")

    async def discard(self, letter_id: int, actor: str) -> ReplayOutcome:
        """Mark a kept dead letter as discarded (it stays listed under history); audit it."""
        current = await self._store.dead_letters.get(letter_id)
        done = current is not None and await self._store.dead_letters.settle(
            letter_id, actor, "discarded", expect="waiting"
        )
        outcome = (
            ReplayOutcome(ok=True, message="záznam byl zahozen")
            if done
            else ReplayOutcome(ok=False, message="záznam neexistuje nebo už byl vyřízen")
        )
        await audit.record(
            self._store,
            actor,
            "dead_letter_discard",
            current.letter.ico if current else None,
            self._describe(current, letter_id),
            audit.RESULT_OK if outcome.ok else audit.error_result(outcome.message),
        )
        return outcome

    @staticmethod
    def _describe(letter: DeadLetter | None, letter_id: int) -> str:
        if letter is None:
            return f"dead letter {letter_id}"
        return (
            f"dead letter {letter_id}: message {letter.letter.message_id}, "
            f"reason {letter.letter.reason}, routing key {letter.letter.routing_key}"
        )
