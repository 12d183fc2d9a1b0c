"""The broker topology of DESIGN.md, declared from code and exported as definitions.

Agents declare nothing (their configure permission is empty); the hub and the
provisioning command declare everything here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aio_pika import ExchangeType

from protocol import names

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel

__all__ = [
    "EXCHANGES",
    "declare_archive",
    "declare_core",
    "declare_obec",
    "quorum_arguments",
    "static_definitions",
]

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


_DEAD_QUEUE_ARGUMENTS: dict[str, Any] = {"x-queue-type": "quorum"}


async def declare_core(channel: AbstractChannel) -> None:
    """Declare the exchanges and the dead-letter queue."""
    for name, kind in EXCHANGES.items():
        await channel.declare_exchange(name, kind, durable=True)
    dead = await channel.declare_queue(
        names.DEAD_LETTER_QUEUE, durable=True, arguments=_DEAD_QUEUE_ARGUMENTS
    )
    await dead.bind(names.DEAD_LETTER_EXCHANGE, routing_key="#")


async def declare_obec(channel: AbstractChannel, ico: str) -> None:
    """Declare obec `ico`'s hub queue and agent inbox with their bindings."""
    hub_queue = await channel.declare_queue(
        names.hub_queue(ico),
        durable=True,
        arguments=quorum_arguments(single_active_consumer=True),
    )
    await hub_queue.bind(names.INGEST_EXCHANGE, routing_key=names.ingest_binding(ico))
    inbox = await channel.declare_queue(
        names.agent_queue(ico),
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
