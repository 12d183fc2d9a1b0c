"""Reading a SIP as a ZIP or a folder, bounded, and the rules about its layout (dat1-dat3).

Members are only ever streamed, never extracted or read whole, and a stream
stops with `MemberTooLargeError` as soon as it passes the size it may have:
the size mets.xml declares for a komponenta, or `MAX_METS_SIZE` for mets.xml.
Python's zipfile already stops inflating at the size in the ZIP's own header
and checks the CRC, so a zip bomb costs at most one buffer of memory.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Self

from archive.validation.context import SPISYNC_PATH, Context
from spisync.formats import ZIP_MAGIC

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CHUNK_SIZE",
    "CODES",
    "COMPONENTS_DIR",
    "METS_FILE",
    "BoundedReader",
    "Entry",
    "Layout",
    "MemberTooLargeError",
    "Package",
    "check_layout",
    "open_package",
    "package_name",
]

CHUNK_SIZE = 1024 * 1024
METS_FILE = "mets.xml"
COMPONENTS_DIR = "komponenty"
CODES = frozenset({"dat1", "dat1a", "dat2", "dat3", SPISYNC_PATH})
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class MemberTooLargeError(Exception):
    """A member grew past the size it may have; reading stopped there."""


class BoundedReader:
    """A binary stream that refuses to yield more than `limit` bytes."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.count = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying stream."""
        self._stream.close()

    def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes (at most one chunk when `size` is negative).

        Raises:
            MemberTooLargeError: When the stream goes past the limit.
        """
        want = CHUNK_SIZE if size is None or size < 0 else min(size, CHUNK_SIZE)
        data = self._stream.read(want)
        self.count += len(data)
        if self.count > self._limit:
            raise MemberTooLargeError(f"více než {self._limit} B")
        return data


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of the package.

    Attributes:
        path: ``/``-separated, starting at the top folder.
        is_dir: Whether it is a folder.
        size: The size the container states (ZIP header, or the file's size).
    """

    path: str
    is_dir: bool
    size: int


class Package:
    """A SIP opened for reading: its entries and a way to stream each one."""

    def __init__(self, entries: list[Entry], zip_file: zipfile.ZipFile | None, root: Path) -> None:
        self._entries = entries
        self._zip = zip_file
        self._root = root
        self._by_path = {entry.path: entry for entry in entries}

    @property
    def entries(self) -> list[Entry]:
        """Every entry."""
        return self._entries

    def entry(self, path: str) -> Entry | None:
        """The entry at `path`, if any."""
        return self._by_path.get(path)

    def open(self, path: str, limit: int) -> BoundedReader:
        """Open the entry `path` for streaming at most `limit` bytes.

        Raises:
            OSError: If a file of a folder package cannot be read.
            zipfile.BadZipFile: If a ZIP entry is damaged.
        """
        stream = self._zip.open(path) if self._zip is not None else (self._root / path).open("rb")
        return BoundedReader(stream, limit)

    def close(self) -> None:
        """Release the ZIP file, if any."""
        if self._zip is not None:
            self._zip.close()


def package_name(path: Path) -> str:
    """The package name: the ZIP's name without ``.zip``, or the folder's name."""
    if path.suffix.lower() == ".zip" and not path.is_dir():
        return path.name[: -len(path.suffix)]
    return path.name


def open_package(path: Path, ctx: Context) -> Package | None:
    """Open `path` as a folder or a ZIP (dat1); None when it is neither."""
    ctx.ran.add("dat1")
    try:
        if path.is_dir():
            entries = [
                Entry(
                    item.relative_to(path.parent).as_posix(),
                    item.is_dir(),
                    0 if item.is_dir() else item.stat().st_size,
                )
                for item in sorted(path.rglob("*"))
            ]
            return Package(entries, None, path.parent)
        with path.open("rb") as handle:
            magic = handle.read(4)
        if magic not in ZIP_MAGIC:
            ctx.fail("dat1", "soubor není ZIP (application/zip) ani složka", path.name)
            return None
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        ctx.fail("dat1", f"nejde otevřít jako ZIP ani složku: {exc}", path.name)
        return None
    entries = [
        Entry(info.filename.rstrip("/"), info.is_dir(), info.file_size)
        for info in archive.infolist()
    ]
    return Package(entries, archive, path)


