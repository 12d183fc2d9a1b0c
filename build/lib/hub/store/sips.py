"""The SIP ledger interface: the hub's durable outbox to the archive and its release log.

One row per SIP (one closing of one spis) moves through `SipState`; the
content hashes a SIP was built from are recorded with it, so the release step
knows exactly which contents left for the archive, whatever the live
komponenta → file links say by then. Blob release is two-phase: first the
metadata forgets the chunks (`release_content`), then, holding the write lock,
blobs without a chunk row are deleted (`delete_released_blobs`). See
`hub.forwarding.release` for the rule of what may be released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from hub.store.blobs import BlobStore
    from hub.store.models import SipFailure, SipRow

__all__ = ["ReleaseOutcome", "ReleaseResult", "SipLedger"]

ReleaseOutcome = Literal["released", "already_released", "referenced", "unknown"]
"""What `release_content` did: released it, or nothing (done before, still needed, unknown)."""


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    """The outcome of releasing one content.

    Attributes:
        outcome: What happened.
        blocker: What still references the content (when `referenced`), for the log.
        chunks: How many chunk blobs were queued for deletion.
    """

    outcome: ReleaseOutcome
    blocker: str | None = None
    chunks: int = 0


class SipLedger(Protocol):
    """The SIPs the hub built, their delivery to the archive, and the release of their blobs."""

    async def sip(self, name: str) -> SipRow | None:
        """Return the SIP of that name."""
        ...

    async def sip_for(self, ico: str, spis_id: str, closing_seq: int) -> SipRow | None:
        """Return the SIP of one closing of a spis."""
        ...

    async def sips_of(self, ico: str) -> list[SipRow]:
        """Return every SIP of obec `ico`."""
        ...

    async def record_built(
        self,
        *,
        name: str,
        ico: str,
        spis_id: str,
        closing_seq: int,
        sha256: str,
        size: int,
        components: Collection[str],
        at: datetime,
        notes: Collection[SipFailure] = (),
    ) -> SipRow:
        """Record a built SIP (state `built`) with the content hashes it holds.

        A SIP already recorded in another state than `failed` is kept as it is
        and returned (the closing step is idempotent). `notes` say what it
        holds besides the registry's data (see `SipRow.notes`).
        """
        ...

    async def record_failed(
        self,
        *,
        name: str,
        ico: str,
        spis_id: str,
        closing_seq: int,
        failures: Collection[SipFailure],
        at: datetime,
    ) -> None:
        """Record that the SIP could not be built (state `failed`, with why)."""
        ...

    async def due(self, *, resend_before: datetime) -> list[SipRow]:
        """Return SIPs to send: `built`, or `forwarded` without a reply since `resend_before`."""
        ...

    async def mark_sent(self, name: str, *, at: datetime) -> bool:
        """Note that the manifest was confirmed: `built`/`forwarded` → `forwarded`."""
        ...

    async def mark_accepted(self, name: str, *, archive_id: str, at: datetime) -> bool:
        """Note the archive's acceptance; False if the SIP is not `built`/`forwarded`/`accepted`."""
        ...

    async def request_resend(self, name: str, chunks: Collection[int] | None) -> bool:
        """Ask for `chunks` (None: all) to be sent again, then the manifest; back to `built`."""
        ...

    async def mark_rejected(self, name: str, failures: Collection[SipFailure]) -> bool:
        """Note a final rejection with its failures; False if the SIP is already accepted."""
        ...

    async def add_failure(self, name: str, failure: SipFailure) -> None:
        """Append a failure without changing the state (an integrity event)."""
        ...

    async def releasable(self, *, accepted_before: datetime) -> list[SipRow]:
        """Return accepted, unreleased SIPs whose acceptance is older than `accepted_before`."""
        ...

    async def components(self, name: str) -> list[str]:
        """Return the content hashes a SIP was built from."""
        ...

    async def release_content(self, sha256: str, *, at: datetime) -> ReleaseResult:
        """Release a content unless something live still references it (see module docstring)."""
        ...

    async def mark_released(self, name: str, *, at: datetime) -> None:
        """Note that a SIP's release was done."""
        ...

    async def delete_released_blobs(self, blobs: BlobStore, *, limit: int) -> int:
        """Delete up to `limit` blobs of released chunks that nothing re-added; return how many."""
        ...

    async def prune_deletions(self, *, before: datetime) -> int:
        """Forget blob deletions done before `before`; return how many."""
        ...
