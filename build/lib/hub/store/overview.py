"""Read-only figures for the operator console and `/metrics`, straight from the metadata store.

Nothing here is kept in a hub process's memory: every hub process that asks
gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from hub.store.models import FileSummary
    from protocol import Heartbeat

__all__ = ["HubTotals", "ObecFigures", "OverviewReader", "RecentVersion"]


@dataclass(frozen=True, slots=True)
class ObecFigures:
    """What the hub holds of one obec.

    Attributes:
        ico: The obec.
        last_message_at: When it last sent anything the hub applied.
        heartbeat_at: When the hub received its latest heartbeat.
        heartbeat: That heartbeat (None before the first).
        files: Paths with a current, non-deleted version.
        versions: Every file version and tombstone.
        bytes: Sum of the sizes of the current files.
        spisy: Spisy by hub state (`open`, `closed`, `forwarded`, `archived`).
    """

    ico: str
    last_message_at: datetime | None = None
    heartbeat_at: datetime | None = None
    heartbeat: Heartbeat | None = None
    files: int = 0
    versions: int = 0
    bytes: int = 0
    spisy: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecentVersion:
    """A file version or tombstone recorded lately (the obec page's recent events)."""

    path: str
    recorded_at: datetime
    size: int | None
    deleted: bool


@dataclass(frozen=True, slots=True)
class HubTotals:
    """Hub-wide figures for `/metrics`.

    Attributes:
        messages: Metadata messages applied, by obec.
        chunks: Chunks received and stored, by obec.
        chunk_bytes: Bytes of those chunks, by obec.
        sips: SIPs by state.
        closing_to_acceptance_s: For each accepted SIP, seconds from the spis's
            closing to the archive's acceptance.
    """

    messages: dict[str, int]
    chunks: dict[str, int]
    chunk_bytes: dict[str, int]
    sips: dict[str, int]
    closing_to_acceptance_s: list[float]


class OverviewReader(Protocol):
    """Queries behind the console's pages, its API and `/metrics`."""

    async def obce_figures(self, icos: list[str] | None = None) -> dict[str, ObecFigures]:
        """Return the figures of every obec the hub has heard of (or of `icos`), by IČO."""
        ...

    async def find_files(
        self, ico: str, query: str = "", *, limit: int = 200, offset: int = 0
    ) -> tuple[list[FileSummary], int]:
        """Return current files whose path contains `query` (a page of them) and how many match."""
        ...

    async def recent_versions(self, ico: str, *, limit: int = 20) -> list[RecentVersion]:
        """Return the obec's latest recorded file versions and tombstones, newest first."""
        ...

    async def hub_totals(self) -> HubTotals:
        """Return the hub-wide figures for `/metrics`."""
        ...
