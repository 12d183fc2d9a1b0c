"""Operator queries behind `spisync hub files` and `spisync hub spisy`: JSON rows and tables."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import msgspec

from hub.store.models import HUB_METADATA_MISSING, HUB_PLACEHOLDER

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.store.metadata import MetadataStore
    from hub.store.models import FileSummary, SpisSummary
    from protocol import DokumentSnapshot, KomponentaSnapshot, SpisSnapshot

__all__ = ["file_row", "files_rows", "format_table", "spis_detail_row", "spisy_rows", "to_json"]

# The envelope says how a snapshot travelled, not what the registry holds.
_ENVELOPE = frozenset({"kind", "schema_version", "message_id", "sender", "sent_at"})


def _registry(
    snapshot: SpisSnapshot | DokumentSnapshot | KomponentaSnapshot | None,
    *,
    events: bool = False,
) -> dict[str, Any] | None:
    """The registry's fields of a snapshot with its source_version, as JSON-ready values."""
    if snapshot is None:
        return None
    data: dict[str, Any] = msgspec.to_builtins(snapshot)
    return {k: v for k, v in data.items() if k not in _ENVELOPE and (events or k != "udalosti")}


def file_row(f: FileSummary) -> dict[str, Any]:
    """Return a current file's JSON fields: path, size, sha256, versions, deleted, released."""
    return {
        "path": f.path,
        "size": f.size,
        "sha256": f.sha256,
        "versions": f.versions,
        "deleted": f.deleted,
        "released": f.released,
    }


async def files_rows(store: MetadataStore, ico: str) -> list[dict[str, Any]]:
    """Return obec `ico`'s current files as `file_row` gives them."""
    return [file_row(f) for f in await store.current_files(ico)]


async def spisy_rows(store: MetadataStore, ico: str) -> list[dict[str, Any]]:
    """Return obec `ico`'s spisy with their hub state, missing content and SIP.

    Keys: id, spisova_znacka, nazev, stav, state, missing, sip, and for the
    current closing's SIP: sip_state, archive_id, archive_failures (every
    failure the archive or the hub reported, with code, message and location);
    `registry`: every field of the registry's spis snapshot with its
    `source_version` (zpracovatel's útvar and pozice, vyřízení, spisový plán,
    skartační režim, ...; events only in the detail, `spis_detail_row`).

    Why a closed spis does not move on, and what its SIP holds besides the
    registry's data: `missing_metadata` (fields the registry lacks while
    `[closing] missing_metadata = "wait"`, e.g. "spis S-1: zpracovatel_utvar"),
    `reason` (one line naming every record and field that holds the SIP back,
    None when nothing does), `placeholders` (field and value of each
    placeholder the SIP holds) and `sip_notes` (placeholders, text cleaned for
    XML, komponenty not in an output format; code, message, location).
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
            "registry": _registry(s.snapshot),
            "missing_metadata": [
                f.location for f in s.archive_failures if f.code == HUB_METADATA_MISSING
            ],
            "reason": _reason(s),
            "placeholders": [
                {"field": n.location, "value": n.message}
                for n in s.sip_notes
                if n.code == HUB_PLACEHOLDER
            ],
            "sip_notes": [
                {"code": n.code, "message": n.message, "location": n.location} for n in s.sip_notes
            ],
        }
        for s in await store.spisy(ico)
    ]


def _reason(summary: SpisSummary) -> str | None:
    """One line naming what holds the spis's SIP back (record and field), or None."""
    if summary.sip_state not in {"failed", "rejected"} or not summary.archive_failures:
        return None
    missing = [f.location for f in summary.archive_failures if f.code == HUB_METADATA_MISSING]
    other = [
        f"{f.location}: {f.message}" if f.location else f.message
        for f in summary.archive_failures
        if f.code != HUB_METADATA_MISSING
    ]
    parts = [f"chybí v evidenci: {', '.join(missing)}"] if missing else []
    return "; ".join(parts + other)


async def spis_detail_row(store: MetadataStore, ico: str, spis_id: str) -> dict[str, Any] | None:
    """Return one spis as the hub holds it: the `spisy_rows` line plus its dokumenty.

    `registry` carries every field with `source_version` and `udalosti`: all
    real events the hub holds of the record (across snapshots, oldest first);
    each dokument likewise, with `subjekty` and its komponenty, each with the
    `content` (sha256, size) its file resolves to, or null while missing.
    None if the hub holds no such spis.
    """
    line = next((row for row in await spisy_rows(store, ico) if row["id"] == spis_id), None)
    detail = await store.spis_detail(ico, spis_id)
    if line is None or detail is None:
        return line

    async def events(table: str, record_id: str) -> list[Any]:
        return list(msgspec.to_builtins(await store.registry_events(ico, table, record_id)))

    line["registry"] = {**(_registry(detail.snapshot, events=True) or {})}
    line["registry"]["udalosti"] = await events("spis", spis_id)
    dokumenty = []
    for d in sorted(detail.dokumenty, key=lambda d: (d.snapshot.poradi, d.snapshot.dokument_id)):
        row = _registry(d.snapshot, events=True) or {}
        row["udalosti"] = await events("dokument", d.snapshot.dokument_id)
        komponenty = []
        for k in d.komponenty:
            komponenta = _registry(k.snapshot, events=True) or {}
            komponenta["udalosti"] = await events("komponenta", k.snapshot.komponenta_id)
            komponenta["content"] = (
                None if k.file is None else {"sha256": k.file.sha256, "size": k.file.size}
            )
            komponenty.append(komponenta)
        row["komponenty"] = komponenty
        dokumenty.append(row)
    line["dokumenty"] = dokumenty
    return line


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
