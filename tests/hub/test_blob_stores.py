"""Blob store behaviour, written once and run against the local folder and a real S3 server."""

from __future__ import annotations

import hashlib
import os

import pytest

from hub.errors import BlobError, BlobHashMismatchError, BlobNotFoundError
from hub.store.local import LocalBlobStore
from hub.store.s3 import S3BlobStore
from tests.hub.hubkit import new_bucket


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3"])
async def blob_store(request, tmp_path, s3_endpoint):
    """A fresh, empty blob store of each kind."""
    if request.param == "local":
        store = LocalBlobStore(tmp_path / "blobs")
    else:
        store = await S3BlobStore.connect(await new_bucket(s3_endpoint))
    yield store
    await store.close()


class TestBlobStore:
    async def test_put_then_read_exists_and_stream(self, blob_store):
        """A stored blob exists, reads back whole and streams back in blocks."""
        data = os.urandom(3000)
        await blob_store.put(_sha(data), data)
        assert await blob_store.exists(_sha(data))
        assert await blob_store.read(_sha(data)) == data
        assert b"".join([b async for b in blob_store.open(_sha(data))]) == data

    async def test_wrong_hash_is_refused_and_nothing_stored(self, blob_store, tmp_path):
        """Bytes that do not hash to the key are refused, and no blob appears under it."""
        data = b"genuine"
        claimed = _sha(b"something else")
        with pytest.raises(BlobHashMismatchError):
            await blob_store.put(claimed, data)
        assert not await blob_store.exists(claimed)
        source = tmp_path / "wrong.bin"
        source.write_bytes(data)
        with pytest.raises(BlobHashMismatchError):
            await blob_store.put_file(claimed, source)
        assert not await blob_store.exists(claimed)

    async def test_put_is_idempotent(self, blob_store):
        """Storing the same blob twice keeps one intact copy."""
        data = b"twice"
        await blob_store.put(_sha(data), data)
        await blob_store.put(_sha(data), data)
        assert await blob_store.read(_sha(data)) == data

    async def test_missing_blob_reads_raise_not_found(self, blob_store):
        """Reading or streaming an absent blob raises BlobNotFoundError; exists says False."""
        absent = _sha(b"absent")
        assert not await blob_store.exists(absent)
        with pytest.raises(BlobNotFoundError):
            await blob_store.read(absent)
        with pytest.raises(BlobNotFoundError):
            [b async for b in blob_store.open(absent)]

    async def test_delete_removes_and_tolerates_absent(self, blob_store):
        """Delete removes a blob, and deleting a missing blob is a no-op."""
        data = b"to delete"
        await blob_store.put(_sha(data), data)
        await blob_store.delete(_sha(data))
        assert not await blob_store.exists(_sha(data))
        await blob_store.delete(_sha(data))

    async def test_large_file_streams_in_and_out(self, blob_store, tmp_path):
        """A file larger than the multipart threshold is stored from disk and streams back intact."""
        data = os.urandom(11 * 1024 * 1024 + 123)
        source = tmp_path / "large.bin"
        source.write_bytes(data)
        await blob_store.put_file(_sha(data), source)
        digest = hashlib.sha256()
        async for block in blob_store.open(_sha(data)):
            digest.update(block)
        assert digest.hexdigest() == _sha(data)

    async def test_put_many_of_only_wrong_bytes_into_an_empty_store_refuses_them(self, blob_store):
        """A first batch whose every blob is forged stores nothing and fails nothing (the store's folder need not exist yet)."""
        forged = {_sha(f"claimed {i}".encode()): f"sent {i}".encode() for i in range(20)}
        assert await blob_store.put_many(forged) == set(forged)
        for sha in forged:
            assert not await blob_store.exists(sha)

    async def test_put_many_stores_the_good_and_names_the_wrong(self, blob_store):
        """A batch stores every blob whose bytes match its hash and returns the others' hashes, storing nothing for them."""
        good = [os.urandom(2048) for _ in range(50)]
        held = b"already held"
        await blob_store.put(_sha(held), held)
        forged = _sha(b"what the hash claims")
        refused = await blob_store.put_many(
            {_sha(data): data for data in good} | {_sha(held): held, forged: b"other bytes"}
        )
        assert refused == {forged}
        assert not await blob_store.exists(forged)
        for data in [*good, held]:
            assert await blob_store.read(_sha(data)) == data
        # Wrong bytes for a blob already held are refused as well; the blob stays intact.
        assert await blob_store.put_many({_sha(held): b"tampered", _sha(good[0]): good[0]}) == {
            _sha(held)
        }
        assert await blob_store.read(_sha(held)) == held

    async def test_invalid_key_is_refused(self, blob_store):
        """A key that is not a lower-case hex SHA-256 never reaches the store."""
        with pytest.raises(BlobError):
            await blob_store.put("../../etc/passwd", b"x")


async def test_local_store_leaves_no_temporary_files(tmp_path):
    """The local store's writes leave only final blobs, even after a refused write."""
    store = LocalBlobStore(tmp_path / "blobs")
    await store.put(_sha(b"ok"), b"ok")
    source = tmp_path / "bad.bin"
    source.write_bytes(b"bad")
    with pytest.raises(BlobHashMismatchError):
        await store.put_file(_sha(b"other"), source)
    await store.put_many({_sha(b"one"): b"one", _sha(b"two"): b"two", _sha(b"x"): b"y"})
    names = sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    assert names == sorted(_sha(data) for data in (b"ok", b"one", b"two"))
    assert store.path_of(_sha(b"ok")).parent.parent.parent == tmp_path / "blobs"
