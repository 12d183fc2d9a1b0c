"""The MIME type read from a file's bytes.

The MIME type goes into the package (``mets:file/@MIMETYPE``), and the
national rules obs41 and kom3 require it to match the referenced file, so it
is detected from the content (magic bytes, and for ZIP-based formats the
names inside), never from the file name. The detector is pure Python over the
shared table of `spisync.formats` (the one the validator's kom3 reads), so the
same bytes get the same type on every machine and a rebuilt package stays
byte-identical (a system libmagic differs by version).
"""

from __future__ import annotations

import re
import zipfile
from typing import TYPE_CHECKING

from spisync.formats import PDF_MARK, PDF_WINDOW, SIGNATURES, ZIP_BASED, ZIP_MAGIC

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["detect_mime", "is_pdfa"]

_HEAD = 8192
_PDFA_SCAN = 4 * 1024 * 1024
_OCTET = "application/octet-stream"
_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
# ODF, ASiC and 602 name their type in a `mimetype` entry; OOXML and plain ZIP do not.
_ODF_AND_ASIC = ZIP_BASED - {"application/zip", *_OOXML.values()}
_MAIL_HEADER = re.compile(
    rb"(?im)^(received|from|message-id|mime-version|return-path|date|subject):[ \t]"
)


def _zip_type(path: Path) -> str:
    """Tell the ZIP-based formats apart by the names (and ``mimetype`` entry) inside."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared in _ODF_AND_ASIC:
                    return declared
            for prefix, mime in _OOXML.items():
                if "[Content_Types].xml" in names and any(n.startswith(prefix) for n in names):
                    return mime
    except (zipfile.BadZipFile, OSError, ValueError, KeyError):
        pass
    return "application/zip"


def _text_type(head: bytes) -> str:
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"<?xml"):
        return "application/xml"
    if stripped[:9].lower() in {b"<!doctype", b"<html"} or stripped[:5].lower() == b"<html":
        return "text/html"
    if _MAIL_HEADER.match(stripped) and b"\n\n" in head.replace(b"\r\n", b"\n"):
        return "message/rfc822"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is still text.
        if exc.start < len(head) - 4:
            return _OCTET
    if any(byte < 0x09 or 0x0D < byte < 0x20 for byte in head if byte != 0x1B):
        return _OCTET
    return "text/plain"


def detect_mime(path: Path) -> str:
    """Return the MIME type of the file at `path`, from its content.

    Args:
        path: The file.

    Returns:
        A MIME type such as ``"application/pdf"``; ``application/octet-stream``
        when the content matches nothing known.
    """
    with path.open("rb") as handle:
        head = handle.read(_HEAD)
    if not head:
        return _OCTET
    if PDF_MARK in head[:PDF_WINDOW]:
        # PDF readers (and the validator's kom3) accept the header anywhere in the first KiB.
        return "application/pdf"
    if head.startswith(ZIP_MAGIC):
        return _zip_type(path)
    for offset, magic, mime in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return mime
    return _text_type(head)


def is_pdfa(path: Path) -> bool:
    """Return whether a PDF declares PDF/A conformance (``pdfaid:part`` in its XMP).

    A declaration is not proof of conformance (rule kom4 needs a validator
    such as veraPDF), but a PDF without one is certainly not PDF/A.
    """
    with path.open("rb") as handle:
        head = handle.read(_PDFA_SCAN)
        handle.seek(0, 2)
        size = handle.tell()
        tail = b""
        if size > _PDFA_SCAN:
            handle.seek(max(_PDFA_SCAN, size - _PDFA_SCAN))
            tail = handle.read()
    return b"pdfaid:part" in head or b"pdfaid:part" in tail
