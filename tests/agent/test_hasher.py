"""Hashing a file: the whole file's and each chunk's SHA-256, and a small file's bytes kept."""

from __future__ import annotations

import hashlib
import os

import pytest

from agent.hasher import digest_file
from protocol import names


@pytest.mark.parametrize(
    ("size", "chunk_size"),
    [(0, 1024), (1, 1024), (1024, 1024), (1025, 1024), (5000, 1024), (3 * 4096 + 7, 4096)],
)
def test_hashes_match_hashlib_over_the_whole_file_and_each_chunk(tmp_path, size, chunk_size):
    """The whole-file hash and the chunk hashes are those of the bytes on disk."""
    data = os.urandom(size)
    (tmp_path / "f.bin").write_bytes(data)
    digest = digest_file(str(tmp_path), str(tmp_path / "f.bin"), chunk_size)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    pieces = [data[i : i + chunk_size] for i in range(0, size, chunk_size)]
    assert digest.chunk_sha256 == tuple(hashlib.sha256(p).hexdigest() for p in pieces)
    assert digest.size == size
    assert digest.stable


def test_only_a_file_that_fits_a_bundle_keeps_its_bytes(tmp_path):
    """One chunk within the bundle limit keeps its bytes; more chunks, or a larger chunk, do not."""
    small, large = os.urandom(3000), os.urandom(names.BUNDLE_MAX_FILE_BYTES + 1)
    (tmp_path / "small").write_bytes(small)
    (tmp_path / "large").write_bytes(large)
    root = str(tmp_path)
    assert digest_file(root, str(tmp_path / "small"), 4096).content == small
    assert digest_file(root, str(tmp_path / "small"), 1024).content is None
    assert digest_file(root, str(tmp_path / "large"), len(large)).content is None
