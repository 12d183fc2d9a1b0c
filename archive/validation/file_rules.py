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
from typing import TYPE_CHECKING
from urllib.parse import unquote

from archive.validation.container import COMPONENTS_DIR, MemberTooLargeError
from archive.validation.context import SPISYNC_ZIP, Context
from archive.validation.link_rules import CHECKSUM_TYPES
from archive.validation.model import M, MetsDoc

if TYPE_CHECKING:
    from lxml import etree

    from archive.validation.container import Layout, Package

__all__ = ["CODES", "SIGNATURES", "check_files"]

CODES = frozenset({"obs52", "kom1", "kom2", "kom3"})
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
    "application/zip": _ZIP,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/vnd.oasis.opendocument.text": _ZIP,
    "application/vnd.etsi.asic-e+zip": _ZIP,
    "application/vnd.etsi.asic-s+zip": _ZIP,
    "application/msword": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "application/rtf": (b"{\\rtf",),
}
"""kom3: formats told by their first bytes. A type not listed here is not contradicted."""
_PDF_HEADER_WINDOW = 1024  # PDF readers accept "%PDF" anywhere in the first 1 KiB.


def _matches(mime: str, head: bytes) -> bool:
    signatures = SIGNATURES.get(mime)
    if signatures is None:
        return True
    if mime == "application/pdf":
        return b"%PDF" in head[:_PDF_HEADER_WINDOW]
    return head.startswith(signatures)


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
            if len(head) < _PDF_HEADER_WINDOW:
                head += chunk[: _PDF_HEADER_WINDOW - len(head)]
            digest.update(chunk)
        return digest.hexdigest(), reader.count, head


def _check_one(package: Package, member: str, file: etree._Element, ctx: Context) -> None:
    here = file
    size_text = (file.get("SIZE") or "").strip()
    declared = int(size_text) if size_text.isdigit() else None
    entry = package.entry(member)
    stored = entry.size if entry is not None else None
    if declared is None:
        ctx.fail("kom1", f"SIZE {size_text!r} není počet bajtů", here)
    elif stored is not None and stored != declared:
        ctx.fail("kom1", f"SIZE je {declared}, komponenta má {stored} B", here)
    algorithm = CHECKSUM_TYPES.get(file.get("CHECKSUMTYPE") or "")
    checksum = (file.get("CHECKSUM") or "").strip().lower()
    if declared is None or stored != declared:
        ctx.fail("kom2", "celistvost nelze ověřit: velikost nesouhlasí", here)
        return  # Never read a member whose size already disagrees.
    try:
        digest, count, head = _stream(package, member, declared, algorithm or "sha256")
    except MemberTooLargeError:
        ctx.fail(SPISYNC_ZIP, f"komponenta je větší než ohlášených {declared} B", member)
        ctx.fail("kom1", f"komponenta je větší než SIZE {declared} B", here)
        return
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        ctx.fail(SPISYNC_ZIP, f"komponentu nejde přečíst: {exc}", member)
        return
    if count != declared:
        ctx.fail("kom1", f"SIZE je {declared}, komponenta má {count} B", here)
    if algorithm is None:
        ctx.fail("kom2", f"CHECKSUMTYPE {file.get('CHECKSUMTYPE')!r} nelze ověřit", here)
    elif digest != checksum:
        ctx.fail("kom2", f"CHECKSUM {checksum!r}, skutečný {digest}", here)
    mime = (file.get("MIMETYPE") or "").split(";")[0].strip().lower()
    if not _matches(mime, head):
        ctx.fail("kom3", f"obsah neodpovídá MIMETYPE {mime!r}", here)


def check_files(doc: MetsDoc, package: Package, layout: Layout, ctx: Context) -> None:
    """Run obs52, kom1, kom2 and kom3 where the profile applies them."""
    if not any(ctx.applies(code) for code in CODES) or layout.folder is None:
        return
    targets = _check_obs52(doc, layout, ctx)
    ctx.ran.add("obs52")
    if not any(ctx.applies(code) for code in ("kom1", "kom2", "kom3")):
        return
    for href, file in targets.items():
        _check_one(package, f"{layout.folder}/{href}", file, ctx)
    for file in doc.files:
        link = _href(file)
        if link is not None and link not in targets:
            ctx.fail("kom1", "komponentu nelze najít, velikost nelze ověřit", file)
            ctx.fail("kom2", "komponentu nelze najít, celistvost nelze ověřit", file)
    ctx.ran.update({"kom1", "kom2", "kom3", SPISYNC_ZIP})
