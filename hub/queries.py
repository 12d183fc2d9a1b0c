"""Operator queries behind `spisync hub files` and `spisync hub spisy`: JSON rows and tables."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.store.metadata import MetadataStore

__all__ = ["files_rows", "format_table", "spisy_rows", "to_json"]


async def files_rows(store: MetadataStore, ico: str) -> list[dict[str, Any]]:
    """Return obec `ico`'s current files: path, size, sha256, versions, deleted, released."""
    return [
        {
            "path": f.path,
            "size": f.size,
            "sha256": f.sha256,
            "versions": f.versions,
            "deleted": f.deleted,
            "released": f.released,
        }
        for f in await store.current_files(ico)
    ]


async def spisy_rows(store: MetadataStore, ico: str) -> list[dict[str, Any]]:
    """Return obec `ico`'s spisy with their hub state, missing content and SIP.

    Keys: id, spisova_znacka, nazev, stav, state, missing, sip, and for the
    current closing's SIP: sip_state, archive_id, archive_failures (every
    failure the archive or the hub reported, with code, message and location).
    """
    return [
        {
            "id": s.id,
            "spisova_znacka": s.spisova_znacka,
            "nazev": s.nazev,
            "stav": s.stav,
            "state": s.state,
            "missing": [
                {"komponenta_id": m.komponenta_id, "dokument_id": m.dokument_id, "soubor": m.soubor}
                for m in s.missing
            ],
            "sip": s.sip,
            "sip_state": s.sip_state,
            "archive_id": s.archive_id,
            "archive_failures": [
                {"code": f.code, "message": f.message, "location": f.location}
                for f in s.archive_failures
            ],
        }
        for s in await store.spisy(ico)
    ]


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    """Render rows as indented JSON (UTF-8 text, Czech letters kept)."""
    return json.dumps(list(rows), ensure_ascii=False, indent=2)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return str(len(value))
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Render rows as a plain aligned table (lists show as their length).

    Args:
        rows: The rows, as returned by `files_rows` or `spisy_rows`.
        columns: Which keys to show, in order.
    """
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)
    ]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.extend(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)
