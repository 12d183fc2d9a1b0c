"""Rules on ``mets:file``: attributes, and the real bytes behind each FLocat.

Components are hashed as streams, chunk by chunk, straight out of the ZIP.
"""

from __future__ import annotations

import re
import zipfile
from typing import TYPE_CHECKING
from urllib.parse import unquote

from archive.validation import codes
from archive.validation.container import COMPONENTS_DIR, hash_file
from archive.validation.report import RuleFailure
from archive.validation.schemas import METS_NS
from archive.validation.xmldoc import XLINK_NS, where

if TYPE_CHECKING:
    from lxml import etree

    from archive.validation.container import Layout, Package

__all__ = ["CHECKSUM_TYPES", "check_files"]

CHECKSUM_TYPES = {"SHA-256": ("sha256", 64), "SHA-512": ("sha512", 128)}
"""Allowed CHECKSUMTYPE values: hashlib name and hex length."""
_HEX = re.compile(r"[0-9a-fA-F]+")
_M = f"{{{METS_NS}}}"


def _fail(failures: list[RuleFailure], message: str, location: str) -> None:
    failures.append(RuleFailure(codes.FILE_ATTR, message, location))


def _href(file: etree._Element, failures: list[RuleFailure]) -> str | None:
    """Check the FLocat of `file`; return its href relative to the package folder."""
    here = where(file)
    locations = file.findall(f"{_M}FLocat")
    if len(locations) != 1:
        _fail(failures, f"soubor musí mít právě jeden mets:FLocat, má {len(locations)}", here)
        return None
    flocat = locations[0]
    if flocat.get("LOCTYPE") != "URL":
        _fail(failures, f"LOCTYPE musí být 'URL', je {flocat.get('LOCTYPE')!r}", here)
    if flocat.get(f"{{{XLINK_NS}}}type") != "simple":
        _fail(failures, "xlink:type musí být 'simple'", here)
    href = unquote(flocat.get(f"{{{XLINK_NS}}}href") or "")
    parts = href.split("/")
    if (
        not href.startswith(f"{COMPONENTS_DIR}/")
        or "\\" in href
        or any(part in {"", ".", ".."} for part in parts)
    ):
        _fail(failures, f"xlink:href {href!r} nevede do složky {COMPONENTS_DIR}/", here)
        return None
    return href


def _expected(file: etree._Element, failures: list[RuleFailure]) -> tuple[str, str, int] | None:
    """Check the attributes; return (algorithm, checksum, size) when all usable."""
    here = where(file)
    for attribute in ("ID", "DMDID", "MIMETYPE", "CREATED"):
        if not (file.get(attribute) or "").strip():
            _fail(failures, f"chybí atribut {attribute}", here)
    size_text = file.get("SIZE") or ""
    if not size_text.isdigit():
        _fail(failures, f"SIZE {size_text!r} není počet bajtů", here)
    checksum_type = file.get("CHECKSUMTYPE") or ""
    checksum = file.get("CHECKSUM") or ""
    algorithm = CHECKSUM_TYPES.get(checksum_type)
    if algorithm is None:
        _fail(failures, f"CHECKSUMTYPE musí být SHA-256 nebo SHA-512, je {checksum_type!r}", here)
    elif len(checksum) != algorithm[1] or not _HEX.fullmatch(checksum):
        _fail(failures, f"CHECKSUM {checksum!r} není hash {checksum_type}", here)
    elif size_text.isdigit():
        return algorithm[0], checksum.lower(), int(size_text)
    return None


def _compare(
    package: Package,
    path: str,
    expected: tuple[str, str, int],
    here: str,
    failures: list[RuleFailure],
) -> None:
    algorithm, checksum, size = expected
    try:
        with package.open(path) as stream:
            actual_checksum, actual_size = hash_file(stream, algorithm)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        failures.append(RuleFailure(codes.SIP_CORRUPT, f"soubor nejde přečíst: {exc}", path))
        return
    if actual_size != size:
        message = f"SIZE je {size}, soubor má {actual_size} B"
        failures.append(RuleFailure(codes.FILE_SIZE, message, f"{here} -> {path}"))
    if actual_checksum != checksum:
        message = f"CHECKSUM {checksum} nesouhlasí se skutečným {actual_checksum}"
        failures.append(RuleFailure(codes.FILE_CHECKSUM, message, f"{here} -> {path}"))


def check_files(
    tree: etree._ElementTree, package: Package, layout: Layout, failures: list[RuleFailure]
) -> None:
    """Record FILE-* failures: attributes, missing, wrong and unreferenced files."""
    referenced: set[str] = set()
    for file in tree.iter(f"{_M}file"):
        expected = _expected(file, failures)
        href = _href(file, failures)
        if href is None:
            continue
        referenced.add(href)
        if href not in layout.components:
            message = f"odkazovaný soubor {href} v balíčku není"
            failures.append(RuleFailure(codes.FILE_MISSING, message, where(file)))
        elif expected is not None and layout.folder is not None:
            _compare(package, f"{layout.folder}/{href}", expected, where(file), failures)
    for path in sorted(layout.components - referenced):
        message = "soubor není odkazován z mets.xml"
        failures.append(RuleFailure(codes.FILE_UNREFERENCED, message, f"{layout.folder}/{path}"))
