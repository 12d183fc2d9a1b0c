"""The archive's inbox: its declaration and the routing keys it accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archive.errors import DeadLetterError
from protocol import is_valid_ico, names
from spisync.broker import declare_core
from spisync.broker.topology import quorum_arguments

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractQueue

__all__ = ["KINDS", "Route", "declare_inbox", "parse_routing_key"]

KINDS = frozenset({"chunk", "sip_manifest"})
"""The kinds of message the archive takes."""

_ORP = re.compile(r"[a-z0-9-]{1,40}")


@dataclass(frozen=True, slots=True)
class Route:
    """What the routing key `orp.<orp>.<ičo>.<kind>` says.

    Attributes:
        orp: The ORP whose hub sent the message (replies go back to it).
        ico: The obec the message is about.
        kind: `chunk` or `sip_manifest`.
    """

    orp: str
    ico: str
    kind: str


def parse_routing_key(routing_key: str) -> Route:
    """Split an inbox routing key.

    Raises:
        DeadLetterError: If it is not `orp.<orp>.<ičo>.<kind>` with a known kind.
    """
    parts = routing_key.split(".")
    if (
        len(parts) != 4
        or parts[0] != "orp"
        or not _ORP.fullmatch(parts[1])
        or not is_valid_ico(parts[2])
    ):
        raise DeadLetterError("bad-routing-key", f"{routing_key!r} is not orp.<orp>.<ičo>.<kind>")
    if parts[3] not in KINDS:
        raise DeadLetterError("unknown-kind", f"the archive takes no {parts[3]!r} messages")
    return Route(orp=parts[1], ico=parts[2], kind=parts[3])


async def declare_inbox(channel: AbstractChannel) -> AbstractQueue:
    """Declare the exchanges, the dead-letter queue and `archive.inbox` with its binding.

    Unlike `spisync.broker.declare_archive` this declares no hub reply queue:
    those belong to the hubs (on the region's broker, to the return shovels).
    """
    await declare_core(channel)
    inbox = await channel.declare_queue(
        names.ARCHIVE_INBOX_QUEUE,
        durable=True,
        arguments=quorum_arguments(single_active_consumer=True),
    )
    await inbox.bind(names.ARCHIVE_EXCHANGE, routing_key="orp.#")
    return inbox
