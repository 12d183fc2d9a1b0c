"""Reading a SIP as a ZIP or a folder, and the rules about its layout."""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from archive.validation import codes
from archive.validation.report import RuleFailure

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CHUNK_SIZE",
    "COMPONENTS_DIR",
    "METS_FILE",
    "Layout",
    "Package",
    "check_layout",
    "hash_file",
    "open_package",
    "package_name",
]

CHUNK_SIZE = 1024 * 1024
METS_FILE = "mets.xml"
COMPONENTS_DIR = "komponenty"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    is_dir: bool


class Package:
    """A SIP opened for reading: its entries and a way to stream each one."""

    def __init__(self, entries: list[_Entry], zip_file: zipfile.ZipFile | None, root: Path) -> None:
        self._entries = entries
        self._zip = zip_file
        self._root = root

    @property
    def entries(self) -> list[_Entry]:
        """Every entry, with ``/``-separated paths starting at the top folder."""
        return self._entries

    def open(self, path: str) -> IO[bytes]:
        """Open the entry `path` for streaming.

        Raises:
            OSError: If a file of a folder package cannot be read.
            zipfile.BadZipFile: If a ZIP entry is damaged.
        """
        if self._zip is not None:
            return self._zip.open(path)
        return (self._root / path).open("rb")

    def close(self) -> None:
        """Release the ZIP file, if any."""
        if self._zip is not None:
            self._zip.close()


def package_name(path: Path) -> str:
    """The package name: the ZIP's name without ``.zip``, or the folder's name."""
    if path.suffix.lower() == ".zip" and not path.is_dir():
        return path.name[: -len(path.suffix)]
    return path.name


def hash_file(handle: IO[bytes], algorithm: str = "sha256") -> tuple[str, int]:
    """Hash a stream in chunks; return the hex digest and the byte count."""
    digest = hashlib.new(algorithm)
    size = 0
    while chunk := handle.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def open_package(path: Path, failures: list[RuleFailure]) -> Package | None:
    """Open `path` as a folder or a ZIP; on failure record SIP-OPEN and return None."""
    try:
        if path.is_dir():
            entries = [
                _Entry(item.relative_to(path.parent).as_posix(), item.is_dir())
                for item in sorted(path.rglob("*"))
            ]
            return Package(entries, None, path.parent)
        if not path.is_file():
            failures.append(RuleFailure(codes.SIP_OPEN, "soubor neexistuje", str(path)))
            return None
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        message = f"nejde otevřít jako ZIP ani složku: {exc}"
        failures.append(RuleFailure(codes.SIP_OPEN, message, path.name))
        return None
    entries = [_Entry(info.filename.rstrip("/"), info.is_dir()) for info in archive.infolist()]
    return Package(entries, archive, path)


@dataclass(slots=True)
class Layout:
    """What the layout check found.

    Attributes:
        folder: The package folder used for the other rules (None if none).
        has_mets: Whether the folder holds ``mets.xml``.
        components: Files under ``komponenty/``, relative to the folder.
    """

    folder: str | None = None
    has_mets: bool = False
    components: set[str] = field(default_factory=set)


def _unsafe(path: str) -> bool:
    parts = path.split("/")
    return path.startswith("/") or "\\" in path or any(p in {"", ".", ".."} for p in parts)


def _check_entries(package: Package, failures: list[RuleFailure]) -> list[_Entry]:
    """Report unsafe and repeated names; return the usable entries."""
    usable = []
    for path, count in Counter(e.path for e in package.entries).items():
        if count > 1:
            failures.append(RuleFailure(codes.SIP_CONTENT, f"položka je v ZIP {count}x", path))
    for entry in package.entries:
        if _unsafe(entry.path):
            failures.append(RuleFailure(codes.SIP_CONTENT, "nebezpečná cesta", entry.path))
        else:
            usable.append(entry)
    return usable


def _pick_folder(name: str, entries: list[_Entry], failures: list[RuleFailure]) -> str | None:
    tops: set[str] = set()
    for entry in entries:
        top, slash, _ = entry.path.partition("/")
        if slash or entry.is_dir:
            tops.add(top)
        else:
            failures.append(RuleFailure(codes.SIP_FOLDER, "soubor mimo složku balíčku", entry.path))
    if len(tops) != 1:
        listed = ", ".join(sorted(tops)) or "žádná"
        message = f"balíček musí mít právě jednu složku, má: {listed}"
        failures.append(RuleFailure(codes.SIP_FOLDER, message, name))
    if not tops:
        return None
    folder = name if name in tops else min(tops)
    if folder != name:
        message = f"složka {folder!r} se nejmenuje jako balíček {name!r}"
        failures.append(RuleFailure(codes.SIP_FOLDER_NAME, message, folder))
    return folder


def check_layout(name: str, package: Package, failures: list[RuleFailure]) -> Layout:
    """Check the name and the folder layout; return what the other rules need."""
    if not _NAME.fullmatch(name):
        message = "název smí mít 1 až 64 znaků A-Z a-z 0-9 _ -"
        failures.append(RuleFailure(codes.SIP_NAME, message, name))
    entries = _check_entries(package, failures)
    layout = Layout(folder=_pick_folder(name, entries, failures))
    if layout.folder is None:
        failures.append(RuleFailure(codes.SIP_METS_MISSING, "chybí mets.xml", name))
        return layout
    prefix = f"{layout.folder}/"
    for entry in entries:
        if not entry.path.startswith(prefix):
            continue
        relative = entry.path[len(prefix) :]
        if relative == METS_FILE and not entry.is_dir:
            layout.has_mets = True
        elif relative == COMPONENTS_DIR and entry.is_dir:
            continue
        elif relative.startswith(f"{COMPONENTS_DIR}/"):
            if not entry.is_dir:
                layout.components.add(relative)
        else:
            message = "složka balíčku smí obsahovat jen mets.xml a komponenty/"
            failures.append(RuleFailure(codes.SIP_CONTENT, message, entry.path))
    if not layout.has_mets:
        failures.append(RuleFailure(codes.SIP_METS_MISSING, "chybí mets.xml", prefix))
    return layout
