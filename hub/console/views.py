"""The console's data, as JSON-ready dicts: the pages render them and the API returns them.

One function per view, so a page and its `/api/v1/` twin can never disagree.
Everything comes from the metadata store, the provisioned obce's records
under `data_dir` and the broker's management API.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hub import audit
from hub.console.config import thresholds_of
from hub.console.status import STATUS_ORDER, obec_status, problem_label
from hub.provision import ObecRecord, load_obce
from hub.queries import file_row, spisy_rows
from hub.queue_names import queue_names
from protocol import utc_now

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.console.broker import BrokerSnapshot, BrokerView
    from hub.store.deadletters import DeadLetter
    from hub.store.metadata import MetadataStore
    from hub.store.overview import ObecFigures

__all__ = [
    "ObceRegistry",
    "audit_rows",
    "dead_letter_detail",
    "dead_letter_rows",
    "files_page",
    "obec_detail",
    "overview_rows",
    "sort_rows",
]

BODY_PREVIEW = 2000
"""Bytes of a dead letter's body shown in its preview."""


class ObceRegistry:
    """The provisioned obce (`<data_dir>/obce/*.json`), read again only when the folder changes.

    Args:
        config: The hub's configuration.
    """

    def __init__(self, config: HubConfig) -> None:
        self._config = config
        self._folder = config.hub.data_path / "obce"
        self._seen: tuple[int, dict[str, ObecRecord]] | None = None

    async def records(self) -> dict[str, ObecRecord]:
        """Return every provisioned obec by IČO (revoked ones included)."""
        try:
            stamp = self._folder.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, await asyncio.to_thread(load_obce, self._config))
        return self._seen[1]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _row(
    ico: str,
    record: ObecRecord | None,
    figures: ObecFigures | None,
    broker: BrokerSnapshot,
    config: HubConfig,
) -> dict[str, Any]:
    now = utc_now()
    beat = figures.heartbeat if figures else None
    beat_at = figures.heartbeat_at if figures else None
    user = config.hub.agent_username(ico)
    connected = (user in broker.users) if broker.available else None
    depth = broker.queues.get(queue_names(config).hub_queue(ico)) if broker.available else None
    revoked = bool(record and record.revoked)
    status, reasons = obec_status(
        now=now,
        revoked=revoked,
        heartbeat_at=beat_at,
        heartbeat=beat,
        connected=connected,
        queue_depth=depth,
        thresholds=thresholds_of(config),
    )
    return {
        "ico": ico,
        "name": record.name if record else None,
        "provisioned": record is not None,
        "revoked": revoked,
        "status": status,
        "status_reasons": reasons,
        "agent_version": beat.agent_version if beat else None,
        "connected": connected,
        "last_heartbeat_at": _iso(beat_at),
        "heartbeat_age_s": round((now - beat_at).total_seconds(), 1) if beat_at else None,
        "outbox_messages": beat.outbox_depth if beat else None,
        "outbox_bytes": beat.outbox_bytes if beat else None,
        "oldest_pending_age_s": beat.oldest_pending_age_s if beat else None,
        "queue_depth": depth,
        "files": figures.files if figures else 0,
        "versions": figures.versions if figures else 0,
        "bytes": figures.bytes if figures else 0,
        "open_problems": beat.open_problems if beat else None,
        "problems": dict(beat.problem_kinds) if beat else {},
        "problem_labels": (
            {kind: problem_label(kind) for kind in beat.problem_kinds} if beat else {}
        ),
        "folders": dict(beat.folders) if beat else {},
        "registry_lag": beat.registry_lag if beat else None,
        "sync_files_remaining": beat.sync_files_remaining if beat else None,
        "sync_rate_bytes_per_s": beat.sync_rate_bytes_per_s if beat else None,
        "sync_eta_s": beat.sync_eta_s if beat else None,
        "initial_sync_complete": beat.initial_sync_complete if beat else None,
        "spisy": dict(figures.spisy) if figures else {},
        "last_message_at": _iso(figures.last_message_at if figures else None),
    }


async def overview_rows(
    config: HubConfig, store: MetadataStore, broker: BrokerView, obce: ObceRegistry
) -> tuple[list[dict[str, Any]], BrokerSnapshot]:
    """Return one row per provisioned obec (and per obec the hub heard from without a record)."""
    records = await obce.records()
    snapshot, figures = await asyncio.gather(broker.snapshot(), store.overview.obce_figures())
    icos = sorted(records.keys() | figures.keys())
    rows = [_row(ico, records.get(ico), figures.get(ico), snapshot, config) for ico in icos]
    return rows, snapshot


_SORT_KEYS = {
    "status": lambda r: (STATUS_ORDER[r["status"]], r["name"] or "", r["ico"]),
    "name": lambda r: (r["name"] or "", r["ico"]),
    "ico": lambda r: r["ico"],
    "heartbeat": lambda r: (r["heartbeat_age_s"] is None, -(r["heartbeat_age_s"] or 0)),
    "backlog": lambda r: -(r["outbox_messages"] or 0),
    "queue": lambda r: -(r["queue_depth"] or 0),
    "files": lambda r: -r["files"],
    "bytes": lambda r: -r["bytes"],
}


