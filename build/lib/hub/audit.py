"""The audit log: who did what, when, on which obec, and with what result.

Every console action, every login (successful or not) and every helpdesk
request is recorded here, in the metadata store, so that every hub process
shares one log. `spisync hub audit` exports it.

Usage:
    await audit.record(store, "jana", "dead_letter_replay", "00231401", "msg 7f3…", "ok")
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from protocol import utc_now

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.store.console import AuditEntry
    from hub.store.metadata import MetadataStore

__all__ = [
    "RESULT_OK",
    "RESULT_REFUSED",
    "entries",
    "entry_json",
    "error_result",
    "format_entries",
    "record",
    "to_json",
]

RESULT_OK = "ok"
RESULT_REFUSED = "refused"

_DETAIL_LIMIT = 2000


def error_result(reason: str) -> str:
    """Return the `result` of an action that failed: `error: <reason>`."""
    return f"error: {reason}"


async def record(  # noqa: PLR0917 - the positional form is the API slices call
    store: MetadataStore,
    actor: str,
    action: str,
    ico: str | None,
    detail: str,
    result: str,
) -> int:
    """Append one entry to the audit log, durably; return its id.

    Args:
        store: The hub's metadata store.
        actor: Who acted: an operator's name, `cli`, or e.g. `helpdesk:jana`.
        action: What, as a snake_case verb phrase (`login`, `dead_letter_replay`).
        ico: The obec concerned, or None.
        detail: What exactly (truncated to 2,000 characters).
        result: `ok`, `refused`, or `error_result(...)`.
    """
    return await store.audit.append(
        at=utc_now(),
        actor=actor,
        action=action,
        ico=ico,
        detail=detail[:_DETAIL_LIMIT],
        result=result,
    )


async def entries(
    store: MetadataStore,
    *,
    limit: int = 200,
    ico: str | None = None,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Return audit entries, newest first.

    Args:
        store: The hub's metadata store.
        limit: At most this many.
        ico: Only those concerning this obec.
        before_id: Only those older than this entry (to page back).
    """
    return await store.audit.entries(limit=limit, ico=ico, before_id=before_id)


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """Return one entry as a JSON object: id, at, actor, action, ico, detail, result."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "ico": entry.ico,
        "detail": entry.detail,
        "result": entry.result,
    }


def to_json(log: Sequence[AuditEntry]) -> str:
    """Render entries as a JSON array (Czech letters kept)."""
    return json.dumps([entry_json(e) for e in log], ensure_ascii=False, indent=2)


def format_entries(log: Sequence[AuditEntry]) -> str:
    """Render entries as lines for a terminal, oldest first."""
    if not log:
        return "(no audit entries)"
    return "\n".join(
        f"{e.at.isoformat(timespec='seconds')}  {e.actor:<16} {e.action:<24} "
        f"{e.ico or '-':<8}  {e.result:<8}  {e.detail}".rstrip()
        for e in reversed(log)
    )
