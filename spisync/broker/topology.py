"""The broker topology of DESIGN.md, declared from code and exported as definitions.

Agents declare nothing (their configure permission is empty); the hub and the
provisioning command declare everything here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiormq
import structlog
from aio_pika import ExchangeType

from protocol import names

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel

__all__ = [
    "DEAD_LETTER_MAX_BYTES",
    "DEAD_LETTER_MAX_LENGTH",
    "EXCHANGES",
    "declare_archive",
    "declare_core",
    "declare_obec",
    "quorum_arguments",
    "static_definitions",
]

log = structlog.get_logger(__name__)

EXCHANGES: dict[str, ExchangeType] = {
    names.INGEST_EXCHANGE: ExchangeType.TOPIC,
    names.AGENT_EXCHANGE: ExchangeType.TOPIC,
    names.ARCHIVE_EXCHANGE: ExchangeType.TOPIC,
    names.ARCHIVE_REPLY_EXCHANGE: ExchangeType.TOPIC,
    names.DEAD_LETTER_EXCHANGE: ExchangeType.FANOUT,
}


def quorum_arguments(*, single_active_consumer: bool) -> dict[str, Any]:
    """Arguments of every queue but the dead-letter one.

    Quorum queues replicate in a cluster; the explicit delivery limit turns a
    message that crashes its consumer again and again into a dead letter
    instead of a queue that never moves.
    """
    arguments: dict[str, Any] = {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": names.DEAD_LETTER_EXCHANGE,
        "x-delivery-limit": names.DEFAULT_DELIVERY_LIMIT,
    }
    if single_active_consumer:
        arguments["x-single-active-consumer"] = True
    return arguments


DEAD_LETTER_MAX_LENGTH = 100_000
"""Most messages `spisync.dead` holds."""
DEAD_LETTER_MAX_BYTES = 2 * 1024 * 1024 * 1024
"""Most body bytes `spisync.dead` holds."""

# `reject-publish`: a full dead-letter queue refuses new dead letters rather
# than dropping the oldest. What lands there is invalid by definition (refused
# with a reason, or failing the hub again and again), so nothing valid depends
# on it; keeping the oldest keeps the evidence of the first trouble, and an
# obec that floods it cannot push out what was dead-lettered before. The hub
# logs every refused copy with its reason (`dead_letter_refused`).
_DEAD_QUEUE_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "quorum",
    "x-max-length": DEAD_LETTER_MAX_LENGTH,
    "x-max-length-bytes": DEAD_LETTER_MAX_BYTES,
    "x-overflow": "reject-publish",
}


async def declare_core(channel: AbstractChannel) -> None:
    """Declare the exchanges and the dead-letter queue.

    A `spisync.dead` declared by an older version without its limits is kept
    as it is (RabbitMQ cannot change a queue's arguments; a warning says how
    to bound it): the hub must run either way.
    """
    for name, kind in EXCHANGES.items():
        await channel.declare_exchange(name, kind, durable=True)
    try:
        dead = await channel.declare_queue(
            names.DEAD_LETTER_QUEUE, durable=True, arguments=_DEAD_QUEUE_ARGUMENTS
        )
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        log.warning(
            "dead_letter_queue_unbounded",
            queue=names.DEAD_LETTER_QUEUE,
            error=str(exc),
            fix="drain the queue, delete it and restart the hub, or apply a policy with "
            f"max-length {DEAD_LETTER_MAX_LENGTH}, max-length-bytes {DEAD_LETTER_MAX_BYTES}, "
            "overflow reject-publish",
        )
        await channel.reopen()
        dead = await channel.get_queue(names.DEAD_LETTER_QUEUE, ensure=False)
    await dead.bind(names.DEAD_LETTER_EXCHANGE, routing_key="#")


async def declare_obec(channel: AbstractChannel, ico: str, token: str) -> None:
    """Declare obec `ico`'s hub queue and agent inbox with their bindings.

    Args:
        channel: A channel of a user that may configure.
        ico: The obec.
        token: Its queue token (`protocol.names.obec_token`).
    """
    hub_queue = await channel.declare_queue(
        names.hub_queue(ico, token),
        durable=True,
        arguments=quorum_arguments(single_active_consumer=True),
    )
    await hub_queue.bind(names.INGEST_EXCHANGE, routing_key=names.ingest_binding(ico))
    inbox = await channel.declare_queue(
        names.agent_queue(ico, token),
        durable=True,
        arguments=quorum_arguments(single_active_consumer=False),
    )
    await inbox.bind(names.AGENT_EXCHANGE, routing_key=names.agent_routing_key(ico, "#"))


async def declare_archive(channel: AbstractChannel, orp: str) -> None:
    """Declare the archive's inbox and the hub's queue for the archive's replies."""
    inbox = await channel.declare_queue(
        names.ARCHIVE_INBOX_QUEUE,
        durable=True,
        arguments=quorum_arguments(single_active_consumer=True),
    )
    await inbox.bind(names.ARCHIVE_EXCHANGE, routing_key="orp.#")
    replies = await channel.declare_queue(
        names.archive_reply_queue(orp),
        durable=True,
        arguments=quorum_arguments(single_active_consumer=True),
    )
    await replies.bind(names.ARCHIVE_REPLY_EXCHANGE, routing_key=f"orp.{orp}.#")


def static_definitions(vhost: str = "/") -> dict[str, Any]:
    """Return the static topology in RabbitMQ's definitions-file format.

    Per-obec queues are not static: `spisync hub provision-agent` creates them.
    """
    exchanges: list[dict[str, Any]] = [
        {
            "name": name,
            "vhost": vhost,
            "type": kind.value,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        for name, kind in EXCHANGES.items()
    ]
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": exchanges,
        "queues": [
            {
                "name": names.DEAD_LETTER_QUEUE,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": _DEAD_QUEUE_ARGUMENTS,
            },
            {
                "name": names.ARCHIVE_INBOX_QUEUE,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": quorum_arguments(single_active_consumer=True),
            },
        ],
        "bindings": [
            {
                "source": names.DEAD_LETTER_EXCHANGE,
                "vhost": vhost,
                "destination": names.DEAD_LETTER_QUEUE,
                "destination_type": "queue",
                "routing_key": "#",
                "arguments": {},
            },
            {
                "source": names.ARCHIVE_EXCHANGE,
                "vhost": vhost,
                "destination": names.ARCHIVE_INBOX_QUEUE,
                "destination_type": "queue",
                "routing_key": "orp.#",
                "arguments": {},
            },
        ],
    }
