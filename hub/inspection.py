"""Turning a raw delivery into a checked, decoded item, before anything is changed.

Order matters: identity first (a forged message is a security event whatever
its body), then size, then decoding, then the envelope's agreement with the
identity. Every failure is a `RejectDelivery`: the delivery is dead-lettered
with a reason and acknowledged, so it never blocks the obec's queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.errors import RejectDelivery
from hub.identity import check_routing_key, check_sender, check_user
from protocol import (
    ChunkMeta,
    DecodeError,
    content_mismatch,
    decode,
    decode_bundle,
    decode_chunk_meta,
    kind_of,
    names,
)
from protocol.deflate import DEFLATE, InflatesTooFarError, inflate
from protocol.delta import Delta, decode_delta

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aio_pika.abc import AbstractIncomingMessage

    from protocol import AnyMessage, FileBundle

__all__ = [
    "AGENT_KINDS",
    "REASON_CONTENT_MISMATCH",
    "REASON_OVERSIZED",
    "REASON_UNDECODABLE",
    "REASON_UNKNOWN_KIND",
    "ChunkItem",
    "Delivery",
    "Inspected",
    "inspect_delivery",
]

REASON_UNDECODABLE = "undecodable"
REASON_UNKNOWN_KIND = "unknown_kind"
REASON_OVERSIZED = "oversized"
REASON_CONTENT_MISMATCH = "content_mismatch"

AGENT_KINDS = frozenset(
    {
        "chunk",
        "file_version",
        "file_bundle",
        "tombstone",
        "spis",
        "dokument",
        "komponenta",
        "record_deleted",
        "spis_closed",
        "spis_reopened",
        "heartbeat",
        "diagnostics_result",
    }
)
"""Kinds an agent may send to the hub; anything else is dead-lettered."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery from obec `ico`'s queue, not yet settled.

    Attributes:
        ico: The obec whose queue it came from.
        message: The delivery.
        agent_user: The broker user of obec `ico`'s agent in this deployment,
            the only `user_id` accepted on its queue.
        queue: The queue it came from.
    """

    ico: str
    message: AbstractIncomingMessage
    agent_user: str
    queue: str


@dataclass(frozen=True, slots=True)
class ChunkItem:
    """A chunk: its metadata from the headers and its raw bytes.

    A chunk sent as a delta (`meta.base`) has its `delta` and no bytes yet: the
    batcher rebuilds them from the base chunk before anything else.
    """

    meta: ChunkMeta
    body: bytes
    delta: Delta | None = None


@dataclass(frozen=True, slots=True)
class Inspected:
    """A delivery whose identity and form are checked."""

    ico: str
    kind: str
    message_id: str
    payload: AnyMessage | ChunkItem | FileBundle
    record_receipts: bool = False
    """The agent understands `RecordReceipt` (`names.HEADER_RECORD_RECEIPTS`)."""
    receipt_batches: bool = False
    """The agent understands `FileReceipts` (`names.HEADER_RECEIPT_BATCHES`)."""


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


def _header_kind(headers: Mapping[str, Any]) -> str | None:
    return _text(headers.get(names.HEADER_KIND))


def _content(message: AbstractIncomingMessage, limit: int, what: str) -> bytes:
    """The body as sent uncompressed: inflated if deflated, never beyond `limit` bytes.

    Raises:
        RejectDelivery: An unknown encoding or a corrupt stream (undecodable),
            or a body that would inflate beyond `limit` (oversized).
    """
    encoding = message.content_encoding or ""
    if not encoding:
        return message.body
    if encoding != DEFLATE:
        raise RejectDelivery(
            REASON_UNDECODABLE,
            f"{what}: content_encoding {encoding!r} is not supported (only {DEFLATE!r})",
        )
    try:
        return inflate(message.body, limit)
    except InflatesTooFarError as exc:
        raise RejectDelivery(REASON_OVERSIZED, f"{what}: {exc}") from None
    except DecodeError as exc:
        raise RejectDelivery(REASON_UNDECODABLE, f"{what}: {exc}") from None


def _inspect_chunk(ico: str, message: AbstractIncomingMessage) -> Inspected:
    if len(message.body) > names.MAX_CHUNK_SIZE:
        raise RejectDelivery(
            REASON_OVERSIZED, f"chunk of {len(message.body)} bytes exceeds {names.MAX_CHUNK_SIZE}"
        )
    try:
        meta = decode_chunk_meta(message.headers)
    except DecodeError as exc:
        raise RejectDelivery(REASON_UNDECODABLE, str(exc)) from None
    check_routing_key(ico, message.routing_key, "chunk")
    check_sender(ico, meta.sender)
    # Inflated only once the headers and the identity checked out: the costly step last.
    body = _content(message, names.MAX_CHUNK_SIZE, "chunk")
    item = ChunkItem(meta=meta, body=body)
    if meta.base:
        try:
            item = ChunkItem(meta=meta, body=b"", delta=decode_delta(body))
        except DecodeError as exc:
            raise RejectDelivery(REASON_UNDECODABLE, str(exc)) from None
    return Inspected(ico=ico, kind="chunk", message_id=meta.message_id, payload=item)


def _inspect_bundle(ico: str, message: AbstractIncomingMessage) -> Inspected:
    """Decode a bundle and check each entry's bytes against its manifest before anything is stored.

    One forged or corrupt entry refuses the whole bundle: the agent sent it as
    one message, and its honest entries come again when it sends them anew.
    """
    body = _content(message, names.BUNDLE_MAX_BODY_BYTES, "file_bundle")
    try:
        bundle = decode_bundle(body)
    except DecodeError as exc:
        reason = REASON_OVERSIZED if len(body) > names.BUNDLE_MAX_BODY_BYTES else None
        raise RejectDelivery(reason or REASON_UNDECODABLE, str(exc)) from None
    check_routing_key(ico, message.routing_key, "file_bundle")
    check_sender(ico, bundle.sender)
    for entry in bundle.files:
        check_sender(ico, entry.manifest.sender)
    if (mismatch := content_mismatch(bundle)) is not None:
        raise RejectDelivery(REASON_CONTENT_MISMATCH, mismatch)
    return Inspected(
        ico=ico,
        kind="file_bundle",
        message_id=bundle.message_id,
        payload=bundle,
        receipt_batches=bool(message.headers.get(names.HEADER_RECEIPT_BATCHES)),
    )


def inspect_delivery(delivery: Delivery) -> Inspected:
    """Check and decode `delivery`.

    Raises:
        RejectDelivery: With the reason: identity (a security event), size,
            form, or a kind the hub does not take from agents.
    """
    ico, message = delivery.ico, delivery.message
    check_user(ico, message.user_id, expected=delivery.agent_user, headers=message.headers)
    header_kind = _header_kind(message.headers)
    if header_kind == "chunk":
        return _inspect_chunk(ico, message)
    if header_kind == "file_bundle":
        return _inspect_bundle(ico, message)
    if len(message.body) > names.MAX_METADATA_BYTES:
        raise RejectDelivery(
            REASON_OVERSIZED,
            f"body of {len(message.body)} bytes exceeds {names.MAX_METADATA_BYTES}",
        )
    try:
        decoded = decode(message.body)
    except DecodeError as exc:
        if header_kind is not None and header_kind not in AGENT_KINDS:
            raise RejectDelivery(REASON_UNKNOWN_KIND, f"kind {header_kind!r}: {exc}") from None
        raise RejectDelivery(REASON_UNDECODABLE, str(exc)) from None
    kind = kind_of(decoded)
    if kind not in AGENT_KINDS:
        raise RejectDelivery(REASON_UNKNOWN_KIND, f"kind {kind!r} is not sent by agents")
    check_routing_key(ico, message.routing_key, kind)
    check_sender(ico, decoded.sender)
    return Inspected(
        ico=ico,
        kind=kind,
        message_id=decoded.message_id,
        payload=decoded,
        record_receipts=bool(message.headers.get(names.HEADER_RECORD_RECEIPTS)),
        receipt_batches=bool(message.headers.get(names.HEADER_RECEIPT_BATCHES)),
    )
