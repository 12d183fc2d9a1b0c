"""Small files with their content in one message (`file_bundle`), encoded as msgpack.

A first load of many small files cost two persistent, confirmed messages per
file (its one chunk and its manifest); per-message overhead in agent, broker
and hub dominated. A bundle carries up to `names.BUNDLE_MAX_FILES` small file
versions, each its `FileVersion` manifest exactly as it would travel alone
(its own message id, at most one chunk) with the file's bytes beside it. JSON
cannot carry bytes cheaply, so bundles are msgpack (`application/msgpack`);
every other metadata message stays JSON.

Decoding checks the form and the limits, not the hashes: hashing is work the
receiver does (the hub, before it stores anything), and `content_mismatch`
names the first entry whose bytes are not its manifest's.
"""

from __future__ import annotations

import hashlib

import msgspec

from protocol.base import Message
from protocol.content import FileVersion
from protocol.errors import DecodeError
from protocol.names import (
    BUNDLE_MAX_BODY_BYTES,
    BUNDLE_MAX_BYTES,
    BUNDLE_MAX_FILE_BYTES,
    BUNDLE_MAX_FILES,
)

__all__ = [
    "BUNDLE_CONTENT_TYPE",
    "BundledFile",
    "FileBundle",
    "content_mismatch",
    "decode_bundle",
    "encode_bundle",
]

BUNDLE_CONTENT_TYPE = "application/msgpack"


class BundledFile(msgspec.Struct, frozen=True, kw_only=True):
    """One small file version of a bundle.

    Attributes:
        manifest: The version's manifest, as it would be sent alone; a
            non-empty file has exactly one chunk, the whole file.
        content: The file's bytes (`manifest.size` of them).
    """

    manifest: FileVersion
    content: bytes

    def __post_init__(self) -> None:
        """Reject an entry that is not one small, whole file."""
        manifest = self.manifest
        if len(self.content) != manifest.size:
            raise ValueError(
                f"{manifest.path}: {len(self.content)} bytes, manifest says {manifest.size}"
            )
        if manifest.size > BUNDLE_MAX_FILE_BYTES:
            raise ValueError(
                f"{manifest.path}: {manifest.size} bytes exceed "
                f"{BUNDLE_MAX_FILE_BYTES} per bundled file"
            )
        expected = (manifest.sha256,) if manifest.size else ()
        if manifest.chunk_sha256 != expected:
            raise ValueError(f"{manifest.path}: a bundled file is one chunk, its whole content")


class FileBundle(Message, frozen=True, kw_only=True, tag="file_bundle"):
    """Small file versions with their content, applied as if each came as chunk and manifest.

    Attributes:
        files: At least one and at most `names.BUNDLE_MAX_FILES` versions, each
            path at most once, with at most `names.BUNDLE_MAX_BYTES` of content
            together.
    """

    files: tuple[BundledFile, ...]

    def __post_init__(self) -> None:
        """Reject empty, oversized bundles and a path sent twice."""
        if not 1 <= len(self.files) <= BUNDLE_MAX_FILES:
            raise ValueError(f"{len(self.files)} files, a bundle holds 1 to {BUNDLE_MAX_FILES}")
        total = sum(len(entry.content) for entry in self.files)
        if total > BUNDLE_MAX_BYTES:
            raise ValueError(f"{total} bytes of content exceed {BUNDLE_MAX_BYTES} per bundle")
        if len({entry.manifest.path for entry in self.files}) != len(self.files):
            raise ValueError("a path appears twice in one bundle")


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(FileBundle)


def encode_bundle(bundle: FileBundle) -> bytes:
    """Encode a bundle as a msgpack body."""
    return _encoder.encode(bundle)


def decode_bundle(body: bytes) -> FileBundle:
    """Decode a msgpack body into its bundle.

    Raises:
        DecodeError: If the body is oversized, not msgpack, not a bundle, or
            breaks a limit; the message says which.
    """
    if len(body) > BUNDLE_MAX_BODY_BYTES:
        raise DecodeError(f"bundle of {len(body)} bytes exceeds {BUNDLE_MAX_BODY_BYTES}")
    try:
        return _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"file_bundle: {exc}") from exc


def content_mismatch(bundle: FileBundle) -> str | None:
    """Return which entry's bytes do not hash to its manifest's SHA-256 (the first), or None."""
    for index, entry in enumerate(bundle.files):
        if hashlib.sha256(entry.content).hexdigest() != entry.manifest.sha256:
            return (
                f"file {index} ({entry.manifest.path}): its content does not match "
                f"the manifest's SHA-256 {entry.manifest.sha256}"
            )
    return None
