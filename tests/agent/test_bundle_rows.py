"""Which outbox rows travel in a bundle, and how many fit in one."""

from __future__ import annotations

import msgspec

from agent.bundles import BundleGroup, bundleable
from agent.records import FILE_KIND, OutboxRow
from protocol import names

_SHA = "a" * 64


def _row(row_id: int = 1, *, size: int = 2048, path: str | None = None, **fields) -> OutboxRow:
    return OutboxRow(
        id=row_id,
        kind=FILE_KIND,
        message_id=f"{row_id:032x}",
        created_at=0.0,
        path=path or f"f{row_id}.txt",
        folder="/data",
        disk_path=path or f"f{row_id}.txt",
        size=size,
        sha256=_SHA,
        chunk_size=names.DEFAULT_CHUNK_SIZE,
        chunk_sha256=(_SHA,) if size else (),
        **fields,
    )


def test_small_whole_files_are_bundleable() -> None:
    """A one-chunk file up to the limit and an empty file go in bundles."""
    assert bundleable(_row(size=names.BUNDLE_MAX_FILE_BYTES))
    assert bundleable(_row(size=0))


def test_other_rows_keep_the_single_file_path() -> None:
    """Larger files, several chunks, partial repairs and attachments are not bundled."""
    assert not bundleable(_row(size=names.BUNDLE_MAX_FILE_BYTES + 1))
    assert not bundleable(msgspec.structs.replace(_row(), chunk_sha256=("b" * 64, "c" * 64)))
    assert not bundleable(_row(only_chunks=(0,)))
    attachment = msgspec.structs.replace(_row(), kind="diagnostics_result", body=b"{}")
    assert not bundleable(attachment)


def test_a_group_stops_at_the_protocol_limits_and_never_repeats_a_path() -> None:
    """A bundle holds at most 512 files, 1 MiB of content, and each path once."""
    group = BundleGroup()
    for i in range(names.BUNDLE_MAX_FILES):
        assert group.accepts(_row(i, size=1))
        group.add(_row(i, size=1))
    assert not group.accepts(_row(10_000, size=1))
    assert len(group.take()) == names.BUNDLE_MAX_FILES
    assert group.rows == []

    big = names.BUNDLE_MAX_FILE_BYTES
    for i in range(names.BUNDLE_MAX_BYTES // big):
        group.add(_row(i, size=big))
    assert not group.accepts(_row(99, size=1))
    group.take()
    group.add(_row(1, path="same.txt"))
    assert not group.accepts(_row(2, path="same.txt"))
