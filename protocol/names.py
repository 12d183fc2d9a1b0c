"""Every name the broker knows us by: exchanges, queues, routing keys, headers, users.

One module so that the agent, the hub, the archive, provisioning and the
exported `packaging/rabbitmq/definitions.json` can never disagree.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "AGENT_EXCHANGE",
    "ARCHIVE_EXCHANGE",
    "ARCHIVE_INBOX_QUEUE",
    "ARCHIVE_REPLY_EXCHANGE",
    "BUNDLE_MAX_BODY_BYTES",
    "BUNDLE_MAX_BYTES",
    "BUNDLE_MAX_FILES",
    "BUNDLE_MAX_FILE_BYTES",
    "DEAD_LETTER_EXCHANGE",
    "DEAD_LETTER_QUEUE",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_DELIVERY_LIMIT",
    "HEADER_CHUNK_INDEX",
    "HEADER_CHUNK_SHA256",
    "HEADER_DELTA_BASE",
    "HEADER_KIND",
    "HEADER_OBJECT_SHA256",
    "HEADER_RECEIPT_BATCHES",
    "HEADER_RECORD_RECEIPTS",
    "HEADER_REJECT_DETAIL",
    "HEADER_REJECT_REASON",
    "HEADER_REPLAY_OF",
    "HEADER_SCHEMA_VERSION",
    "HEADER_SECURITY_EVENT",
    "HEADER_TRANSFER",
    "INGEST_EXCHANGE",
    "MAX_CHUNK_SIZE",
    "MAX_MESSAGE_BYTES",
    "MAX_METADATA_BYTES",
    "QUEUE_TOKEN_LENGTH",
    "RECEIPTS_MAX",
    "agent_queue",
    "agent_routing_key",
    "agent_username",
    "archive_reply_queue",
    "archive_routing_key",
    "default_user_prefix",
    "hub_queue",
    "hub_username",
    "ico_from_agent_username",
    "ico_of_queue",
    "ingest_binding",
    "ingest_routing_key",
    "ingest_topic_pattern",
    "legacy_agent_queue",
    "legacy_hub_queue",
    "obec_token",
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
HEADER_TRANSFER = "x-spisync-transfer"
"""On a chunk: the message id of the manifest that will name it (see `ChunkMeta.transfer`)."""
HEADER_DELTA_BASE = "x-spisync-delta-base"
"""On a chunk sent as a delta: the chunk it is a delta against (see `ChunkMeta.base`)."""
HEADER_REJECT_REASON = "x-spisync-reject-reason"
HEADER_REJECT_DETAIL = "x-spisync-reject-detail"
HEADER_SECURITY_EVENT = "x-spisync-security-event"
"""On a dead letter: true when the hub refused it as a security event (never replayed)."""
HEADER_REPLAY_OF = "x-spisync-replay-of"
"""On a dead letter the console replays: the id under which the console kept it."""
HEADER_RECORD_RECEIPTS = "x-spisync-record-receipts"
"""On an agent's message: it understands `record_receipt`, so the hub confirms its
tombstones and registry messages (an older agent could not decode the receipt)."""
HEADER_RECEIPT_BATCHES = "x-spisync-receipt-batches"
"""On an agent's message: it understands `file_receipts`, so the hub confirms the file
versions of one delivery in one message instead of one `file_receipt` each."""

DEFAULT_CHUNK_SIZE = 1024 * 1024
# The broker's own limit is 128 MiB in 3.x and 16 MiB in 4.x; we stay far below.
MAX_CHUNK_SIZE = 8 * 1024 * 1024
MAX_METADATA_BYTES = 1024 * 1024
MAX_MESSAGE_BYTES = MAX_CHUNK_SIZE + 64 * 1024
"""The broker's `max_message_size` (packaging/rabbitmq/spisync.conf): just above a chunk."""
DEFAULT_DELIVERY_LIMIT = 20

BUNDLE_MAX_BYTES = 1024 * 1024
"""Most content bytes in one `file_bundle` (a default chunk's worth)."""
BUNDLE_MAX_FILE_BYTES = BUNDLE_MAX_BYTES
"""Largest file an agent sends inside a `file_bundle` rather than as chunks and manifest.

Every file of one default chunk: a scan of 256 KiB then travels four to a
message with its manifest, not as two messages of its own (and one receipt)."""
BUNDLE_MAX_FILES = 512
"""Most files in one `file_bundle`."""
BUNDLE_MAX_BODY_BYTES = BUNDLE_MAX_BYTES + MAX_METADATA_BYTES
"""Largest encoded `file_bundle` body: its content plus the manifests' metadata."""
RECEIPTS_MAX = BUNDLE_MAX_FILES
"""Most receipts in one `file_receipts` message (one bundle's worth)."""

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


QUEUE_TOKEN_LENGTH = 20
"""Hex digits of an obec's queue token: 80 bits, far beyond guessing by passive declares."""


def obec_token(key: bytes, ico: str) -> str:
    """Return obec `ico`'s queue token under the deployment's queue-name key.

    RabbitMQ before 4.2.6 answers a passive `queue.declare` without checking
    permissions, so any agent could learn the depth and consumers of a queue
    whose name it can construct. The token makes an obec's queue names
    unguessable to other obce while the hub derives them without listing.

    Args:
        key: The deployment's secret (`<data_dir>/queue-names.key`).
        ico: The obec's IČO.
    """
    digest = hmac.new(key, f"spisync-queue:{ico}".encode(), hashlib.sha256).hexdigest()
    return digest[:QUEUE_TOKEN_LENGTH]


def hub_queue(ico: str, token: str) -> str:
    """Return the hub's queue for obec `ico` (`hub.obec.<ičo>.<token>`)."""
    return f"hub.obec.{ico}.{token}"


def agent_queue(ico: str, token: str) -> str:
    """Return the inbox queue of obec `ico`'s agent (`agent.<ičo>.<token>`)."""
    return f"agent.{ico}.{token}"


def legacy_hub_queue(ico: str) -> str:
    """Return the guessable hub queue of versions before the queue tokens (drained, deleted)."""
    return f"hub.obec.{ico}"


def legacy_agent_queue(ico: str) -> str:
    """Return the guessable inbox of versions before the queue tokens."""
    return f"agent.{ico}"


def ico_of_queue(queue: str | None) -> str | None:
    """Return the obec of a hub queue or an agent inbox (with or without token), or None."""
    for prefix in ("hub.obec.", "agent."):
        if queue and queue.startswith(prefix):
            ico = queue.removeprefix(prefix).split(".", 1)[0]
            return ico if len(ico) == 8 and ico.isdigit() else None
    return None


def archive_reply_queue(orp: str) -> str:
    """Return the queue where the hub of `orp` receives the archive's replies."""
    return f"hub.archive-reply.{orp}"


def ingest_routing_key(ico: str, kind: str) -> str:
    """Return the routing key an agent publishes a message of `kind` with."""
    return f"obec.{ico}.{kind}"


def ingest_binding(ico: str) -> str:
    """Return the binding of `hub.obec.<ičo>.<token>` to the ingest exchange."""
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
