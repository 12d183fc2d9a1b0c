"""The rules of a diagnostics request's state, apart from storage.

`queued → delivered → running → done | failed | expired`. Progress never goes
back (a late `delivered` after `running` changes nothing). The hub marks a
request `expired` when its time to live has run out; a real outcome the agent
sends later (`done` or `failed`) still replaces that, since the agent knows
better what happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from datetime import datetime

    from hub.store.diagnostics import DiagnosticsRow, RequestState
    from protocol import DiagnosticsResult

__all__ = ["STATE_NAMES", "TERMINAL", "after_result", "expire"]

TERMINAL: frozenset[RequestState] = frozenset({"done", "failed", "expired"})

STATE_NAMES: dict[str, str] = {
    "queued": "ve frontě",
    "delivered": "doručeno agentovi",
    "running": "běží",
    "done": "hotovo",
    "failed": "selhalo",
    "expired": "vypršelo",
}
"""Czech names of the states, for the helpdesk."""

_RANK: dict[str, int] = {
    "queued": 0,
    "delivered": 1,
    "running": 2,
    "done": 3,
    "failed": 3,
    "expired": 3,
}


def after_result(
    row: DiagnosticsRow,
    result: DiagnosticsResult,
    *,
    received_at: datetime,
    attachment_ok: bool | None = None,
) -> DiagnosticsRow | None:
    """Return the row after the agent's `result`, or None when it changes nothing.

    Args:
        row: The stored request.
        result: What the agent sent.
        received_at: When the hub received it.
        attachment_ok: For a result with an attachment: whether every chunk
            arrived and the whole matched its SHA-256.
    """
    new = result.state
    if row.state in TERMINAL:
        if not (row.state == "expired" and new in {"done", "failed"}):
            return None
    elif _RANK[new] <= _RANK[row.state]:
        return None
    changes: dict[str, object] = {"state": new, "updated_at": received_at}
    if new in {"delivered", "running"}:
        changes["delivered_at"] = row.delivered_at or received_at
    if new == "running":
        changes["started_at"] = received_at
    if new in TERMINAL:
        ok, error = result.ok, result.error
        if result.attachment is not None and attachment_ok is False:
            new, ok, error = "failed", False, "příloha nedorazila celá nebo nesouhlasí její SHA-256"
        changes.update(
            state=new,
            finished_at=received_at,
            ok=ok,
            error=error,
            data=result.data or dict(result.output),
            attachment=result.attachment,
            result_bytes=len(msgspec.json.encode(result))
            + (0 if result.attachment is None else result.attachment.size),
            clock_offset_s=round((received_at - result.sent_at).total_seconds(), 3),
        )
    return msgspec.structs.replace(row, **changes)


def expire(row: DiagnosticsRow, now: datetime) -> DiagnosticsRow | None:
    """Return the row marked `expired` if its time to live ran out unfinished, else None."""
    if row.state in TERMINAL or now < row.expires_at:
        return None
    error = (
        "platnost vypršela; agent požadavek nepřevzal (je obec offline?)"
        if row.state == "queued"
        else "platnost vypršela dřív, než agent odpověděl"
    )
    return msgspec.structs.replace(
        row, state="expired", updated_at=now, finished_at=now, ok=False, error=error
    )
