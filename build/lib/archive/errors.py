"""Errors of the archive consumer.

Two kinds settle a delivery (control flow, see `archive.consumer`); the others
are failures of the archive itself.

The tree::

    ArchiveError (SpisyncError)   base of every error the archive raises on purpose
    ├── RejectedSipError          the SIP is refused: reply `SipRejected` with its failures
    │   ├── IncompleteSipError    SIP-INCOMPLETE: chunks missing when the manifest came
    │   ├── SipMismatchError      SIP-MANIFEST / SIP-SHA256: bytes differ from the manifest
    │   ├── SipConflictError      SIP-CONFLICT: another package is stored under the name
    │   └── InvalidSipError       the validator's rules (XSD, METS, files, ...)
    ├── DeadLetterError           a message that is no valid archive message: dead-letter it
    └── StoreError                the disk or the index failed; the delivery is not acked
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spisync.errors import SpisyncError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from protocol import RuleFailure

__all__ = [
    "SIP_CONFLICT",
    "SIP_INCOMPLETE",
    "SIP_MANIFEST",
    "SIP_SHA256",
    "ArchiveError",
    "DeadLetterError",
    "IncompleteSipError",
    "InvalidSipError",
    "RejectedSipError",
    "SipConflictError",
    "SipMismatchError",
    "StoreError",
]

SIP_INCOMPLETE = "SIP-INCOMPLETE"
"""Rule code: chunks of the SIP were missing when its manifest arrived."""
SIP_MANIFEST = "SIP-MANIFEST"
"""Rule code: the manifest's chunk list cannot describe its size."""
SIP_SHA256 = "SIP-SHA256"
"""Rule code: the reassembled bytes differ from the manifest's size or SHA-256."""
SIP_CONFLICT = "SIP-CONFLICT"
"""Rule code: a different package is already stored under the same name."""


class ArchiveError(SpisyncError):
    """Base of every error the archive consumer raises on purpose."""


class RejectedSipError(ArchiveError):
    """The archive refuses a SIP; the hub gets `SipRejected` with `failures`.

    Attributes:
        failures: Every failed rule, in wire form.
    """

    def __init__(self, failures: Sequence[RuleFailure]) -> None:
        self.failures = tuple(failures)
        super().__init__("; ".join(f"{f.code}: {f.message}" for f in self.failures))

    @property
    def codes(self) -> list[str]:
        """The rule codes, in order."""
        return [failure.code for failure in self.failures]


class IncompleteSipError(RejectedSipError):
    """Chunks are missing; the hub re-sends the SIP.

    Attributes:
        missing: Indexes of the missing chunks, ascending.
    """

    def __init__(self, failures: Sequence[RuleFailure], missing: Sequence[int]) -> None:
        super().__init__(failures)
        self.missing = tuple(missing)


class SipMismatchError(RejectedSipError):
    """The bytes (or the chunk list) do not match the manifest."""


class SipConflictError(RejectedSipError):
    """A different package already holds the name; the stored one is kept."""


class InvalidSipError(RejectedSipError):
    """The package fails the validator's rules."""


class DeadLetterError(ArchiveError):
    """A message that cannot be an archive message: it goes to `spisync.dead`.

    Attributes:
        reason: Short machine-readable reason (the `x-spisync-reject-reason` header).
        detail: What exactly is wrong, for the operator.
        security: True when the message claims an identity it does not have.
    """

    def __init__(self, reason: str, detail: str, *, security: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.security = security


class StoreError(ArchiveError):
    """Staging, reassembling or storing failed for a reason of the archive's own."""
