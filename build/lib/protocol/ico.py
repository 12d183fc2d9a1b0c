"""IČO (identifikační číslo osoby) validation.

The check digit uses weights 8..2 on the first seven digits; r = sum mod 11;
the eighth digit is 1 when r = 0, 0 when r = 1, else 11 - r.
"""

from __future__ import annotations

from protocol.errors import InvalidIcoError

__all__ = ["ico_check_digit", "is_valid_ico", "validate_ico"]

_WEIGHTS = (8, 7, 6, 5, 4, 3, 2)


def ico_check_digit(first_seven: str) -> int:
    """Return the check digit for the first seven digits of an IČO.

    Args:
        first_seven: Exactly seven ASCII digits.

    Returns:
        The eighth digit the IČO must end with.
    """
    remainder = sum(int(d) * w for d, w in zip(first_seven, _WEIGHTS, strict=True)) % 11
    if remainder == 0:
        return 1
    if remainder == 1:
        return 0
    return 11 - remainder


def validate_ico(value: str) -> str:
    """Return `value` if it is a valid IČO, else raise.

    Args:
        value: The IČO as text.

    Raises:
        InvalidIcoError: Naming the value and what is wrong with it.
    """
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise InvalidIcoError(f"IČO {value!r} must be exactly 8 digits")
    expected = ico_check_digit(value[:7])
    if int(value[7]) != expected:
        raise InvalidIcoError(
            f"IČO {value!r} has check digit {value[7]}, expected {expected}",
        )
    return value


def is_valid_ico(value: str) -> bool:
    """Tell whether `value` is a valid IČO."""
    try:
        validate_ico(value)
    except InvalidIcoError:
        return False
    return True
