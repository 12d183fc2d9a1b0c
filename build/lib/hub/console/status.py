"""The status colour of an obec's row: pure rules over what the store and broker say.

The thresholds are `[console]` settings; the reasons are Czech sentences the
operator reads beside the colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from datetime import datetime

    from hub.console.config import ConsoleConfig
    from protocol import Heartbeat

__all__ = ["STATUS_ORDER", "Status", "obec_status", "problem_label"]

Status = Literal["ok", "warning", "error", "revoked"]
"""`ok` green, `warning` orange, `error` red; `revoked` grey (no longer provisioned)."""

STATUS_ORDER: dict[str, int] = {"error": 0, "warning": 1, "ok": 2, "revoked": 3}
"""Worst first, for sorting."""

_PROBLEM_NAMES = {
    "unreadable": "nečitelné soubory",
    "unsafe_name": "nepřenositelné názvy souborů",
    "name_collision": "kolize názvů souborů",
    "symlink_outside": "odkazy mimo sledovanou složku",
    "registry_invalid_record": "vadné záznamy spisové služby",
    "registry_unreadable": "nečitelná spisová služba",
    "deletions_paused": "pozastavené hromadné mazání",
    "folder_unavailable": "nedostupná složka",
}


def problem_label(kind: str) -> str:
    """Return the Czech name of an agent problem kind (the kind itself when unknown)."""
    return _PROBLEM_NAMES.get(kind, kind)


def obec_status(
    *,
    now: datetime,
    revoked: bool,
    heartbeat_at: datetime | None,
    heartbeat: Heartbeat | None,
    connected: bool | None,
    queue_depth: int | None,
    thresholds: ConsoleConfig,
) -> tuple[Status, list[str]]:
    """Return the row's status and why (the worst rule wins).

    Args:
        now: The current time.
        revoked: Whether the obec was revoked.
        heartbeat_at: When the hub received the agent's latest heartbeat.
        heartbeat: That heartbeat.
        connected: Whether the agent's broker user has a connection now (None: unknown).
        queue_depth: Messages waiting in the obec's hub queue (None: unknown).
        thresholds: The `[console]` section.
    """
    if revoked:
        return "revoked", ["obec byla odpojena (přístup zrušen)"]
    errors: list[str] = []
    warnings: list[str] = []
    if heartbeat_at is None or heartbeat is None:
        errors.append("agent se dosud neohlásil")
    else:
        _heartbeat_findings(
            now=now,
            heartbeat_at=heartbeat_at,
            heartbeat=heartbeat,
            thresholds=thresholds,
            errors=errors,
            warnings=warnings,
        )
    if connected is False:
        warnings.append("agent není právě připojen k brokeru")
    if queue_depth is not None and queue_depth > thresholds.queue_warning:
        warnings.append(f"ve frontě hubu čeká {queue_depth} zpráv")
    if errors:
        return "error", errors + warnings
    if warnings:
        return "warning", warnings
    return "ok", []


def _heartbeat_findings(
    *,
    now: datetime,
    heartbeat_at: datetime,
    heartbeat: Heartbeat,
    thresholds: ConsoleConfig,
    errors: list[str],
    warnings: list[str],
) -> None:
    """Add what the heartbeat's age and content say to `errors` and `warnings`."""
    age = (now - heartbeat_at).total_seconds()
    if age > thresholds.heartbeat_error_s:
        errors.append(f"poslední hlášení agenta před {_age(age)}")
    elif age > thresholds.heartbeat_warning_s:
        warnings.append(f"poslední hlášení agenta před {_age(age)}")
    pending = heartbeat.oldest_pending_age_s
    if pending is not None and pending > thresholds.backlog_error_s:
        errors.append(f"nejstarší neodeslaná změna čeká {_age(pending)}")
    elif pending is not None and pending > thresholds.backlog_warning_s:
        warnings.append(f"nejstarší neodeslaná změna čeká {_age(pending)}")
    unavailable = [name for name, ok in heartbeat.folders.items() if not ok]
    if unavailable:
        errors.append("nedostupná složka: " + ", ".join(sorted(unavailable)))
    warnings.extend(
        f"{problem_label(kind)}: {count}"
        for kind, count in sorted(heartbeat.problem_kinds.items())
        if count
    )


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 2 * 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} dny"
