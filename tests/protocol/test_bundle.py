"""File bundles: msgpack round trip, the limits refused at decoding, content checks, receipts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from protocol import (
    BundledFile,
    DecodeError,
    FileBundle,
    FileReceipts,
    FileVersion,
    ReceiptEntry,
    content_mismatch,
    decode,
    decode_bundle,
    encode,
    encode_bundle,
    names,
)

GOLDEN = Path(__file__).parent / "golden" / "v1" / "file_bundle.msgpack"
_AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _entry(path: str, content: bytes, seq: int = 1) -> BundledFile:
    sha = hashlib.sha256(content).hexdigest()
    return BundledFile(
        manifest=FileVersion(
            message_id=f"{seq:032x}",
            sender="00255319",
            sent_at=_AT,
            path=path,
            size=len(content),
            mtime_ns=1_700_000_000_000_000_000,
            sha256=sha,
            chunk_size=names.DEFAULT_CHUNK_SIZE,
            chunk_sha256=(sha,) if content else (),
            source_seq=seq,
        ),
        content=content,
    )


def _bundle(*files: BundledFile) -> FileBundle:
    return FileBundle(message_id="f" * 32, sender="00255319", sent_at=_AT, files=files)


def _raw(bundle: FileBundle) -> dict[str, Any]:
    """The bundle as plain values (bytes kept), to be bent past the constructor's checks."""
    raw: dict[str, Any] = msgspec.msgpack.decode(encode_bundle(bundle))
    return raw


def _encode_raw(raw: dict[str, Any]) -> bytes:
    return msgspec.msgpack.encode(raw)


def test_bundle_round_trips() -> None:
    """A bundle of files (one empty) decodes to the same manifests and bytes."""
    bundle = _bundle(_entry("a/1.txt", b"first"), _entry("a/prázdný", b"", 2))
    decoded = decode_bundle(encode_bundle(bundle))
    assert decoded == bundle
    assert decoded.files[0].content == b"first"


def test_golden_bundle_decodes() -> None:
    """The frozen v1 sample of a bundle still decodes (two files, their bytes intact)."""
    decoded = decode_bundle(GOLDEN.read_bytes())
    assert [(f.manifest.path, f.content) for f in decoded.files] == [
        ("Podatelna/žádost.txt", b"Zadost o povoleni\n"),
        ("Podatelna/prázdný.txt", b""),
    ]
    assert content_mismatch(decoded) is None


@pytest.mark.parametrize(
    ("bend", "match"),
    [
        (lambda raw: raw["files"].clear(), "1 to 512"),
        (lambda raw: raw["files"].extend([raw["files"][0]] * 512), "1 to 512"),
        (lambda raw: raw["files"].append(raw["files"][0]), "path appears twice"),
        (lambda raw: raw["files"][0].update(content=b"longer"), "manifest says"),
        (lambda raw: raw["files"][0]["manifest"].update(path="../x"), r"'\.\.'"),
    ],
    ids=["empty", "too-many-files", "path-twice", "size-lies", "unsafe-path"],
)
def test_malformed_bundles_are_refused(bend: Any, match: str) -> None:
    """A bundle breaking a rule of its form is a DecodeError naming the rule."""
    raw = _raw(_bundle(_entry("a.txt", b"abc")))
    bend(raw)
    with pytest.raises(DecodeError, match=match):
        decode_bundle(_encode_raw(raw))


def test_bundled_file_over_the_file_limit_is_refused() -> None:
    """A file above `BUNDLE_MAX_FILE_BYTES` cannot travel in a bundle."""
    big = b"x" * (names.BUNDLE_MAX_FILE_BYTES + 1)
    raw = _raw(_bundle(_entry("big.bin", b"abc")))
    sha = hashlib.sha256(big).hexdigest()
    raw["files"][0]["manifest"].update(
        size=len(big), sha256=sha, chunk_size=names.MAX_CHUNK_SIZE, chunk_sha256=[sha]
    )
    raw["files"][0]["content"] = big
    with pytest.raises(DecodeError, match="per bundled file"):
        decode_bundle(_encode_raw(raw))


def test_bundle_over_the_content_limit_is_refused() -> None:
    """More than `BUNDLE_MAX_BYTES` of content in one bundle is refused."""
    size = names.BUNDLE_MAX_BYTES // 8
    count = 9
    files = [_entry(f"f{i}.bin", bytes([i]) * size, i + 1) for i in range(count)]
    raw = _raw(_bundle(files[0]))
    raw["files"] = [_raw(_bundle(f))["files"][0] for f in files]
    with pytest.raises(DecodeError, match="per bundle"):
        decode_bundle(_encode_raw(raw))


def test_manifest_of_several_chunks_is_refused() -> None:
    """A bundled file is one chunk, its whole content: a manifest of two chunks is refused."""
    raw = _raw(_bundle(_entry("a.txt", b"abcd")))
    raw["files"][0]["manifest"].update(chunk_size=2, chunk_sha256=["1" * 64, "2" * 64])
    with pytest.raises(DecodeError, match="one chunk"):
        decode_bundle(_encode_raw(raw))


def test_oversized_body_is_refused_before_parsing() -> None:
    """A body above `BUNDLE_MAX_BODY_BYTES` is refused, naming the limit."""
    with pytest.raises(DecodeError, match=str(names.BUNDLE_MAX_BODY_BYTES)):
        decode_bundle(b"\x00" * (names.BUNDLE_MAX_BODY_BYTES + 1))


@pytest.mark.parametrize("body", [b"", b"\xc1", b"{}", encode(_entry("a", b"a").manifest)])
def test_garbage_is_refused(body: bytes) -> None:
    """Bytes that are not a msgpack bundle (a JSON manifest included) are a DecodeError."""
    with pytest.raises(DecodeError):
        decode_bundle(body)


def test_content_mismatch_names_the_forged_entry() -> None:
    """An entry whose bytes are not its manifest's is found and named; honest bundles pass."""
    honest = _entry("ok.txt", b"honest")
    forged = msgspec.structs.replace(_entry("forged.txt", b"claimed"), content=b"other!!")
    assert content_mismatch(_bundle(honest)) is None
    reason = content_mismatch(_bundle(honest, forged))
    assert reason is not None
    assert "file 1 (forged.txt)" in reason


def test_file_receipts_round_trip_and_refuse_too_many() -> None:
    """Batched receipts travel as JSON; more than `RECEIPTS_MAX` in one message are refused."""
    entry = ReceiptEntry(path="a.txt", sha256="a" * 64, source_seq=3)
    receipts = FileReceipts(message_id="e" * 32, sender="hub:x", sent_at=_AT, receipts=(entry,))
    assert decode(encode(receipts)) == receipts
    raw = msgspec.to_builtins(receipts)
    raw["receipts"] = [raw["receipts"][0]] * (names.RECEIPTS_MAX + 1)
    with pytest.raises(DecodeError):
        decode(msgspec.json.encode(raw))
