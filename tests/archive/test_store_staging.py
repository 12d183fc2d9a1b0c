"""The write-once store and the chunk staging on their own (no broker)."""

from __future__ import annotations

import hashlib
import shutil
import stat
from typing import TYPE_CHECKING

import pytest

from archive.errors import (
    DeadLetterError,
    IncompleteSipError,
    SipConflictError,
    SipMismatchError,
)
from archive.staging import Staging
from archive.store import PackageStore
from tests.archive.hub_double import build_sip

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from protocol import SipManifest
    from tests.archive.hub_double import Sip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PackageStore]:
    package_store = PackageStore(tmp_path / "data")
    package_store.open()
    yield package_store
    package_store.close()


def stage_all(staging: Staging, sip: Sip, manifest: SipManifest) -> None:
    for chunk in sip.chunks():
        staging.stage_chunk(manifest.sha256, hashlib.sha256(chunk).hexdigest(), chunk)


def test_store_is_write_once_and_read_only(store: PackageStore, sip: Sip, tmp_path: Path) -> None:
    """A stored package is read-only, a second store of the same bytes keeps its id, other bytes conflict."""
    with store.work_file(sip.name) as work:
        shutil.copyfile(sip.path, work)
        first, created = store.store(sip.ico, sip.name, work, sip.sha256, len(sip.data))
    assert created
    assert not first.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with store.work_file(sip.name) as work:
        shutil.copyfile(sip.path, work)
        again, created = store.store(sip.ico, sip.name, work, sip.sha256, len(sip.data))
    assert (again.archive_id, created) == (first.archive_id, False)
    other = build_sip(tmp_path / "other", sip.ico, subject="Jiná")
    with store.work_file(other.name) as work:
        shutil.copyfile(other.path, work)
        with pytest.raises(SipConflictError) as caught:
            store.store(other.ico, other.name, work, other.sha256, len(other.data))
    assert caught.value.codes == ["SIP-CONFLICT"]
    assert first.path.read_bytes() == sip.data
    assert list(store.work_root.iterdir()) == []


def test_file_without_index_row_is_adopted_with_one_id(
    store: PackageStore, sip: Sip, tmp_path: Path
) -> None:
    """A package linked before a crash but never indexed gets one archive id, kept across restarts."""
    path = store.package_path(sip.ico, sip.name)
    path.parent.mkdir(parents=True)
    shutil.copyfile(sip.path, path)
    adopted = store.lookup(sip.ico, sip.name)
    assert adopted is not None
    assert adopted.sha256 == sip.sha256
    store.close()
    reopened = PackageStore(tmp_path / "data")
    reopened.open()
    try:
        again = reopened.lookup(sip.ico, sip.name)
        assert again is not None
        assert again.archive_id == adopted.archive_id
        assert reopened.holds_sha256(sip.sha256)
    finally:
        reopened.close()


def test_archive_ids_count_up_per_year(store: PackageStore, tmp_path: Path, ico: str) -> None:
    """Archive ids are <prefix>-<year>-<seq> with consecutive sequence numbers."""
    ids = []
    for spis_id in ("a", "b"):
        sip = build_sip(tmp_path / spis_id, ico, spis_id=spis_id)
        with store.work_file(sip.name) as work:
            shutil.copyfile(sip.path, work)
            ids.append(store.store(ico, sip.name, work, sip.sha256, len(sip.data))[0].archive_id)
    prefix, year, seq = ids[0].split("-")
    assert (prefix, len(year)) == ("KDS", 4)
    assert ids[1] == f"KDS-{year}-{int(seq) + 1:06d}"


def test_reassembly_verifies_every_byte(tmp_path: Path, sip: Sip) -> None:
    """Reassembly gives the exact bytes; a staged chunk that rotted is deleted and reported missing."""
    staging = Staging(tmp_path / "staging")
    staging.prepare()
    manifest = sip.manifest()
    stage_all(staging, sip, manifest)
    target = tmp_path / "out.zip"
    staging.reassemble(manifest, target)
    assert target.read_bytes() == sip.data

    rotten = staging.root / manifest.sha256 / manifest.chunk_sha256[1]
    rotten.write_bytes(b"bit rot")
    with pytest.raises(IncompleteSipError) as caught:
        staging.reassemble(manifest, tmp_path / "again.zip")
    assert caught.value.missing == (1,)
    assert not rotten.exists()


def test_manifest_inconsistent_with_bytes(tmp_path: Path, sip: Sip) -> None:
    """A chunk list that cannot cover the size fails SIP-MANIFEST; bytes hashing to another SHA-256 fail SIP-SHA256."""
    staging = Staging(tmp_path / "staging")
    staging.prepare()
    manifest = sip.manifest()
    short = type(manifest)(**{**_fields(manifest), "chunk_sha256": manifest.chunk_sha256[:-1]})
    with pytest.raises(SipMismatchError) as caught:
        staging.check_manifest(short)
    assert caught.value.codes == ["SIP-MANIFEST"]

    lying = type(manifest)(**{**_fields(manifest), "sha256": "0" * 64})
    stage_all(staging, sip, lying)
    with pytest.raises(SipMismatchError) as caught:
        staging.reassemble(lying, tmp_path / "out.zip")
    assert caught.value.codes == ["SIP-SHA256"]


def test_corrupt_chunk_is_not_staged(tmp_path: Path) -> None:
    """A chunk whose bytes do not match its hash raises a dead-letter error and leaves no file."""
    staging = Staging(tmp_path / "staging")
    staging.prepare()
    with pytest.raises(DeadLetterError) as caught:
        staging.stage_chunk("a" * 64, hashlib.sha256(b"good").hexdigest(), b"evil")
    assert caught.value.reason == "chunk-sha256-mismatch"
    assert list(staging.root.rglob("*")) == []


def test_sweep_removes_only_stale_staging(tmp_path: Path) -> None:
    """Staged chunks older than the age limit are swept, fresh ones stay."""
    staging = Staging(tmp_path / "staging")
    staging.prepare()
    staging.stage_chunk("a" * 64, hashlib.sha256(b"x").hexdigest(), b"x")
    assert staging.sweep(3600) == 0
    assert staging.sweep(3600, now=10**12) == 1
    assert list(staging.root.iterdir()) == []


def _fields(manifest: SipManifest) -> dict[str, object]:
    return {name: getattr(manifest, name) for name in manifest.__struct_fields__}
