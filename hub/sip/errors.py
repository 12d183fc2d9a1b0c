"""Errors raised while building a SIP.

The tree::

    SipBuildError                 base: the package could not be built
    ├── InvalidSpisError          the spis metadata cannot form a valid package
    │   └── MissingMetadataError  the registry lacks fields the standard requires
    └── ComponentMismatchError    a komponenta's bytes differ from its metadata

A failed build never leaves a partial ZIP behind: the temporary file is removed
before the error propagates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ComponentMismatchError", "InvalidSpisError", "MissingMetadataError", "SipBuildError"]


class SipBuildError(Exception):
    """Base of every error raised by `hub.sip`."""


class InvalidSpisError(SipBuildError):
    """The spis metadata cannot form a package the archive would accept.

    Attributes:
        problems: One line per rule the data breaks, each naming the record and field.
        missing: Fields the registry lacks and the hub waits for.
    """

    def __init__(
        self, message: str, *, problems: Sequence[str] = (), missing: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.missing = tuple(missing)
        self.problems = tuple(problems) or (() if self.missing else (message,))


class MissingMetadataError(InvalidSpisError):
    """The registry lacks fields the standard requires, and the hub waits for them.

    `missing` lists the fields, e.g. ``"spis S-1: zpracovatel_utvar"``.
    """

    def __init__(self, fields: Sequence[str]) -> None:
        super().__init__(f"v evidenci chybí: {', '.join(fields)}", missing=fields)


class ComponentMismatchError(SipBuildError):
    """A komponenta's bytes do not match its recorded size or SHA-256.

    Attributes:
        komponenta_id: Registry id of the komponenta.
    """

    def __init__(self, komponenta_id: str, detail: str) -> None:
        super().__init__(f"komponenta {komponenta_id}: {detail}")
        self.komponenta_id = komponenta_id
