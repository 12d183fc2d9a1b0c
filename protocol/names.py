"""Every name the broker knows us by: exchanges, queues, routing keys, headers, users.

One module so that the agent, the hub, the archive, provisioning and the
exported `packaging/rabbitmq/definitions.json` can never disagree.
"""

from __future__ import annotations

__all__ = [
    "AGENT_EXCHANGE",
    "ARCHIVE_EXCHANGE",
    "ARCHIVE_INBOX_QUEUE",
    "ARCHIVE_REPLY_EXCHANGE",
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_QUEUE",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_DELIVERY_LIMIT",
    "HEADER_CHUNK_INDEX",
    "HEADER_CHUNK_SHA256",
    "HEADER_KIND",
    "HEADER_OBJECT_SHA256",
    "HEADER_RECORD_RECEIPTS",
    "HEADER_REJECT_DETAIL",
    "HEADER_REJECT_REASON",
    "HEADER_REPLAY_OF",
    "HEADER_SCHEMA_VERSION",
    "HEADER_SECURITY_EVENT",
    "INGEST_EXCHANGE",
    "MAX_CHUNK_SIZE",
    "MAX_MESSAGE_BYTES",
    "MAX_METADATA_BYTES",
    "agent_queue",
    "agent_routing_key",
    "agent_username",
    "archive_reply_queue",
    "archive_routing_key",
    "default_user_prefix",
    "hub_queue",
    "hub_username",
    "ico_from_agent_username",
    "ingest_binding",
    "ingest_routing_key",
    "ingest_topic_pattern",
]

INGEST_EXCHANGE = "spisync.ingest"
AGENT_EXCHANGE = "spisync.agent"
ARCHIVE_EXCHANGE = "spisync.archive"
ARCHIVE_REPLY_EXCHANGE = "spisync.archive.reply"
DEAD_LETTER_EXCHANGE = "spisync.dead"
DEAD_LETTER_QUEUE = "spisync.dead"
ARCHIVE_INBOX_QUEUE = "archive.inbox"

HEADER_KIND = "x-spisync-kind"
HEADER_SCHEMA_VERSION = "x-spisync-schema"
HEADER_OBJECT_SHA256 = "x-spisync-object-sha256"
HEADER_CHUNK_INDEX = "x-spisync-chunk-index"
HEADER_CHUNK_SHA256 = "x-spisync-chunk-sha256"
HEADER_REJECT_REASON = "x-spisync-reject-reason"
HEADER_REJECT_DETAIL = "x-spisync-reject-detail"
HEADER_SECURITY_EVENT = "x-spisync-security-event"
"""On a dead letter: true when the hub refused it as a security event (never replayed)."""
HEADER_REPLAY_OF = "x-spisync-replay-of"
"""On a dead letter the console replays: the id under which the console kept it."""
HEADER_RECORD_RECEIPTS = "x-spisync-record-receipts"
"""On an agent's message: it understands `record_receipt`, so the hub confirms its
tombstones and registry messages (an older agent could not decode the receipt)."""

DEFAULT_CHUNK_SIZE = 1024 * 1024
# The broker's own limit is 128 MiB in 3.x and 16 MiB in 4.x; we stay far below.
MAX_CHUNK_SIZE = 8 * 1024 * 1024
MAX_METADATA_BYTES = 1024 * 1024
MAX_MESSAGE_BYTES = MAX_CHUNK_SIZE + 64 * 1024
"""The broker's `max_message_size` (packaging/rabbitmq/spisync.conf): just above a chunk."""
DEFAULT_DELIVERY_LIMIT = 20

_AGENT_USER_STEM = "obec-"


def default_user_prefix(orp: str) -> str:
    """Return the user-name prefix of ORP `orp`'s deployment (`<orp>.`).

    Broker users are global on a broker, not per vhost: the prefix lets several
    ORPs, a staging copy and the tests share one broker without one deployment
    ever touching another's users.
    """
    return f"{orp}."


def agent_username(ico: str, *, prefix: str) -> str:
    """Return the broker user name of obec `ico`'s agent in the deployment `prefix`.

    Args:
        ico: The obec's IČO.
        prefix: The deployment's user-name prefix (`[hub] user_prefix`, by
            default `default_user_prefix(orp)`); an empty prefix gives the
            names of version 0.1 (`obec-<ičo>`).
    """
    return f"{prefix}{_AGENT_USER_STEM}{ico}"


def ico_from_agent_username(user_id: str, *, prefix: str) -> str | None:
    """Return the IČO an agent user of deployment `prefix` stands for, or None."""
    stem = f"{prefix}{_AGENT_USER_STEM}"
    if not user_id.startswith(stem):
        return None
    ico = user_id.removeprefix(stem)
    return ico if len(ico) == 8 and ico.isdigit() else None


def hub_username(orp: str) -> str:
    """Return the broker user name of the hub of ORP `orp`."""
    return f"hub-{orp}"


def hub_queue(ico: str) -> str:
    """Return the hub's queue for obec `ico`."""
    return f"hub.obec.{ico}"


def agent_queue(ico: str) -> str:
    """Return the inbox queue of obec `ico`'s agent."""
    return f"agent.{ico}"


def archive_reply_queue(orp: str) -> str:
    """Return the queue where the hub of `orp` receives the archive's replies."""
    return f"hub.archive-reply.{orp}"


def ingest_routing_key(ico: str, kind: str) -> str:
    """Return the routing key an agent publishes a message of `kind` with."""
    return f"obec.{ico}.{kind}"


def ingest_binding(ico: str) -> str:
    """Return the binding of `hub.obec.<ičo>` to the ingest exchange."""
    return f"obec.{ico}.#"


def ingest_topic_pattern(ico: str) -> str:
    """Return the topic-permission regex that limits an agent to its own keys."""
    return f"^obec\\.{ico}\\."


def agent_routing_key(ico: str, kind: str) -> str:
    """Return the routing key the hub sends a message of `kind` to an agent with."""
    return f"agent.{ico}.{kind}"


def archive_routing_key(orp: str, ico: str, kind: str) -> str:
    """Return the routing key of a message between hub `orp` and the archive."""
    return f"orp.{orp}.{ico}.{kind}"
