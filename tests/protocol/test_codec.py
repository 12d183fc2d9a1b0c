"""Every message round-trips; arbitrary input fails only with the protocol's own error."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import protocol
from protocol import ChunkMeta, DecodeError, FileVersion, decode, encode, kind_of
from protocol.names import MAX_METADATA_BYTES
from tests.protocol.strategies import MESSAGE_TYPES, messages

_FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("message_type", MESSAGE_TYPES, ids=lambda t: t.__name__)
@_FAST
@given(data=st.data())
def test_every_message_round_trips(message_type: type[msgspec.Struct], data: st.DataObject) -> None:
    """Encoding then decoding any valid message gives the same message back."""
    message = data.draw(messages(message_type))
    assert decode(encode(message)) == message


@settings(max_examples=300)
@given(body=st.binary(max_size=2000))
def test_arbitrary_bytes_fail_only_with_decode_error(body: bytes) -> None:
    """Random bytes either decode to a message or raise DecodeError, never anything else."""
    try:
        decoded = decode(body)
    except DecodeError:
        return
    assert isinstance(decoded, MESSAGE_TYPES)


@settings(max_examples=200)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=20,
    ),
    kind=st.sampled_from(
        [*(kind_of_type for kind_of_type in ("file_version", "spis", "heartbeat", "nope"))]
    ),
)
def test_arbitrary_json_fails_only_with_decode_error(value: object, kind: str) -> None:
    """Well-formed JSON of the wrong shape is refused with DecodeError."""
    body = msgspec.json.encode({"kind": kind, "payload": value})
    with pytest.raises(DecodeError):
        decode(body)


@settings(max_examples=200)
@given(
    headers=st.dictionaries(
        st.sampled_from(
            [
                "x-spisync-object-sha256",
                "x-spisync-chunk-index",
                "x-spisync-chunk-sha256",
                "x-spisync-transfer",
                "x-spisync-message-id",
                "x-spisync-sender",
                "x-spisync-sent-at",
                "other",
            ]
        ),
        st.none() | st.integers() | st.text(max_size=70) | st.binary(max_size=70),
    )
)
def test_arbitrary_chunk_headers_fail_only_with_decode_error(headers: dict[str, object]) -> None:
    """Chunk headers of any shape decode to ChunkMeta or raise DecodeError."""
    try:
        meta = protocol.decode_chunk_meta(headers)
    except DecodeError:
        return
    assert isinstance(meta, ChunkMeta)


@_FAST
@given(meta=messages(ChunkMeta))
def test_chunk_meta_round_trips_through_headers(meta: ChunkMeta) -> None:
    """A chunk's metadata survives the trip through AMQP headers."""
    assert protocol.decode_chunk_meta(protocol.chunk_headers(meta)) == meta


def test_chunk_headers_naming_neither_object_nor_transfer_are_refused() -> None:
    """A chunk must say what it belongs to: its object's hash, its transfer, or both."""
    headers = {
        "x-spisync-chunk-index": 0,
        "x-spisync-chunk-sha256": "c" * 64,
        "x-spisync-message-id": "5f0c6b1e2d3a4b5c8d9e0f1a2b3c4d5e",
        "x-spisync-sender": "00255319",
        "x-spisync-sent-at": "2026-11-23T08:30:00Z",
    }
    with pytest.raises(DecodeError, match="neither"):
        protocol.decode_chunk_meta(headers)
    meta = protocol.decode_chunk_meta(headers | {"x-spisync-transfer": "ab" * 16})
    assert (meta.object_sha256, meta.object_key) == ("", "ab" * 16)


def test_oversized_body_is_refused_before_parsing() -> None:
    """A body over the metadata limit is refused, naming the limit."""
    with pytest.raises(DecodeError, match=str(MAX_METADATA_BYTES)):
        decode(b" " * (MAX_METADATA_BYTES + 1))


def test_unknown_kind_is_refused() -> None:
    """A message of a kind this version does not know is a DecodeError."""
    with pytest.raises(DecodeError, match="kind"):
        decode(
            b'{"kind": "teleport", "message_id": "x", "sender": "s", "sent_at": "2026-01-01T00:00:00Z"}'
        )


def test_manifest_with_wrong_chunk_count_is_refused(file_version: FileVersion) -> None:
    """A manifest whose chunk list cannot cover its size does not decode."""
    raw = msgspec.to_builtins(file_version)
    raw["size"] = file_version.chunk_size * 5
    with pytest.raises(DecodeError, match="chunk hashes"):
        decode(msgspec.json.encode(raw))


def test_manifest_with_unsafe_path_is_refused(file_version: FileVersion) -> None:
    """A manifest whose path climbs out of its folder does not decode."""
    raw = msgspec.to_builtins(file_version)
    raw["path"] = "../../etc/passwd"
    with pytest.raises(DecodeError, match=r"'\.\.'"):
        decode(msgspec.json.encode(raw))


def test_manifest_with_nfd_path_is_refused(file_version: FileVersion) -> None:
    """Paths travel in NFC only; an NFD spelling is refused rather than silently duplicated."""
    raw = msgspec.to_builtins(file_version)
    raw["path"] = "Z\u030cádost.pdf"
    with pytest.raises(DecodeError, match="NFC"):
        decode(msgspec.json.encode(raw))


def test_kind_of_names_the_wire_tag(file_version: FileVersion) -> None:
    """kind_of gives the tag the message is encoded with."""
    assert kind_of(file_version) == "file_version"
    assert msgspec.json.decode(encode(file_version))["kind"] == "file_version"
