"""Chunk deltas: the format as documented, edits that keep blocks, and bounds before building."""

from __future__ import annotations

import os
import zlib
from array import array
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import DecodeError, chunk_headers, decode_chunk_meta, names
from protocol.delta import (
    BLOCK_SIZE,
    apply_delta,
    block_signature,
    decode_delta,
    encode_delta,
    make_delta,
    signature_slice,
)

BLOCK = 4096  # as the module's documentation states it


def test_a_delta_written_by_hand_from_the_documentation_rebuilds_its_chunk() -> None:
    """A msgpack list of the base's 4 KiB block numbers and literal bytes, in order."""
    assert BLOCK_SIZE == BLOCK
    base = os.urandom(3 * BLOCK + 100)
    body = msgspec.msgpack.encode([2, b"new", 0, 3])
    expected = base[2 * BLOCK : 3 * BLOCK] + b"new" + base[:BLOCK] + base[3 * BLOCK :]
    assert apply_delta(base, decode_delta(body)) == expected


def test_the_signature_is_each_block_s_crc32() -> None:
    data = os.urandom(2 * BLOCK + 7)
    crcs = [zlib.crc32(data[i : i + BLOCK]) for i in range(0, len(data), BLOCK)]
    signature = array("I")
    signature.frombytes(block_signature(data))  # kept by the agent itself: native order
    assert signature.tolist() == crcs


def test_a_chunk_s_signature_is_a_slice_of_its_file_s() -> None:
    data = os.urandom(5 * BLOCK + 10)
    whole = block_signature(data)
    assert signature_slice(whole, 2 * BLOCK, 2 * BLOCK) == block_signature(
        data[2 * BLOCK : 4 * BLOCK]
    )
    assert signature_slice(whole, 4 * BLOCK, BLOCK + 10) == block_signature(data[4 * BLOCK :])


def test_an_edit_in_place_and_an_append_send_little_more_than_themselves() -> None:
    old = os.urandom(256 * 1024)
    new = old[:100_000] + os.urandom(20_000) + old[120_000:] + os.urandom(5_000)
    delta = make_delta(new, block_signature(old), len(old))
    assert delta is not None
    literal = sum(len(item) for item in delta if isinstance(item, bytes))
    assert literal <= 20_000 + 2 * BLOCK + 5_000 + BLOCK
    assert apply_delta(old, decode_delta(encode_delta(delta))) == new


def test_a_rewritten_file_goes_whole() -> None:
    old = os.urandom(64 * 1024)
    assert make_delta(os.urandom(64 * 1024), block_signature(old), len(old)) is None


@given(
    old=st.binary(min_size=1, max_size=6 * BLOCK),
    edits=st.lists(
        st.tuples(st.integers(0, 6 * BLOCK), st.integers(0, 3 * BLOCK), st.binary(max_size=BLOCK)),
        max_size=3,
    ),
)
def test_any_delta_made_rebuilds_exactly_the_new_bytes(old: bytes, edits: list) -> None:
    """Replacements, insertions and deletions anywhere (moved blocks are found or sent)."""
    new = old
    for at, cut, inserted in edits:
        new = new[:at] + inserted + new[at + cut :]
    delta = make_delta(new, block_signature(old), len(old))
    if delta is not None:
        assert apply_delta(old, decode_delta(encode_delta(delta))) == new


@pytest.mark.parametrize(
    "body",
    [
        b"\xc1",
        msgspec.msgpack.encode({"0": 1}),
        msgspec.msgpack.encode(["text, not bytes"]),
        msgspec.msgpack.encode([-1]),
        msgspec.msgpack.encode([0] * (2 * names.MAX_CHUNK_SIZE // BLOCK + 2)),
    ],
    ids=["not-msgpack", "a-map", "a-string", "negative", "too-many-items"],
)
def test_a_body_that_is_no_delta_is_refused(body: bytes) -> None:
    with pytest.raises(DecodeError, match="chunk delta"):
        decode_delta(body)


def test_a_delta_is_checked_against_its_base_and_the_chunk_bound_before_building() -> None:
    base = os.urandom(2 * BLOCK)
    with pytest.raises(ValueError, match="block 2 of a base of 2 blocks"):
        apply_delta(base, [0, 2])
    too_many = [0] * (names.MAX_CHUNK_SIZE // BLOCK + 1)
    with pytest.raises(ValueError, match="more than"):
        apply_delta(base, too_many)


def test_a_delta_chunk_names_its_base_in_a_header_of_its_own() -> None:
    """`x-spisync-delta-base`, absent from a chunk sent whole (older hubs see a plain chunk)."""
    sample = Path(__file__).parent / "golden" / "v1" / "chunk.delta.headers.json"
    meta = decode_chunk_meta(msgspec.json.decode(sample.read_bytes()))
    assert meta.base == "b" * 64
    assert chunk_headers(meta)[names.HEADER_DELTA_BASE] == "b" * 64
    assert names.HEADER_DELTA_BASE not in chunk_headers(msgspec.structs.replace(meta, base=""))
