"""Content formats: the signatures telling a file's type by its bytes; the rules' format lists.

One table for the whole project: the hub reads the MIME type it writes into a
package (``mets:file/@MIMETYPE``) from these signatures, and the validator's
rule kom3 checks a declared MIME type against the same signatures, so the two
can never disagree about what a PDF or a PNG looks like. Pure data and pure
functions over bytes already read: no I/O, nothing done at import.

`OUTPUT_FORMATS` is the list of výstupní datové formáty of rule obs107
(§ 23 odst. 2 vyhlášky č. 259/2012 Sb.); `WORD_PROCESSING` those of obs105,
whose originál needs a komponenta in an output format beside it; and
`CONTAINER_FORMATS` / `ZIP_FORMATS` those of obs109 and obs110.
"""

from __future__ import annotations

__all__ = [
    "CONTAINER_FORMATS",
    "OUTPUT_FORMATS",
    "PDF_MARK",
    "PDF_WINDOW",
    "SIGNATURES",
    "WORD_PROCESSING",
    "ZIP_BASED",
    "ZIP_FORMATS",
    "ZIP_MAGIC",
    "signature_matches",
]

OUTPUT_FORMATS = (
    "application/pdf",
    "image/png",
    "image/tiff",
    "image/jpeg",
    "video/mpeg",
    "image/gif",
    "audio/mpeg",
    "audio/x-wav",
    "application/xml",
    "application/xml-dtd",
)
"""Výstupní datové formáty: the MIME types rule obs107 allows (originál ve výstupním formátu)."""

WORD_PROCESSING = frozenset(
    {
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/rtf",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.apple.pages",
    }
)
"""Rule obs105: an originál in one of these needs an originál ve výstupním datovém formátu."""

ZIP_FORMATS = frozenset(
    {
        "application/zip",
        "application/zip-compressed",
        "application/x-zip-compressed",
        "multipart/x-zip",
        "application/vnd.etsi.asic-e+zip",
        "application/vnd.etsi.asic-s+zip",
    }
)
"""Rule obs109: a komponenta of one of these types is a kontejner."""

CONTAINER_FORMATS = frozenset(
    {
        "application/vnd.etsi.asic-e+zip",
        "application/vnd.etsi.asic-s+zip",
        "application/vnd.software602.filler.form+xml",
        "application/vnd.software602.filler.form-xml-zip",
        "message/rfc822",
        "application/vnd.isac.fcs.isdocx",
        "application/zip",
        "application/zip-compressed",
        "application/x-zip-compressed",
        "multipart/x-zip",
        "application/pdf",
    }
)
"""Rule obs110: the MIME types a kontejner may have."""

PDF_MARK = b"%PDF-"
PDF_WINDOW = 1024
"""PDF readers accept the header `PDF_MARK` anywhere in the first KiB, so both sides do."""

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
"""A ZIP file (or an empty one) starts with one of these."""

ZIP_BASED = frozenset(
    {
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.oasis.opendocument.graphics",
        "application/vnd.etsi.asic-e+zip",
        "application/vnd.etsi.asic-s+zip",
        "application/vnd.software602.filler.form-xml-zip",
    }
)
"""Formats stored as a ZIP: their bytes start with `ZIP_MAGIC`; the names inside tell them apart."""

SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"\x00\x00\x01\xba", "video/mpeg"),
    (0, b"\x00\x00\x01\xb3", "video/mpeg"),
    (0, b"BM", "image/bmp"),
    (4, b"ftyp", "video/mp4"),
    (8, b"WAVE", "audio/x-wav"),  # after "RIFF"
    (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"\xff\xf3", "audio/mpeg"),
    (0, b"\xff\xf2", "audio/mpeg"),
)
"""(offset, magic bytes, MIME type): the fixed-byte formats besides PDF and the ZIP-based ones."""


def signature_matches(mime: str, head: bytes) -> bool | None:
    """Return whether `head` (a file's first bytes) carries the signature of `mime`.

    Args:
        mime: A MIME type, lower case, without parameters.
        head: At least the file's first `PDF_WINDOW` bytes, or all of a shorter file.

    Returns:
        True or False for a type with a known signature; None for a type this
        table does not know, which the bytes therefore cannot contradict.
    """
    if mime == "application/pdf":
        return PDF_MARK in head[:PDF_WINDOW]
    if mime in ZIP_BASED:
        return head.startswith(ZIP_MAGIC)
    magics = [(offset, magic) for offset, magic, known in SIGNATURES if known == mime]
    if not magics:
        return None
    return any(head[offset : offset + len(magic)] == magic for offset, magic in magics)
