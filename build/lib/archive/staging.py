"""Chunk staging and SIP reassembly.

Chunks wait on disk, content-addressed, until their manifest arrives::

    <staging>/<SIP sha256>/<chunk sha256>

Each chunk is verified against its SHA-256 before it is written, written to a
temporary name, fsynced and renamed, so a crash leaves either the whole chunk or
nothing. Reassembly streams the chunks in the manifest's order into one file,
re-verifying every chunk and hashing the whole; a chunk that rotted on disk is
deleted and reported missing, so the hub sends it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
import uuid
from typing import TYPE_CHECKING

import structlog

from archive.errors import (
    SIP_INCOMPLETE,
    SIP_MANIFEST,
    SIP_SHA256,
    DeadLetterError,
    IncompleteSipError,
    SipMismatchError,
    StoreError,
)
from protocol import RuleFailure
from protocol.names import MAX_CHUNK_SIZE

if TYPE_CHECKING:
    from pathlib import Path

    from protocol import SipManifest

__all__ = ["Staging", "fsync_dir"]

_log = structlog.get_logger(__name__)
_TEMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """Make a rename or link inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_dir(directory: Path) -> None:
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    fsync_dir(directory.parent)


def _expected_chunks(manifest: SipManifest) -> int:
    return -(-manifest.size // manifest.chunk_size)


def _format_indexes(indexes: list[int]) -> str:
    shown = ", ".join(str(i) for i in indexes[:50])
    return shown + (f", … ({len(indexes)} in all)" if len(indexes) > 50 else "")


class Staging:
    """Chunks of SIPs in transfer, kept until their SIP is stored or given up.

    Every method does blocking file I/O; call them from a worker thread.

    Args:
        root: The staging folder (created if missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Create the folder and drop temporary files a crash left behind.

        Call it only while nothing else stages chunks (at start-up).
        """
        _ensure_dir(self.root)
        for leftover in self.root.glob(f"*/*{_TEMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)

    def _chunk_path(self, object_sha256: str, chunk_sha256: str) -> Path:
        return self.root / object_sha256 / chunk_sha256

    def stage_chunk(self, object_sha256: str, chunk_sha256: str, data: bytes) -> bool:
        """Verify a chunk and store it durably.

        Args:
            object_sha256: SHA-256 of the SIP the chunk belongs to (from its headers).
            chunk_sha256: SHA-256 the headers claim for the chunk.
            data: The chunk's bytes.

        Returns:
            True when written now, False when it was already staged (a duplicate).

        Raises:
            DeadLetterError: If the bytes are oversized or their hash differs.
            StoreError: If the disk refuses the write.
        """
        if len(data) > MAX_CHUNK_SIZE:
            raise DeadLetterError(
                "oversized", f"chunk of {len(data)} bytes exceeds {MAX_CHUNK_SIZE}"
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != chunk_sha256:
            raise DeadLetterError(
                "chunk-sha256-mismatch",
                f"chunk bytes hash to {actual}, headers say {chunk_sha256}",
            )
        path = self._chunk_path(object_sha256, chunk_sha256)
        if path.is_file():
            return False
        temp = path.with_name(f".{chunk_sha256}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
        try:
            _ensure_dir(path.parent)
            with temp.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            temp.replace(path)
            fsync_dir(path.parent)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"cannot stage chunk {chunk_sha256}: {exc}") from exc
        return True

    def check_manifest(self, manifest: SipManifest) -> list[int]:
        """Check the chunk list covers the size; return the indexes not staged.

        Raises:
            SipMismatchError: SIP-MANIFEST, if the chunk list cannot describe the size.
        """
        expected = _expected_chunks(manifest)
        if len(manifest.chunk_sha256) != expected or manifest.size == 0:
            raise SipMismatchError(
                [
                    RuleFailure(
                        code=SIP_MANIFEST,
                        message=(
                            f"manifest lists {len(manifest.chunk_sha256)} chunks for "
                            f"{manifest.size} bytes in chunks of {manifest.chunk_size}, "
                            f"expected {expected} (and a non-empty package)"
                        ),
                    )
                ]
            )
        return [
            index
            for index, chunk_sha256 in enumerate(manifest.chunk_sha256)
            if not self._chunk_path(manifest.sha256, chunk_sha256).is_file()
        ]

    @staticmethod
    def incomplete(manifest: SipManifest, missing: list[int]) -> IncompleteSipError:
        """Return the rejection for a SIP whose chunks `missing` are not staged."""
        message = (
            f"{len(missing)} of {len(manifest.chunk_sha256)} chunks missing "
            f"(indexes {_format_indexes(missing)}); send the SIP again"
        )
        # The location lists every missing index, so a hub may re-send only those.
        location = "chunks:" + ",".join(str(index) for index in missing)
        failure = RuleFailure(code=SIP_INCOMPLETE, message=message, location=location)
        return IncompleteSipError([failure], missing)

    def reassemble(self, manifest: SipManifest, target: Path) -> None:
        """Write the SIP's bytes to `target` (fsynced), verifying every byte on the way.

        Raises:
            IncompleteSipError: If a chunk is missing or no longer matches its hash
                (a bad one is deleted so that a re-send replaces it).
            SipMismatchError: SIP-MANIFEST if a chunk has the wrong length,
                SIP-SHA256 if the whole differs from the manifest's hash.
            StoreError: If the disk fails.
        """
        missing = self.check_manifest(manifest)
        if missing:
            raise self.incomplete(manifest, missing)
        whole = hashlib.sha256()
        last = len(manifest.chunk_sha256) - 1
        rotten: list[int] = []
        try:
            with target.open("wb") as out:
                for index, chunk_sha256 in enumerate(manifest.chunk_sha256):
                    data = self._chunk_path(manifest.sha256, chunk_sha256).read_bytes()
                    if hashlib.sha256(data).hexdigest() != chunk_sha256:
                        rotten.append(index)
                        continue
                    want = manifest.size - last * manifest.chunk_size
                    want = manifest.chunk_size if index < last else want
                    if len(data) != want:
                        raise SipMismatchError(
                            [
                                RuleFailure(
                                    code=SIP_MANIFEST,
                                    message=f"chunk {index} has {len(data)} bytes, expected {want}",
                                )
                            ]
                        )
                    whole.update(data)
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise StoreError(f"cannot reassemble {manifest.sip_name}: {exc}") from exc
        if rotten:
            for index in rotten:
                _log.error("staged_chunk_corrupted", index=index, sha256=manifest.sha256)
                self._chunk_path(manifest.sha256, manifest.chunk_sha256[index]).unlink(
                    missing_ok=True
                )
            raise self.incomplete(manifest, rotten)
        if whole.hexdigest() != manifest.sha256:
            raise SipMismatchError(
                [
                    RuleFailure(
                        code=SIP_SHA256,
                        message=(
                            f"the reassembled package hashes to {whole.hexdigest()}, "
                            f"the manifest says {manifest.sha256}"
                        ),
                    )
                ]
            )

    def discard(self, object_sha256: str) -> None:
        """Delete every staged chunk of the SIP with hash `object_sha256`."""
        shutil.rmtree(self.root / object_sha256, ignore_errors=True)

    def sweep(self, max_age_s: float, *, now: float | None = None) -> int:
        """Delete staged SIPs that received no chunk for `max_age_s`; return how many."""
        cutoff = (time.time() if now is None else now) - max_age_s
        removed = 0
        for directory in self.root.iterdir():
            with contextlib.suppress(OSError):
                if directory.is_dir() and directory.stat().st_mtime < cutoff:
                    shutil.rmtree(directory)
                    removed += 1
        return removed
