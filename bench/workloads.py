"""The trees the slow-link benchmarks move: a town hall's day and a first sync of mixed files.

Content is random bytes (scans, office documents: both are compressed formats,
PDF/JPEG and zipped OOXML, so random bytes are what a compressor sees in them)
except the mixed tree's text files (XML, CSV, TXT exports), which are made of
words and compress as such files do. Every tree is written once per benchmark
and its SHA-256 per file returned, so a run ends only when every file is
committed with the content it has on disk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random
    from pathlib import Path

__all__ = ["DayTrees", "day_trees", "mixed_tree", "tree_digests"]

KIB = 1024
MIB = 1024 * KIB
_WORDS = [
    "spis",
    "dokument",
    "komponenta",
    "obec",
    "úřad",
    "žádost",
    "rozhodnutí",
    "usnesení",
    "zastupitelstvo",
    "stavební",
    "povolení",
    "odbor",
    "podání",
    "datum",
    "číslo",
    "jednací",
    "vyřizuje",
    "příloha",
    "smlouva",
    "faktura",
    "rozpočet",
    "změna",
    "návrh",
    "občan",
    "poplatek",
    "odpad",
    "místní",
    "komunikace",
    "oprava",
]


def _random_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 8 * MIB))
            out.write(block)
            left -= len(block)


def _text_file(path: Path, size: int, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left:
            line = (" ".join(rng.choices(_WORDS, k=rng.randint(5, 15))) + "\n").encode()
            block = (line * (64 * KIB // len(line) + 1))[: min(left, 64 * KIB)]
            out.write(block)
            left -= len(block)


def tree_digests(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under `root`."""
    digests = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as source:
            while block := source.read(MIB):
                digest.update(block)
        digests[path.relative_to(root).as_posix()] = digest.hexdigest()
    return digests


def mixed_tree(root: Path, total: int, rng: random.Random) -> int:
    """Write mixed files (about `total` bytes) under `root`; return the bytes written.

    Sizes are log-uniform from 4 KiB to 20 MiB (many small files, most bytes in
    large ones); one file in four is compressible text, the rest random bytes.
    """
    written = 0
    i = 0
    while written < total:
        size = min(int(4 * KIB * (5 * KIB) ** rng.random()), total - written) or 1
        folder = root / f"agenda-{i % 7}" / f"rok-{2019 + i % 7}"
        if i % 4 == 0:
            _text_file(folder / f"export-{i:06}.xml", size, rng)
        else:
            _random_file(folder / f"dokument-{i:06}.pdf", size)
        written += size
        i += 1
    return written


@dataclass(frozen=True)
class DayTrees:
    """Yesterday's tree and today's (yesterday + the day's scans and edits).

    Attributes:
        yesterday: Office documents as they were in the morning.
        today: The same tree in the evening.
        changed_bytes: Bytes of the new scans plus the edited documents' full size.
    """

    yesterday: Path
    today: Path
    changed_bytes: int


def day_trees(
    base: Path, scans: int, documents: int, max_scan: int, rng: random.Random
) -> DayTrees:
    """Write a town hall's day: `scans` new scans and `documents` edited office documents.

    Scans are 200 KiB to `max_scan` bytes (uniform). Office documents are 20 KiB
    to 2 MiB; an edit rewrites a quarter of a document at a random place and
    appends 4 KiB (a re-saved document changes in places, it is not rewritten
    whole), so a delta-transfer tool moves only part of it.
    """
    yesterday, today = base / "yesterday", base / "today"
    for i in range(documents):
        _random_file(
            yesterday / "dokumenty" / f"smlouva-{i:04}.docx", rng.randint(20 * KIB, 2 * MIB)
        )
    shutil.copytree(yesterday, today)
    changed = 0
    for i in range(documents):
        path = today / "dokumenty" / f"smlouva-{i:04}.docx"
        size = path.stat().st_size
        edit = size // 4
        with path.open("r+b") as out:
            out.seek(rng.randrange(0, size - edit + 1))
            out.write(os.urandom(edit))
            out.seek(0, os.SEEK_END)
            out.write(os.urandom(4 * KIB))
        changed += size + 4 * KIB
    for i in range(scans):
        size = rng.randint(200 * KIB, max_scan)
        _random_file(today / "podatelna" / f"sken-{i:04}.pdf", size)
        changed += size
    return DayTrees(yesterday, today, changed)
