"""Names inside and of a SIP: the package name and the component file names.

Both must survive every archive's file system and URL handling, so they are
folded to ASCII and restricted to a small alphabet; both are pure functions of
their inputs so a rebuilt package gets the same names.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING

from hub.sip.errors import SipBuildError

if TYPE_CHECKING:
    from hub.sip.model import Dokument, Komponenta

__all__ = ["SIP_NAME_PATTERN", "component_file_name", "sip_name"]

SIP_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What NSESSS annex 2 allows as the name of a SIP (ZIP and its folder)."""

_SIP_NAME_MAX = 64
_ICO_MAX = 16
_HASH_CHARS = 10
_STEM_MAX = 80
_SUFFIX_MAX = 10


def _fold_ascii(text: str) -> str:
    """Drop diacritics ("Žďár" -> "Zdar") and anything else outside ASCII."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _short_hash(text: str) -> str:
    # surrogatepass: a str from a broken decoder still hashes instead of raising.
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:_HASH_CHARS]


def sip_name(ico: str, spis_id: str, closing_seq: int) -> str:
    """Return the stable name of the SIP for one closing of a spis.

    The name is ``SIP_<ico>_<spis part>_<closing_seq>``. The spis part is the
    spis id itself when it is short and uses only ``A-Za-z0-9-``; otherwise an
    ASCII-folded prefix of it followed by a hash of the full id, so two ids
    that fold alike still get different names.

    Args:
        ico: IČO of the obec.
        spis_id: Registry id of the spis (any text).
        closing_seq: Which closing of the spis (0 or more; a reopened spis
            closes again and gets a new package).

    Returns:
        A name matching ``[A-Za-z0-9_-]{1,64}``.

    Raises:
        SipBuildError: If `closing_seq` is negative.
    """
    if closing_seq < 0:
        raise SipBuildError(f"closing_seq must be >= 0, got {closing_seq}")
    ico_part = re.sub(r"[^A-Za-z0-9]", "", _fold_ascii(ico))[:_ICO_MAX] or "0"
    seq_part = str(closing_seq)
    budget = _SIP_NAME_MAX - len("SIP___") - len(ico_part) - len(seq_part)
    if budget < _HASH_CHARS:
        raise SipBuildError(f"closing_seq {closing_seq} is too large for a SIP name")
    if re.fullmatch(r"[A-Za-z0-9-]+", spis_id) and len(spis_id) <= budget:
        spis_part = spis_id
    else:
        prefix = re.sub(r"[^A-Za-z0-9-]+", "-", _fold_ascii(spis_id)).strip("-")
        prefix = prefix[: budget - _HASH_CHARS - 1].rstrip("-")
        digest = _short_hash(spis_id)
        spis_part = f"{prefix}-{digest}" if prefix else digest
    return f"SIP_{ico_part}_{spis_part}_{seq_part}"


def _safe_file_name(original: str) -> str:
    folded = _fold_ascii(original.replace("\\", "/").rsplit("/", 1)[-1])
    stem, dot, suffix = folded.rpartition(".")
    if not dot:
        stem, suffix = folded, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:_STEM_MAX] or "soubor"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix)[:_SUFFIX_MAX]
    return f"{stem}.{suffix}" if suffix else stem


def component_file_name(dokument: Dokument, komponenta: Komponenta) -> str:
    """Return the file name of a komponenta inside ``komponenty/``.

    ``<dokument poradi>_<komponenta poradi>_v<verze>_<safe original name>``:
    the numeric prefix makes names unique within a spis whose pořadí are
    consistent (the builder checks that), the rest keeps them recognisable.

    Args:
        dokument: The dokument the komponenta belongs to.
        komponenta: The komponenta.

    Returns:
        A name using only ``A-Za-z0-9._-`` that never starts with a dot.
    """
    safe = _safe_file_name(komponenta.file_name)
    return f"{dokument.poradi}_{komponenta.poradi}_v{komponenta.verze}_{safe}"
