"""IČO check digits and safe relative paths."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import (
    InvalidIcoError,
    UnsafePathError,
    is_valid_ico,
    safe_relative_path,
    validate_ico,
)
from protocol.paths import collision_key
from tests.protocol.strategies import safe_paths


@pytest.mark.parametrize("ico", ["00255319", "00509001", "00256765"])
def test_real_icos_from_the_domain_are_valid(ico: str) -> None:
    """Městys Čachrov, Obec Vlkava and Obec Klášter pass the check-digit rule."""
    assert validate_ico(ico) == ico


@pytest.mark.parametrize(
    ("ico", "why"),
    [
        ("00255318", "expected 9"),
        ("0025531", "exactly 8 digits"),
        ("002553190", "exactly 8 digits"),
        ("0025531a", "exactly 8 digits"),
        (
            "\uff10\uff10\uff12\uff15\uff15\uff13\uff11\uff19",
            "exactly 8 digits",
        ),  # full-width digits,
    ],
)
def test_invalid_icos_are_refused_with_the_reason(ico: str, why: str) -> None:
    """A wrong IČO is refused by a message naming it and what is wrong."""
    with pytest.raises(InvalidIcoError, match=why) as excinfo:
        validate_ico(ico)
    assert repr(ico) in str(excinfo.value)


@given(st.from_regex(r"[0-9]{8}", fullmatch=True))
def test_exactly_one_check_digit_is_valid(ico: str) -> None:
    """For any seven digits exactly one of the ten possible eighth digits is valid."""
    valid = [d for d in "0123456789" if is_valid_ico(ico[:7] + d)]
    assert len(valid) == 1


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("a/../b", "'..'"),
        ("a/./b", "'.'"),
        ("a//b", "empty"),
        ("a\\b", "backslash"),
        ("a\x00b", "U+0000"),
        ("a\nb", "U+000A"),
        ("a\u202eb", "U+202E"),
        ("x" * 256, "255 bytes"),
        ("ž" * 128, "255 bytes"),
        ("a/b:c", "Windows"),
        ("zpráva. ", "space or dot"),
        ("zpráva.", "space or dot"),
        ("CON", "reserves"),
        ("con.txt", "reserves"),
        ("spisy/Nul.tar.gz", "reserves"),
        ("aux", "reserves"),
        ("PRN.pdf", "reserves"),
        ("COM1", "reserves"),
        ("lpt9.doc", "reserves"),
        ("COM\u00b9.txt", "reserves"),
        ("LPT\u00b3", "reserves"),
        ("\uff23\uff2f\uff2e", "NFKC"),
        ("\uff0e\uff0e/etc", "reads as '..'"),
        ("a/\uff0e", "reads as '.'"),
        ("a/\u2025", "reads as '..'"),
        ("spisy\u2215tajne.pdf", "U+2215"),
        ("spisy\u2044tajne.pdf", "U+2044"),
        ("spisy\uff0ftajne.pdf", "U+FF0F"),
        ("spisy\uff3ctajne.pdf", "U+FF3C"),
        ("nazev\uff0e", "NFKC"),
    ],
)
def test_unsafe_paths_are_refused_with_the_reason(path: str, why: str) -> None:
    """Paths that could escape a folder or break a file system are refused, saying why."""
    with pytest.raises(UnsafePathError, match=re.escape(why)):
        safe_relative_path(path)


@pytest.mark.parametrize(
    "path",
    ["Console.txt", "COM10.pdf", "CONTRACT/nul-hodnota.txt", "Auxiliary", "a.b.c", "Žádost.pdf"],
)
def test_names_that_merely_resemble_reserved_ones_are_kept(path: str) -> None:
    """Names that only start like a device name, or contain dots inside, are legal on Windows and kept."""
    assert safe_relative_path(path) == path


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("case.txt", "CASE.TXT"),
        ("Spisy/Žádost.pdf", "spisy/ŽÁDOST.pdf"),
        ("ﬁle.txt", "file.txt"),
        ("Straße.doc", "STRASSE.doc"),
        ("dokument\uff12.pdf", "dokument2.pdf"),
    ],
)
def test_names_one_share_cannot_hold_both_have_one_collision_key(one: str, other: str) -> None:
    """Names differing only in case or by compatibility characters share a collision key."""
    assert collision_key(one) == collision_key(other)


def test_different_names_have_different_collision_keys() -> None:
    """Distinct names keep distinct keys, diacritics included."""
    names = ["zadost.pdf", "žádost.pdf", "Žádost 2.pdf", "spisy/a.pdf", "spisy-a.pdf"]
    assert len({collision_key(n) for n in names}) == len(names)


def test_nfd_names_normalise_to_nfc() -> None:
    """A name with decomposed diacritics (macOS, some SMB servers) arrives as NFC."""
    nfd = unicodedata.normalize("NFD", "Stavební úřad/Žádost.pdf")
    assert nfd != "Stavební úřad/Žádost.pdf"
    assert safe_relative_path(nfd) == "Stavební úřad/Žádost.pdf"


@given(safe_paths)
def test_safe_paths_are_kept_and_idempotent(path: str) -> None:
    """A safe NFC path is returned unchanged, and normalising twice changes nothing."""
    normalised = safe_relative_path(path)
    assert normalised == unicodedata.normalize("NFC", path)
    assert safe_relative_path(normalised) == normalised


@given(st.text(max_size=60))
def test_any_text_is_either_safe_or_refused(text: str) -> None:
    """Arbitrary text never crashes the check: it is normalised or refused with UnsafePathError."""
    try:
        result = safe_relative_path(text)
    except UnsafePathError:
        return
    assert ".." not in result.split("/")
    assert not result.startswith("/")
