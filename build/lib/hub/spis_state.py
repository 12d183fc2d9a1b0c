"""The hub state of a spis, as pure transitions.

::

    open ──SpisClosed──► closed ──content complete──► (ready) ──SIP forwarded──► forwarded
      ▲                    │                                                      │
      └────SpisReopened────┴────────────── SpisReopened ◄──── archived ◄──confirmed┘

`closed` means "waiting for content" until `complete_at` is set; the closing
step (`hub.closing`) then builds the SIP. Close and reopen events carry the
registry's `source_version`; one not newer than the last applied is ignored,
so a redelivered or late event never moves the state backwards.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from hub.store.models import SpisStateRow

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["on_closed", "on_complete", "on_incomplete", "on_reopened"]


def on_closed(
    current: SpisStateRow | None,
    *,
    ico: str,
    spis_id: str,
    source_version: int,
    closed_at: datetime,
) -> SpisStateRow | None:
    """Return the state after a `SpisClosed`, or None if nothing changes."""
    if current is None:
        return SpisStateRow(
            ico=ico,
            spis_id=spis_id,
            state="closed",
            state_version=source_version,
            closing_seq=1,
            closed_at=closed_at,
        )
    if source_version <= current.state_version:
        return None
    if current.state != "open":
        # Already closed in this closing (a repeated close without a reopen between).
        return dataclasses.replace(current, state_version=source_version)
    return dataclasses.replace(
        current,
        state="closed",
        state_version=source_version,
        closing_seq=current.closing_seq + 1,
        closed_at=closed_at,
        complete_at=None,
        forwarded_at=None,
        archived_at=None,
        # The new closing gets its own SIP; the previous one's stays in the SIP ledger.
        sip_name=None,
        sip_sha256=None,
    )


def on_reopened(
    current: SpisStateRow | None, *, ico: str, spis_id: str, source_version: int
) -> SpisStateRow | None:
    """Return the state after a `SpisReopened`, or None if nothing changes."""
    if current is None:
        # Reopened before we saw it closed: remember the version so a late,
        # older close cannot close it.
        return SpisStateRow(
            ico=ico, spis_id=spis_id, state="open", state_version=source_version, closing_seq=0
        )
    if source_version <= current.state_version:
        return None
    return dataclasses.replace(
        current, state="open", state_version=source_version, complete_at=None
    )


def on_complete(current: SpisStateRow, *, at: datetime) -> SpisStateRow:
    """Return the state of a closed spis whose content became complete."""
    assert current.state == "closed"
    return dataclasses.replace(current, complete_at=at)


def on_incomplete(current: SpisStateRow) -> SpisStateRow:
    """Return the state of a spis found complete too early: waiting for content again."""
    assert current.state == "closed"
    return dataclasses.replace(current, complete_at=None)
