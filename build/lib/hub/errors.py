"""Errors of the hub.

The tree::

    SpisyncError                      (spisync.errors) base of every deliberate error
    └── HubError                      anything the hub raises on purpose
        ├── StoreError                the metadata database is unusable (schema too new, corrupt)
        │   └── StoreUnavailableError it cannot serve now (disk full, I/O error, locked)
        ├── BlobError                 a blob store refused a request
        │   ├── BlobHashMismatchError bytes whose SHA-256 is not the one they claim
        │   └── BlobNotFoundError     no blob with that SHA-256
        └── DeliverySettlement        control flow: how to settle a delivery instead of acking it
            ├── RejectDelivery        dead-letter a copy with a reason header, then ack
            └── RetryLater            storage unavailable: roll back, wait, try the batch again

`DeliverySettlement` subclasses are raised by the inspection step and by
handlers and caught by the batcher, which settles the delivery accordingly;
they never escape the service.
"""

from __future__ import annotations

from spisync.errors import SpisyncError

__all__ = [
    "BlobError",
    "BlobHashMismatchError",
    "BlobNotFoundError",
    "DeliverySettlement",
    "HubError",
    "RejectDelivery",
    "RetryLater",
    "StoreError",
    "StoreUnavailableError",
]


class HubError(SpisyncError):
    """Base of every error the hub raises on purpose."""


class StoreError(HubError):
    """The metadata database cannot be used (for example its schema is newer than the code)."""


class StoreUnavailableError(StoreError):
    """The metadata database cannot serve a request now (disk full, I/O error, locked).

    Not the fault of what was being written: the batcher holds the batch and
    tries it again later, exactly as when the blob store is full.
    """


class BlobError(HubError):
    """A blob store refused or failed a request."""


class BlobHashMismatchError(BlobError):
    """Bytes whose SHA-256 differs from the hash they were stored under.

    Attributes:
        expected: The hash the caller claimed.
        actual: The hash of the bytes.
    """

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"blob claimed sha256 {expected} but hashes to {actual}")
        self.expected = expected
        self.actual = actual


class BlobNotFoundError(BlobError):
    """No blob is stored under the SHA-256."""


class DeliverySettlement(HubError):  # noqa: N818 - control flow, not an error (arq's `Retry`)
    """Control flow: settle the current delivery some other way than a plain ack."""


class RejectDelivery(DeliverySettlement):
    """Dead-letter the delivery with a reason, change nothing, and ack it.

    Attributes:
        reason: Short machine-readable reason (`x-spisync-reject-reason`).
        detail: Human-readable detail (`x-spisync-reject-detail`).
        security: Whether the rejection is a security event (identity mismatch).
    """

    def __init__(self, reason: str, detail: str, *, security: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.security = security


class RetryLater(DeliverySettlement):
    """A dependency (blob store, database) is unavailable: retry the batch after `defer_s`.

    Attributes:
        defer_s: Seconds to wait before the next attempt.
    """

    def __init__(self, message: str, *, defer_s: float = 2.0) -> None:
        super().__init__(message)
        self.defer_s = defer_s
