"""The console's read-only figures (`hub.store.overview.OverviewReader`) in SQLite.

Each figure is one grouped query over all obce, so the overview of a thousand
obce costs a handful of statements, not thousands.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import msgspec

from hub.store.overview import HubTotals, ObecFigures, RecentVersion
from hub.store.sqlite_rows import FILE_SUMMARY_SELECT, file_summary, from_ts, placeholders
from protocol import Heartbeat

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.store.models import FileSummary

__all__ = ["SqliteOverviewReader"]

# Current (latest, not deleted) files per obec in one walk of the (ico, path,
# source_seq) unique index, not the `files` view's per-row subqueries. With
# max(), SQLite takes the bare columns `size` and `deleted` from the row that
# holds the maximum (documented: "bare columns in an aggregate query").
_CURRENT_FILES = (
    "SELECT ico, count(*), coalesce(sum(size), 0) FROM ("
    "SELECT ico, path, max(source_seq), size, deleted FROM file_versions WHERE {only} "
    "GROUP BY ico, path) WHERE deleted = 0 GROUP BY ico"
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqliteOverviewReader:
    """An `OverviewReader` on the metadata store's read connection.

    Args:
        read: Runs a query on the store's reader.
    """

    def __init__(self, read: Callable[..., Awaitable[list[tuple[Any, ...]]]]) -> None:
        self._read = read

    async def obce_figures(self, icos: list[str] | None = None) -> dict[str, ObecFigures]:
        """Return every obec's figures (or those of `icos`) by IČO."""
        args = list(icos or ())

        def only(column: str) -> str:
            if icos is None:
                return "1"
            return f"{column} IN ({placeholders(len(icos))})" if icos else "0"

        seen = {
            ico: from_ts(at)
            for ico, at in await self._read(
                f"SELECT ico, last_message_at FROM obce WHERE {only('ico')}",  # noqa: S608 - placeholders only
                *args,
            )
        }
        beats: dict[str, tuple[Any, Heartbeat]] = {}
        for ico, received_at, text in await self._read(
            f"SELECT ico, received_at, heartbeat FROM heartbeats WHERE {only('ico')}",  # noqa: S608 - placeholders only
            *args,
        ):
            with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
                beats[ico] = (from_ts(received_at), msgspec.json.decode(text, type=Heartbeat))
        files: dict[str, tuple[int, int]] = {}
        for ico, count, size in await self._read(
            _CURRENT_FILES.format(only=only("ico")),
            *args,
        ):
            files[ico] = (count, size)
        versions: dict[str, int] = dict(
            await self._read(
                f"SELECT ico, count(*) FROM file_versions WHERE {only('ico')} GROUP BY ico",  # noqa: S608 - placeholders only
                *args,
            )
        )
        spisy = await self._spisy_by_state(only("ico"), args)
        result = {}
        for ico in sorted(
            seen.keys() | beats.keys() | files.keys() | versions.keys() | spisy.keys()
        ):
            beat_at, beat = beats.get(ico, (None, None))
            count, size = files.get(ico, (0, 0))
            result[ico] = ObecFigures(
                ico=ico,
                last_message_at=seen.get(ico),
                heartbeat_at=beat_at,
                heartbeat=beat,
                files=count,
                versions=versions.get(ico, 0),
                bytes=size,
                spisy=dict(spisy.get(ico, {})),
            )
        return result

    async def _spisy_by_state(self, only: str, args: list[str]) -> dict[str, dict[str, int]]:
        """Spisy per hub state: the closed ones from `spis_state`, the rest are open.

        Two small grouped queries instead of a join: the join reads every
        spis row with its snapshot, ten times slower for a thousand obce.
        """
        totals = dict(
            await self._read(
                f"SELECT ico, count(*) FROM spisy WHERE deleted = 0 AND {only} GROUP BY ico",  # noqa: S608 - placeholders only
                *args,
            )
        )
        spisy: dict[str, dict[str, int]] = defaultdict(dict)
        for ico, state, count in await self._read(
            f"SELECT ico, state, count(*) FROM spis_state WHERE state != 'open' AND {only} "  # noqa: S608 - placeholders only
            "GROUP BY 1, 2",
            *args,
        ):
            spisy[ico][state] = count
        for ico, total in totals.items():
            spisy[ico]["open"] = max(0, total - sum(spisy[ico].values()))
        return spisy

    async def find_files(
        self, ico: str, query: str = "", *, limit: int = 200, offset: int = 0
    ) -> tuple[list[FileSummary], int]:
        """Return a page of current files whose path contains `query`, and how many match."""
        pattern = f"%{_escape_like(query)}%"
        total = await self._read(
            "SELECT count(*) FROM files WHERE ico = ? AND path LIKE ? ESCAPE '\\'", ico, pattern
        )
        rows = await self._read(
            FILE_SUMMARY_SELECT
            + "WHERE f.ico = ? AND f.path LIKE ? ESCAPE '\\' ORDER BY f.path LIMIT ? OFFSET ?",
            ico,
            pattern,
            limit,
            offset,
        )
        return [file_summary(row) for row in rows], int(total[0][0])

    async def recent_versions(self, ico: str, *, limit: int = 20) -> list[RecentVersion]:
        """Return the obec's latest file versions and tombstones, newest first."""
        rows = await self._read(
            "SELECT path, recorded_at, size, deleted FROM file_versions WHERE ico = ? "
            "ORDER BY id DESC LIMIT ?",
            ico,
            limit,
        )
        result = []
        for path, recorded_at, size, deleted in rows:
            when = from_ts(recorded_at)
            assert when is not None
            result.append(
                RecentVersion(path=path, recorded_at=when, size=size, deleted=bool(deleted))
            )
        return result

    async def hub_totals(self) -> HubTotals:
        """Return the hub-wide figures for `/metrics`."""
        messages = dict(
            await self._read("SELECT ico, count(*) FROM processed_messages GROUP BY ico")
        )
        chunks: dict[str, int] = {}
        chunk_bytes: dict[str, int] = {}
        for ico, count, size in await self._read(
            "SELECT oc.ico, count(*), coalesce(sum(c.size), 0) FROM obec_chunks oc "
            "LEFT JOIN chunks c ON c.sha256 = oc.sha256 GROUP BY oc.ico"
        ):
            chunks[ico] = count
            chunk_bytes[ico] = size
        sips = dict(await self._read("SELECT state, count(*) FROM sips GROUP BY state"))
        durations = []
        for closed_at, accepted_at in await self._read(
            "SELECT st.closed_at, s.accepted_at FROM sips s JOIN spis_state st "
            "ON st.ico = s.ico AND st.spis_id = s.spis_id AND st.closing_seq = s.closing_seq "
            "WHERE s.state = 'accepted' AND s.accepted_at IS NOT NULL AND st.closed_at IS NOT NULL"
        ):
            start, end = from_ts(closed_at), from_ts(accepted_at)
            if start is not None and end is not None:
                durations.append(max(0.0, (end - start).total_seconds()))
        return HubTotals(
            messages=messages,
            chunks=chunks,
            chunk_bytes=chunk_bytes,
            sips=sips,
            closing_to_acceptance_s=durations,
        )
