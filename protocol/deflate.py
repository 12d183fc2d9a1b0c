"""Content compressed on the wire: chunk and bundle bodies as zlib streams.

A town hall on a slow link sends a chunk's or a bundle's body deflated when
that makes it clearly smaller (AMQP `content_encoding = "deflate"`, a zlib
stream, RFC 1950); scans and office documents are compressed formats already
and go as they are, text and uncompressed formats shrink. A sample of the
body decides first, so incompressible content costs a few kilobytes of
compression, not the whole body's. The sample is taken in slices spread over
the body, not from its start: a bundle's files follow one another, and text
files after a scan must not go uncompressed because the scan came first.

The receiver inflates a body before anything else, never beyond the size
the body may have uncompressed: a small body that would inflate to gigabytes
is refused once it passes that bound, not inflated.
"""

from __future__ import annotations

import zlib

from protocol.errors import DecodeError

__all__ = ["DEFLATE", "InflatesTooFarError", "deflated", "inflate"]

DEFLATE = "deflate"
"""The AMQP `content_encoding` of a deflated body."""

_LEVEL = 6
"""zlib's default: text shrinks to about half of what the fastest level leaves (the
slow link is the bottleneck, not this); what does not compress is not tried whole."""
_SLICES = 16
_SLICE_BYTES = 256
"""A 4 KiB sample: zlib spends ~0.1 ms on it in random bytes (0.4 ms on 16 KiB), per chunk."""
_WORTH = 0.95
"""Deflate only when the result is at most this share of the original."""
_SAMPLE_WORTH = 0.9
"""What the sample must shrink to: a bundle's manifests compress, and a slice that hits
one must not have every bundle of scans deflated whole for nothing."""


class InflatesTooFarError(DecodeError):
    """A deflated body that would inflate beyond its bound."""


def deflated(data: bytes) -> bytes | None:
    """Return `data` deflated if that is clearly smaller, else None (send it as it is)."""
    if len(data) > _SLICES * _SLICE_BYTES:
        step = len(data) // _SLICES
        sample = b"".join(data[i * step : i * step + _SLICE_BYTES] for i in range(_SLICES))
        if len(zlib.compress(sample, _LEVEL)) > _SAMPLE_WORTH * len(sample):
            return None
    packed = zlib.compress(data, _LEVEL)
    return packed if len(packed) <= _WORTH * len(data) else None


def inflate(body: bytes, limit: int) -> bytes:
    """Return the inflated `body`, which may be at most `limit` bytes uncompressed.

    Raises:
        InflatesTooFarError: If it would inflate beyond `limit`.
        DecodeError: If the body is not one complete zlib stream.
    """
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"deflated body is not a valid zlib stream: {exc}") from None
    if len(data) > limit:
        raise InflatesTooFarError(f"deflated body inflates beyond {limit} bytes")
    if not inflater.eof or inflater.unused_data:
        raise DecodeError("deflated body is not one complete zlib stream")
    return data