@dataclass(slots=True)
class Layout:
    """What the layout rules found.

    Attributes:
        folder: The package folder the other rules read (None if none).
        mets: The path of ``mets.xml`` in the package, when there is one.
        components: Files under ``komponenty/``, relative to the folder.
    """

    folder: str | None = None
    mets: str | None = None
    components: set[str] = field(default_factory=set)


def _unsafe(path: str) -> bool:
    parts = path.split("/")
    return path.startswith("/") or "\\" in path or any(p in {"", ".", ".."} for p in parts)


def _safe_entries(package: Package, ctx: Context) -> list[Entry]:
    """Report unsafe and repeated names (spisync-path); return the usable entries."""
    ctx.ran.add(SPISYNC_PATH)
    for path, count in Counter(e.path for e in package.entries).items():
        if count > 1:
            ctx.fail(SPISYNC_PATH, f"položka je v ZIP {count}x", path)
    usable = []
    for entry in package.entries:
        if _unsafe(entry.path):
            ctx.fail(SPISYNC_PATH, "nebezpečná cesta", entry.path)
        else:
            usable.append(entry)
    return usable


def _pick_folder(name: str, entries: list[Entry], is_zip: bool, ctx: Context) -> str | None:
    """The top folder (dat2: exactly one, named like the ZIP)."""
    tops: set[str] = set()
    loose: list[str] = []
    for entry in entries:
        top, slash, _ = entry.path.partition("/")
        if slash or entry.is_dir:
            tops.add(top)
        else:
            loose.append(entry.path)
    if not is_zip:
        return name  # A folder package is its own folder: dat2 is about ZIPs.
    ctx.ran.add("dat2")
    for path in loose:
        ctx.fail("dat2", "soubor mimo složku balíčku", path)
    if len(tops) != 1:
        listed = ", ".join(sorted(tops)) or "žádná"
        ctx.fail("dat2", f"ZIP musí obsahovat právě jednu složku, obsahuje: {listed}", name)
    if not tops:
        return None
    folder = name if name in tops else min(tops)
    if folder != name:
        ctx.fail("dat2", f"složka {folder!r} se nejmenuje jako ZIP {name!r}", folder)
    return folder


def check_layout(name: str, package: Package, is_zip: bool, ctx: Context) -> Layout:
    """Check the name and the layout (dat1a, dat2, dat3); return what the other rules need."""
    ctx.ran.add("dat1a")
    if not _NAME.fullmatch(name):
        ctx.fail("dat1a", "název smí mít 1 až 64 znaků A-Z a-z 0-9 _ -", name)
    entries = _safe_entries(package, ctx)
    layout = Layout(folder=_pick_folder(name, entries, is_zip, ctx))
    ctx.ran.add("dat3")
    if layout.folder is None:
        ctx.fail("dat3", "chybí složka s mets.xml", name)
        return layout
    prefix = f"{layout.folder}/"
    for entry in entries:
        if not entry.path.startswith(prefix):
            continue
        relative = entry.path[len(prefix) :]
        if relative == METS_FILE and not entry.is_dir:
            layout.mets = entry.path
        elif relative == COMPONENTS_DIR and entry.is_dir:
            continue
        elif relative.startswith(f"{COMPONENTS_DIR}/"):
            if not entry.is_dir:
                layout.components.add(relative)
        else:
            ctx.fail("dat3", "složka smí obsahovat jen mets.xml a složku komponenty", entry.path)
    if layout.mets is None:
        ctx.fail("dat3", "chybí soubor mets.xml", prefix)
    return layout
