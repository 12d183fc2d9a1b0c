"""Encoding and decoding: JSON bodies for metadata, raw bytes plus headers for chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec

from protocol.archive import SipAccepted, SipManifest, SipRejected
from protocol.base import SCHEMA_VERSION
from protocol.content import ChunkMeta, FileVersion, Tombstone
from protocol.control import (
    DiagnosticsRequest,
    DiagnosticsResult,
    FileReceipt,
    FileReceipts,
    Heartbeat,
    NeedChunks,
    RecordReceipt,
)
from protocol.errors import DecodeError
from protocol.names import (
    HEADER_CHUNK_INDEX,
    HEADER_CHUNK_SHA256,
    HEADER_DELTA_BASE,
    HEADER_KIND,
    HEADER_OBJECT_SHA256,
    HEADER_SCHEMA_VERSION,
    HEADER_TRANSFER,
    MAX_METADATA_BYTES,
)
from protocol.registry import (
    DokumentSnapshot,
    KomponentaSnapshot,
    RecordDeleted,
    SpisClosed,
    SpisReopened,
    SpisSnapshot,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AnyMessage",
    "chunk_headers",
    "decode",
    "decode_chunk_meta",
    "encode",
    "kind_of",
]

AnyMessage: TypeAlias = (
    FileVersion
    | Tombstone
    | SpisSnapshot
    | DokumentSnapshot
    | KomponentaSnapshot
    | RecordDeleted
    | SpisClosed
    | SpisReopened
    | FileReceipt
    | FileReceipts
    | NeedChunks
    | RecordReceipt
    | Heartbeat
    | DiagnosticsRequest
    | DiagnosticsResult
    | SipManifest
    | SipAccepted
    | SipRejected
)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyMessage] = msgspec.json.Decoder(AnyMessage)
_chunk_meta_decoder = msgspec.json.Decoder(ChunkMeta)

_CHUNK_FIELDS_IN_HEADERS = {
    HEADER_OBJECT_SHA256: "object_sha256",
    HEADER_CHUNK_INDEX: "index",
    HEADER_CHUNK_SHA256: "sha256",
    HEADER_TRANSFER: "transfer",
    HEADER_DELTA_BASE: "base",
}
# Absent means empty: a chunk names its object's hash, its transfer, or both,
# and a base only when it is a delta.
_OPTIONAL_CHUNK_FIELDS = frozenset({"object_sha256", "transfer", "base"})
_ENVELOPE_HEADERS = {
    HEADER_SCHEMA_VERSION: "schema_version",
    "x-spisync-message-id": "message_id",
    "x-spisync-sender": "sender",
    "x-spisync-sent-at": "sent_at",
}


def kind_of(message: msgspec.Struct) -> str:
    """Return the wire tag (`kind`) of a message."""
    # The struct's own config, not `msgspec.inspect`: this runs for every
    # message on the hot path, and inspecting the type each time cost ~3 % CPU.
    tag = type(message).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def encode(message: AnyMessage) -> bytes:
    """Encode a metadata message as a JSON body."""
    return _encoder.encode(message)


def decode(body: bytes) -> AnyMessage:
    """Decode a JSON body into its message.

    Raises:
        DecodeError: If the body is oversized, not JSON, of an unknown kind, or
            any field is missing or invalid; the message says which.
    """
    if len(body) > MAX_METADATA_BYTES:
        raise DecodeError(f"body of {len(body)} bytes exceeds {MAX_METADATA_BYTES}")
    try:
        return _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(str(exc)) from exc


def chunk_headers(meta: ChunkMeta) -> dict[str, str | int]:
    """Return the AMQP headers that carry a chunk's metadata."""
    raw = msgspec.to_builtins(meta)
    headers: dict[str, str | int] = {HEADER_KIND: "chunk"}
    for header, field in (_CHUNK_FIELDS_IN_HEADERS | _ENVELOPE_HEADERS).items():
        if raw[field] != "" or field not in _OPTIONAL_CHUNK_FIELDS:
            headers[header] = raw[field]
    return headers


def decode_chunk_meta(headers: Mapping[str, Any]) -> ChunkMeta:
    """Read a chunk's metadata back from its AMQP headers.

    Raises:
        DecodeError: If a header is missing or invalid, naming it.
    """
    raw: dict[str, Any] = {"kind": "chunk"}
    # AMQP long strings arrive as bytes or str depending on the client library.
    for header, field in (_CHUNK_FIELDS_IN_HEADERS | _ENVELOPE_HEADERS).items():
        if header not in headers:
            if field == "schema_version":
                raw[field] = SCHEMA_VERSION
                continue
            if field in _OPTIONAL_CHUNK_FIELDS:
                raw[field] = ""
                continue
            raise DecodeError(f"chunk header {header!r} is missing")
        value = headers[header]
        try:
            raw[field] = value.decode() if isinstance(value, bytes) else value
        except UnicodeDecodeError:
            raise DecodeError(f"chunk header {header!r} is not UTF-8") from None
    try:
        return msgspec.convert(raw, ChunkMeta)
    except msgspec.ValidationError as exc:
        raise DecodeError(f"chunk headers: {exc}") from exc
