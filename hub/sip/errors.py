"""Errors raised while building a SIP.

The tree::

    SipBuildError                 base: the package could not be built
    ├── InvalidSpisError          the spis metadata cannot form a valid package
    └── ComponentMismatchError    a komponenta's bytes differ from its metadata

A failed build never leaves a partial ZIP behind: the temporary file is removed
before the error propagates.
"""

from __future__ import annotations

__all__ = ["ComponentMismatchError", "InvalidSpisError", "SipBuildError"]


class SipBuildError(Exception):
    """Base of every error raised by `hub.sip`."""


class InvalidSpisError(SipBuildError):
    """The spis metadata cannot form a package the archive would accept."""


class ComponentMismatchError(SipBuildError):
    """A komponenta's bytes do not match its recorded size or SHA-256.

    Attributes:
        komponenta_id: Registry id of the komponenta.
    """

    def __init__(self, komponenta_id: str, detail: str) -> None:
        super().__init__(f"komponenta {komponenta_id}: {detail}")
        self.komponenta_id = komponenta_id
