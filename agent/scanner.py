"""Folders on disk: ignore rules, safe wire names, symlink confinement, full scans.

A full scan costs one `stat` per file; only files whose size, mtime or inode
differ from the index are read later (by the hasher).
"""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.problems import Problem
from protocol.errors import UnsafePathError
from protocol.paths import collision_key, safe_relative_path

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agent.config import FolderConfig

__all__ = [
    "DiskFile",
    "Folder",
    "IgnoreRules",
    "ScanResult",
    "case_collisions",
    "scan_folder",
    "sibling_collisions",
]


class IgnoreRules:
    """Name patterns (fnmatch, case-insensitive) matched against every path component.

    Args:
        patterns: For example `~$*`, `*.tmp`, `Thumbs.db`.
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._patterns = tuple(p.lower() for p in patterns)

    def ignores_name(self, name: str) -> bool:
        """Tell whether one file or folder name is ignored."""
        lowered = name.lower()
        return any(fnmatch.fnmatchcase(lowered, p) for p in self._patterns)

    def ignores(self, relative: str) -> bool:
        """Tell whether a `/`-separated relative path has an ignored component."""
        return any(self.ignores_name(part) for part in relative.split("/"))


@dataclass(frozen=True)
class DiskFile:
    """A regular file found in a folder.

    Attributes:
        path: Wire path (NFC, with the folder prefix).
        disk_path: Path relative to the folder as the disk spells it, `/`-separated.
        size: Bytes.
        mtime_ns: Modification time.
        inode: Inode number.
    """

    path: str
    disk_path: str
    size: int
    mtime_ns: int
    inode: int


@dataclass
class ScanResult:
    """What a full scan of one folder found.

    Attributes:
        available: False if the folder itself is missing or unreadable.
        files: Sendable files by wire path.
        blocked: Wire paths that exist but cannot be sent now (collisions, unreadable
            directories): their index entries must not turn into tombstones.
        problems: Everything that was skipped, with the reason.
    """

    available: bool
    files: dict[str, DiskFile] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


class Folder:
    """One watched folder: where it is, its wire prefix and its ignore rules.

    Args:
        config: The `[[folders]]` entry.
        prefix: `""`, or `"<name>/"` when the agent has several folders.
        ignore: Ignore rules.
    """

    def __init__(self, config: FolderConfig, prefix: str, ignore: IgnoreRules) -> None:
        self.key = config.path
        self.root = Path(config.path)
        self.prefix = prefix
        self.ignore = ignore

    @property
    def root_real(self) -> str:
        """The folder's real path now (it may be a symlink or a mount point)."""
        return os.path.realpath(self.root)

    def absolute(self, disk_path: str) -> str:
        """Return the absolute path of a relative disk path."""
        return os.path.join(self.root, *disk_path.split("/"))  # noqa: PTH118 - str is cheaper

    def relative(self, absolute: str) -> str | None:
        """Return the `/`-separated disk path of `absolute` inside the folder, or None."""
        root = str(self.root)
        if absolute == root or not absolute.startswith(root.rstrip(os.sep) + os.sep):
            return None
        return absolute[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")

    def wire_path(self, disk_path: str) -> str:
        """Return the NFC wire path of a disk path.

        Raises:
            UnsafePathError: If the name cannot be sent safely.
        """
        return safe_relative_path(self.prefix + disk_path)

    def stat_file(self, disk_path: str) -> DiskFile | Problem | None:
        """Look at one file now: a `DiskFile`, a `Problem`, or None if it is gone or no file.

        Symlinks are followed only while they stay inside the folder.
        """
        absolute = self.absolute(disk_path)
        try:
            wire = self.wire_path(disk_path)
        except UnsafePathError as exc:
            return Problem("unsafe_name", self.prefix + disk_path, exc.reason)
        try:
            st = os.lstat(absolute)
            if stat.S_ISLNK(st.st_mode):
                root_real = self.root_real
                real = os.path.realpath(absolute)
                if os.path.commonpath([root_real, real]) != root_real:
                    return Problem("symlink_outside", wire, f"symlink leads outside to {real}")
                st = os.stat(absolute)  # noqa: PTH116 - str paths, one call per file in a scan
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Problem("unreadable", wire, f"cannot stat: {exc.strerror or exc}")
        if not stat.S_ISREG(st.st_mode):
            return None
        return DiskFile(wire, disk_path, st.st_size, st.st_mtime_ns, st.st_ino)


def sibling_collisions(
    folder: Folder, disk: DiskFile, listings: dict[tuple[str, str], dict[str, list[str]]]
) -> list[Problem]:
    """Return `name_collision` problems of `disk` and the names beside it.

    Args:
        folder: The file's folder.
        disk: The file.
        listings: Directory listings by collision key, reused for the files of one
            directory looked at together (one listing per directory, not per file).
    """
    directory, _, _ = disk.disk_path.rpartition("/")
    listing = listings.get((folder.key, directory))
    if listing is None:
        listing = listings[(folder.key, directory)] = _keyed_listing(folder, directory)
    twins = [
        DiskFile(wire, disk_path, 0, 0, 0)
        for disk_path in listing.get(collision_key(disk.path), [])
        if disk_path != disk.disk_path and (wire := _safe_or_raw(folder, disk_path)) != disk.path
    ]
    return case_collisions([disk, *twins]) if twins else []


def _keyed_listing(folder: Folder, directory: str) -> dict[str, list[str]]:
    """Return the disk paths of one directory's entries by collision key."""
    try:
        with os.scandir(folder.absolute(directory) if directory else str(folder.root)) as it:
            names = [e.name for e in it if not folder.ignore.ignores_name(e.name)]
    except OSError:
        return {}
    listing: dict[str, list[str]] = {}
    for name in names:
        disk_path = f"{directory}/{name}" if directory else name
        listing.setdefault(collision_key(_safe_or_raw(folder, disk_path)), []).append(disk_path)
    return listing


def scan_folder(folder: Folder) -> ScanResult:
    """Walk a folder and stat every file (blocking; run it in a thread)."""
    root = str(folder.root)
    if not os.path.isdir(root) or not os.access(root, os.R_OK | os.X_OK):  # noqa: PTH112
        return ScanResult(available=False)
    result = ScanResult(available=True)
    found: dict[str, list[DiskFile]] = {}
    stack = [""]
    while stack:
        stack.extend(_scan_directory(folder, stack.pop(), result, found))
    for wire, files in found.items():
        if len(files) == 1:
            result.files[wire] = files[0]
            continue
        result.blocked.add(wire)
        spellings = ", ".join(repr(f.disk_path) for f in files)
        result.problems.extend(
            Problem(
                "name_collision",
                folder.prefix + f.disk_path,
                f"names {spellings} are the same after Unicode normalisation ({wire!r})",
            )
            for f in files
        )
    result.problems.extend(case_collisions(result.files.values()))
    return result


def case_collisions(files: Iterable[DiskFile]) -> list[Problem]:
    """Return a `name_collision` problem for each file whose name another one shares on Windows.

    Names that differ only in case or by compatibility characters (`case.txt`
    and `CASE.TXT`) are two files here but one on an SMB share or in Windows.
    Both are still sent under their own paths (the hub keeps them apart, so
    neither overwrites the other); the problem asks the office to rename one.
    """
    groups: dict[str, list[DiskFile]] = {}
    for file in files:
        groups.setdefault(collision_key(file.path), []).append(file)
    problems: list[Problem] = []
    for group in groups.values():
        if len(group) < 2:
            continue
        spellings = ", ".join(repr(f.path) for f in sorted(group, key=lambda f: f.path))
        problems.extend(
            Problem(
                "name_collision",
                file.path,
                f"names {spellings} differ only in case or by compatibility characters: "
                "Windows and SMB shares cannot hold them side by side; rename one",
            )
            for file in group
        )
    return problems


def _scan_directory(
    folder: Folder, relative_dir: str, result: ScanResult, found: dict[str, list[DiskFile]]
) -> list[str]:
    """Stat the files of one directory into `found`; return its subdirectories."""
    absolute = folder.absolute(relative_dir) if relative_dir else str(folder.root)
    try:
        with os.scandir(absolute) as it:
            entries = list(it)
    except OSError as exc:
        result.problems.append(
            Problem("unreadable", folder.prefix + relative_dir, f"cannot list: {exc.strerror}")
        )
        # Its files still exist as far as anyone knows: never tombstone them.
        result.blocked.add(_safe_or_raw(folder, relative_dir) + "/")
        return []
    subdirectories: list[str] = []
    for entry in entries:
        if folder.ignore.ignores_name(entry.name):
            continue
        disk_path = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            subdirectories.append(disk_path)
            continue
        looked = folder.stat_file(disk_path)
        if isinstance(looked, Problem):
            result.problems.append(looked)
            if looked.kind != "symlink_outside":
                result.blocked.add(looked.path)
        elif looked is not None:
            found.setdefault(looked.path, []).append(looked)
    return subdirectories


def _safe_or_raw(folder: Folder, disk_path: str) -> str:
    try:
        return folder.wire_path(disk_path)
    except UnsafePathError:
        return folder.prefix + disk_path
