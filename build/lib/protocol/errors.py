"""Errors of the protocol package.

The tree::

    ProtocolError                 anything the protocol rejects
    ├── DecodeError               bytes or headers that are not a valid message
    ├── InvalidIcoError           an IČO with the wrong form or check digit
    └── UnsafePathError           a relative path that cannot be sent safely
"""

from __future__ import annotations

__all__ = ["DecodeError", "InvalidIcoError", "ProtocolError", "UnsafePathError"]


class ProtocolError(ValueError):
    """Base of every error the protocol raises; a `ValueError` so msgspec wraps it."""


class DecodeError(ProtocolError):
    """A body or header set that does not decode into a valid message."""


class InvalidIcoError(ProtocolError):
    """An IČO that is not eight digits with a valid check digit."""


class UnsafePathError(ProtocolError):
    """A relative path that could escape its folder or is not portable.

    Attributes:
        path: The offending path as given.
        reason: What is wrong with it, in plain words.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"unsafe path {path!r}: {reason}")
        self.path = path
        self.reason = reason
