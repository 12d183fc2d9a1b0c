"""A chunk sent as its changes against a chunk its obec uploaded before (`ChunkMeta.base`).

An edited office document, a register export grown by some rows, a PDF with a
signature appended: most of a new version's bytes are its old version's. The
agent keeps a signature of each document it sent (`block_signature`: a
CRC-32 of every `BLOCK_SIZE` block), and sends each changed chunk of the next
version as a delta against the chunk at its place in the old one: the blocks
whose CRC matches a block of that chunk are named by their number there, the
rest go as bytes. The hub rebuilds the chunk from
the old one it holds and verifies it against the chunk's SHA-256 before
anything relies on it, exactly like a chunk sent whole; a CRC that matched
different bytes (or a base the hub no longer holds) makes the rebuilt chunk
fail that check, and the agent sends the chunk whole when asked.

Blocks sit at fixed places: an edit in place and an append keep every other
block; an insertion moves the blocks after it by its length, and they are
found again only where it is a multiple of `BLOCK_SIZE`.

Encoded as msgpack: a list whose items are block numbers of the base (int)
or bytes of the new chunk; decoding bounds everything before a byte is built.
"""

from __future__ import annotations

import zlib
from array import array
from typing import Annotated, TypeAlias

import msgspec

from protocol.errors import DecodeError
from protocol.names import MAX_CHUNK_SIZE

__all__ = [
    "BLOCK_SIZE",
    "Delta",
    "apply_delta",
    "block_signature",
    "decode_delta",
    "encode_delta",
    "make_delta",
    "signature_slice",
]

BLOCK_SIZE = 4 * 1024
"""Bytes per block: small enough that an edit costs little more than itself,
large enough that a signature is 1 KiB per MiB."""

Delta: TypeAlias = list[int | bytes]
"""Block numbers of the base and literal bytes, in the order they make the chunk."""

_MAX_ITEMS = 2 * (MAX_CHUNK_SIZE // BLOCK_SIZE) + 1
"""The most items a delta of the largest chunk needs (blocks and runs between them)."""
_WORTH = 0.75
"""Send a delta only when its bytes are at most this share of the chunk's."""

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(
    Annotated[list[Annotated[int, msgspec.Meta(ge=0)] | bytes], msgspec.Meta(max_length=_MAX_ITEMS)]
)


def _block_crcs(data: bytes) -> array[int]:
    view = memoryview(data)
    blocks = range(0, len(data), BLOCK_SIZE)
    return array("I", (zlib.crc32(view[i : i + BLOCK_SIZE]) for i in blocks))


def block_signature(data: bytes) -> bytes:
    """The CRC-32 of each `BLOCK_SIZE` block of `data` (the last may be shorter), packed."""
    return _block_crcs(data).tobytes()


def signature_slice(signature: bytes, offset: int, size: int) -> bytes:
    """The part of `signature` signing `size` bytes from `offset` (a multiple of `BLOCK_SIZE`)."""
    item = array("I").itemsize
    first = offset // BLOCK_SIZE
    return signature[first * item : (first - (-size // BLOCK_SIZE)) * item]


def make_delta(data: bytes, base_signature: bytes, base_size: int) -> Delta | None:
    """Return `data` as a delta against the base `base_signature` describes, if that pays.

    None: too few blocks match for a delta to be clearly smaller than `data`.
    """
    base = array("I")
    base.frombytes(base_signature)
    if not base:
        return None
    last = len(base) - 1
    last_size = base_size - last * BLOCK_SIZE
    # A block matches a base block of its own length: the full ones by CRC, and a
    # short last block of `data` only the base's short last block.
    full: dict[int, int] = {}
    for number, crc in enumerate(base):
        if number < last or last_size == BLOCK_SIZE:
            full.setdefault(crc, number)
    delta: Delta = []
    literal_from = None  # where the run of unmatched bytes being gathered starts
    literal = 0
    for number, crc in enumerate(_block_crcs(data)):
        start = number * BLOCK_SIZE
        size = min(BLOCK_SIZE, len(data) - start)
        if size == BLOCK_SIZE:
            match = full.get(crc)
        else:
            match = last if size == last_size and crc == base[last] else None
        if match is None:
            literal += size
            if literal_from is None:
                literal_from = start
            continue
        if literal_from is not None:
            delta.append(data[literal_from:start])
            literal_from = None
        delta.append(match)
    if literal_from is not None:
        delta.append(data[literal_from:])
    return delta if literal <= _WORTH * len(data) else None


def encode_delta(delta: Delta) -> bytes:
    """Encode a delta as the body of its chunk message."""
    return _encoder.encode(delta)


def decode_delta(body: bytes) -> Delta:
    """Decode a delta body.

    Raises:
        DecodeError: If it is not a list of block numbers and bytes, or has more
            items than a delta of the largest chunk can need.
    """
    try:
        delta: Delta = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"chunk delta: {exc}") from None
    return delta


def apply_delta(base: bytes, delta: Delta) -> bytes:
    """Rebuild a chunk from the base chunk's bytes and the delta.

    Raises:
        ValueError: If the delta names a block the base does not have, or would
            build more than `names.MAX_CHUNK_SIZE` bytes (checked before building).
    """
    blocks = -(-len(base) // BLOCK_SIZE)
    size = 0
    for item in delta:
        if isinstance(item, bytes):
            size += len(item)
        elif item >= blocks:
            raise ValueError(f"block {item} of a base of {blocks} blocks")
        else:
            size += min(BLOCK_SIZE, len(base) - item * BLOCK_SIZE)
    if size > MAX_CHUNK_SIZE:
        raise ValueError(f"the delta builds {size} bytes, more than {MAX_CHUNK_SIZE}")
    out = bytearray()
    for item in delta:
        if isinstance(item, bytes):
            out += item
        else:
            out += base[item * BLOCK_SIZE : (item + 1) * BLOCK_SIZE]
    return bytes(out)
