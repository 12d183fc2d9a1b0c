"""National rules on the komponenty's real bytes (obs52, kom1, kom2, kom3).

Each komponenta is streamed once, in chunks, hashing as it goes. Sizes are
compared first: a member whose ZIP header already disagrees with SIZE is not
read at all, and no member is read past the SIZE that mets.xml declares
(reading stops there with spisync-zip), so a komponenta declared as 31 bytes
costs 32 bytes of reading however large the ZIP says it is.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from archive.validation.container import COMPONENTS_DIR, MemberTooLargeError
from archive.validation.context import SPISYNC_ZIP, Context, where
from archive.validation.link_rules import CHECKSUM_TYPES
from archive.validation.model import M, MetsDoc
from spisync.formats import PDF_WINDOW, signature_matches

if TYPE_CHECKING:
    from lxml import etree

    from archive.validation.container import Layout, Package

__all__ = ["CODES", "FileCheck", "check_files", "plan_files"]

CODES = frozenset({"obs52", "kom1", "kom2", "kom3"})
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_KOM3_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/tiff",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.etsi.asic-e+zip",
        "application/vnd.etsi.asic-s+zip",
        "application/msword",
        "application/rtf",
    }
)
"""kom3 checks the first bytes of these formats (`spisync.formats`); others pass."""


def _matches(mime: str, head: bytes) -> bool:
    return mime not in _KOM3_TYPES or signature_matches(mime, head) is not False


def _href(file: etree._Element) -> str | None:
    flocat = file.find(f"{M}FLocat")
    return None if flocat is None else unquote(flocat.get(_XLINK_HREF) or "")


def _check_obs52(doc: MetsDoc, layout: Layout, ctx: Context) -> dict[str, etree._Element]:
    """obs52: hrefs and files in komponenty/ correspond one to one; return file by path."""
    hrefs = Counter(_href(file) for file in doc.files)
    targets: dict[str, etree._Element] = {}
    for file in doc.files:
        href = _href(file)
        if href is None:
            continue
        if not href.startswith(f"{COMPONENTS_DIR}/") or href not in layout.components:
            ctx.fail("obs52", f"xlink:href {href!r} neodpovídá žádné komponentě ve složce", file)
        elif hrefs[href] > 1:
            ctx.fail("obs52", f"xlink:href {href!r} je uveden {hrefs[href]}x", file)
        else:
            targets[href] = file
    for path in sorted(layout.components - set(targets)):
        if hrefs[path] == 0:
            ctx.fail(
                "obs52", "soubor ve složce komponenty není odkazován", f"{layout.folder}/{path}"
            )
    return targets


def _stream(package: Package, path: str, size: int, algorithm: str) -> tuple[str, int, bytes]:
    """Hash at most `size` bytes of a member; return digest, bytes read and the head."""
    digest = hashlib.new(algorithm)
    head = b""
    with package.open(path, size) as reader:
        while chunk := reader.read():
            if len(head) < PDF_WINDOW:
                head += chunk[: PDF_WINDOW - len(head)]
            digest.update(chunk)
        return digest.hexdigest(), reader.count, head


@dataclass(frozen=True, slots=True)
class FileCheck:
    """What kom1-kom3 need of one mets:file, read from the tree beforehand.

    Plain data, so the bytes can be hashed in another thread without touching
    the lxml tree that the other rules read meanwhile.
    """

    member: str
    where: str
    size_text: str
    checksum_type: str
    checksum: str
    mime: str


def _check_one(package: Package, check: FileCheck, ctx: Context) -> None:
    here = check.where
    declared = int(check.size_text) if check.size_text.isdigit() else None
    entry = package.entry(check.member)
    stored = entry.size if entry is not None else None
    if declared is None:
        ctx.fail("kom1", f"SIZE {check.size_text!r} není počet bajtů", here)
    elif stored is not None and stored != declared:
        ctx.fail("kom1", f"SIZE je {declared}, komponenta má {stored} B", here)
    algorithm = CHECKSUM_TYPES.get(check.checksum_type)
    if declared is None or stored != declared:
        ctx.fail("kom2", "celistvost nelze ověřit: velikost nesouhlasí", here)
        return  # Never read a member whose size already disagrees.
    try:
        digest, count, head = _stream(package, check.member, declared, algorithm or "sha256")
    except MemberTooLargeError:
        ctx.fail(SPISYNC_ZIP, f"komponenta je větší než ohlášených {declared} B", check.member)
        ctx.fail("kom1", f"komponenta je větší než SIZE {declared} B", here)
        return
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        ctx.fail(SPISYNC_ZIP, f"komponentu nejde přečíst: {exc}", check.member)
        ctx.fail("kom2", f"komponentu nejde přečíst: {exc}", here)
        return
    if count != declared:
        ctx.fail("kom1", f"SIZE je {declared}, komponenta má {count} B", here)
    if algorithm is None:
        ctx.fail("kom2", f"CHECKSUMTYPE {check.checksum_type!r} nelze ověřit", here)
    elif digest != check.checksum:
        ctx.fail("kom2", f"CHECKSUM {check.checksum!r}, skutečný {digest}", here)
    if not _matches(check.mime, head):
        ctx.fail("kom3", f"obsah neodpovídá MIMETYPE {check.mime!r}", here)


def plan_files(doc: MetsDoc, layout: Layout, ctx: Context) -> list[FileCheck] | None:
    """Run obs52 and list what kom1-kom3 will read; None when they do not apply."""
    if not any(ctx.applies(code) for code in CODES) or layout.folder is None:
        return None
    targets = _check_obs52(doc, layout, ctx)
    ctx.ran.add("obs52")
    if not any(ctx.applies(code) for code in ("kom1", "kom2", "kom3")):
        return None
    for file in doc.files:
        link = _href(file)
        if link is not None and link not in targets:
            ctx.fail("kom1", "komponentu nelze najít, velikost nelze ověřit", file)
            ctx.fail("kom2", "komponentu nelze najít, celistvost nelze ověřit", file)
    return [
        FileCheck(
            member=f"{layout.folder}/{href}",
            where=where(file),
            size_text=(file.get("SIZE") or "").strip(),
            checksum_type=file.get("CHECKSUMTYPE") or "",
            checksum=(file.get("CHECKSUM") or "").strip().lower(),
            mime=(file.get("MIMETYPE") or "").split(";")[0].strip().lower(),
        )
        for href, file in targets.items()
    ]


def check_files(package: Package, plan: list[FileCheck], ctx: Context) -> None:
    """kom1, kom2 and kom3: stream and hash each komponenta of `plan`."""
    for check in plan:
        _check_one(package, check, ctx)
    ctx.ran.update({"kom1", "kom2", "kom3", SPISYNC_ZIP})
