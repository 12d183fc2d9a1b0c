"""Deflating content for the wire: only when it pays, and inflating never past the bound."""

from __future__ import annotations

import os
import zlib

import pytest

from protocol import DecodeError
from protocol.deflate import InflatesTooFarError, deflated, inflate

_TEXT = b"Spis c. j. MUxx/123/2026 byl uzavren a predan do spisovny.\n" * 2000


def test_text_is_deflated_into_a_zlib_stream_and_random_bytes_are_not() -> None:
    packed = deflated(_TEXT)
    assert packed is not None
    assert len(packed) < len(_TEXT) / 10
    assert zlib.decompress(packed) == _TEXT  # zlib itself reads it back
    assert deflated(os.urandom(1024 * 1024)) is None
    assert deflated(os.urandom(100)) is None


def test_text_after_random_bytes_is_deflated() -> None:
    """A bundle of a scan and then text files: the text must not go as it is."""
    data = os.urandom(512 * 1024) + _TEXT * 5
    packed = deflated(data)
    assert packed is not None
    assert len(packed) < 512 * 1024 + len(_TEXT) // 10
    assert zlib.decompress(packed) == data


def test_random_bytes_between_compressible_samples_are_caught_by_the_whole() -> None:
    """The sample passes, but the whole would not shrink enough: sent as it is."""
    text = _TEXT[:1024]
    data = b"".join(text + os.urandom(63 * 1024) for _ in range(16))  # text where it samples
    assert deflated(data) is None


def test_inflate_returns_what_zlib_compressed_up_to_the_bound() -> None:
    assert inflate(zlib.compress(_TEXT, 9), len(_TEXT)) == _TEXT


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (zlib.compress(bytes(1001)), InflatesTooFarError),
        (zlib.compress(b"x" * 500)[:-2], DecodeError),
        (zlib.compress(b"x") + b"trailing", DecodeError),
        (b"\x00\x01 not zlib", DecodeError),
    ],
    ids=["past-the-bound", "truncated", "trailing-bytes", "garbage"],
)
def test_inflate_refuses_a_bomb_and_broken_streams(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        inflate(body, 1000)