def sort_rows(
    rows: list[dict[str, Any]], *, sort: str = "status", query: str = "", status: str = ""
) -> list[dict[str, Any]]:
    """Filter rows by text (name or IČO) and status, then sort them (`status` worst first)."""
    needle = query.strip().casefold()
    kept = [
        r
        for r in rows
        if (not needle or needle in r["ico"] or needle in (r["name"] or "").casefold())
        and (not status or r["status"] == status)
    ]
    return sorted(kept, key=_SORT_KEYS.get(sort, _SORT_KEYS["status"]))


async def obec_detail(
    config: HubConfig, store: MetadataStore, broker: BrokerView, obce: ObceRegistry, ico: str
) -> dict[str, Any] | None:
    """Return one obec's row with spisy, SIPs, dead letters and recent events (None: unknown)."""
    records = await obce.records()
    snapshot, figures = await asyncio.gather(broker.snapshot(), store.overview.obce_figures([ico]))
    if ico not in records and ico not in figures:
        return None
    row = _row(ico, records.get(ico), figures.get(ico), snapshot, config)
    spisy = await spisy_rows(store, ico)
    sips = [
        {
            "name": s.name,
            "spis_id": s.spis_id,
            "closing_seq": s.closing_seq,
            "state": s.state,
            "sha256": s.sha256,
            "size": s.size,
            "archive_id": s.archive_id,
            "failures": [
                {"code": f.code, "message": f.message, "location": f.location} for f in s.failures
            ],
            "sends": s.sends,
            "built_at": _iso(s.built_at),
            "sent_at": _iso(s.sent_at),
            "accepted_at": _iso(s.accepted_at),
            "released_at": _iso(s.released_at),
        }
        for s in await store.sips.sips_of(ico)
    ]
    versions = await store.overview.recent_versions(ico, limit=20)
    letters = await store.dead_letters.letters(ico=ico, limit=20)
    events = await audit.entries(store, ico=ico, limit=20)
    requests = await store.diagnostics.of_obec(ico, limit=10)
    return row | {
        "spisy_list": spisy,
        "sips": sips,
        "recent_versions": [
            {
                "path": v.path,
                "recorded_at": v.recorded_at.isoformat(),
                "size": v.size,
                "deleted": v.deleted,
            }
            for v in versions
        ],
        "dead_letters": [dead_letter_row(letter) for letter in letters],
        "audit": [audit.entry_json(e) for e in events],
        "diagnostics": [
            {
                "id": r.id,
                "verb": r.verb,
                "args": r.args,
                "operator": r.operator,
                "state": r.state,
                "created_at": r.created_at.isoformat(),
                "finished_at": _iso(r.finished_at),
                "ok": r.ok,
                "error": r.error,
            }
            for r in requests
        ],
    }


async def files_page(
    store: MetadataStore, ico: str, *, query: str = "", limit: int = 200, offset: int = 0
) -> dict[str, Any]:
    """Return a page of an obec's current files matching `query`, each with its versions."""
    files, total = await store.overview.find_files(ico, query, limit=limit, offset=offset)
    items = []
    for f in files:
        history = await store.file_history(ico, f.path) if f.versions > 1 or f.deleted else []
        items.append(
            {
                **file_row(f),
                "recorded_at": f.recorded_at.isoformat(),
                "history": [
                    {
                        "source_seq": v.source_seq,
                        "size": v.size,
                        "sha256": v.sha256,
                        "deleted": v.deleted,
                        "recorded_at": v.recorded_at.isoformat(),
                    }
                    for v in history
                ],
            }
        )
    return {"ico": ico, "query": query, "total": total, "offset": offset, "files": items}


def dead_letter_row(letter: DeadLetter) -> dict[str, Any]:
    """Return a dead letter's list fields."""
    kept = letter.letter
    return {
        "id": letter.id,
        "message_id": kept.message_id,
        "ico": kept.ico,
        "reason": kept.reason,
        "detail": kept.detail,
        "security": kept.security,
        "sender": kept.sender,
        "exchange": kept.exchange,
        "routing_key": kept.routing_key,
        "dead_at": kept.dead_at.isoformat(),
        "size": kept.body_size,
        "state": letter.state,
        "state_by": letter.state_by,
        "state_at": _iso(letter.state_at),
        "replayable": letter.replayable and letter.state == "waiting",
    }


def dead_letter_detail(letter: DeadLetter) -> dict[str, Any]:
    """Return a dead letter with its headers, properties and a body preview."""
    body = letter.letter.body[:BODY_PREVIEW]
    return dead_letter_row(letter) | {
        "headers": letter.letter.headers,
        "properties": letter.letter.properties,
        "body_preview": body.decode(errors="replace"),
        "body_truncated": letter.letter.body_size > len(body),
    }


async def dead_letter_rows(
    store: MetadataStore, *, security: bool | None = None, history: bool = False
) -> list[dict[str, Any]]:
    """Return dead letters waiting (or, with `history`, the settled ones) newest first."""
    states: tuple[Any, ...] = ("replayed", "discarded") if history else ("waiting", "replaying")
    letters = await store.dead_letters.letters(security=security, states=states, limit=500)
    return [dead_letter_row(letter) for letter in letters]


async def audit_rows(
    store: MetadataStore, *, ico: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Return audit entries, newest first."""
    return [audit.entry_json(e) for e in await audit.entries(store, ico=ico, limit=limit)]
