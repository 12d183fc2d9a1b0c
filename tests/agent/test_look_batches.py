"""How quiet files are grouped for hashing and one commit."""

from __future__ import annotations

from pathlib import Path

from agent.config import FolderConfig
from agent.scanner import DiskFile, Folder, IgnoreRules
from agent.tracker import Look
from agent.watcher import _look_batches, _Pending

MIB = 1024 * 1024


def _quiet(sizes: list[int]) -> list[tuple[tuple[str, str], _Pending, Look]]:
    folder = Folder(FolderConfig(path=str(Path("/srv/spisy"))), "", IgnoreRules(()))
    items = []
    for i, size in enumerate(sizes):
        disk = DiskFile(path=f"f{i}", disk_path=f"f{i}", size=size, mtime_ns=0, inode=i)
        look = Look(folder=folder, disk=disk, quiet_stat=(size, 0))
        items.append(((folder.key, f"f{i}"), _Pending(due=0.0, stat=(size, 0)), look))
    return items


def test_small_files_go_in_batches_of_512() -> None:
    """1,100 small files make batches of 512, 512 and 76 (a full bundle each), in their order."""
    batches = list(_look_batches(_quiet([1000] * 1100)))
    assert [len(b) for b in batches] == [512, 512, 76]
    assert [item[2].disk.path for b in batches for item in b] == [f"f{i}" for i in range(1100)]


def test_large_files_do_not_hold_back_the_others() -> None:
    """A batch stops before 64 MiB unless it is a single file; a 1 GiB file goes alone."""
    batches = list(_look_batches(_quiet([40 * MIB, 40 * MIB, 1024 * MIB, 1 * MIB, 1 * MIB])))
    assert [[item[2].disk.size for item in b] for b in batches] == [
        [40 * MIB],
        [40 * MIB],
        [1024 * MIB],
        [1 * MIB, 1 * MIB],
    ]
