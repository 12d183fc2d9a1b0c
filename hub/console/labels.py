"""Czech names of what the console shows, in one place, and the filters that format values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "ACTION_NAMES",
    "HUB_STATE_NAMES",
    "LETTER_STATE_NAMES",
    "NOTHING",
    "RESULT_NAMES",
    "ROLE_NAMES",
    "SIP_STATE_NAMES",
    "SORT_NAMES",
    "STATUS_NAMES",
    "format_age",
    "format_size",
    "format_when",
]

NOTHING = "\u2013"
"""An en dash: what an empty cell shows."""

STATUS_NAMES = {"ok": "v pořádku", "warning": "varování", "error": "chyba", "revoked": "odpojena"}
ROLE_NAMES = {"viewer": "čtenář", "operator": "operátor", "admin": "správce"}
HUB_STATE_NAMES = {
    "open": "otevřený",
    "closed": "uzavřený, čeká na obsah",
    "forwarded": "předán do úložiště",
    "archived": "uložen v úložišti",
}
SIP_STATE_NAMES = {
    "built": "sestaven",
    "forwarded": "odeslán",
    "accepted": "přijat",
    "rejected": "odmítnut",
    "failed": "nelze sestavit",
}
LETTER_STATE_NAMES = {
    "waiting": "čeká",
    "replaying": "odesílá se",
    "replayed": "znovu odeslána",
    "discarded": "zahozena",
}
ACTION_NAMES = {
    "login": "přihlášení",
    "logout": "odhlášení",
    "csrf_refused": "odmítnutý požadavek bez tokenu CSRF",
    "dead_letter_replay": "znovu odeslání nedoručitelné zprávy",
    "dead_letter_discard": "zahození nedoručitelné zprávy",
    "obec_provision": "zřízení obce",
    "obec_rotate": "nové heslo obce",
    "obec_revoke": "odpojení obce",
    "agent_rescan": "nové prohledání složek",
    "diagnostics_request": "požadavek helpdesku na agenta",
    "agent_allow_deletions": "povolení pozastaveného mazání",
    "operator_add": "založení operátora",
    "operator_remove": "odebrání operátora",
    "operator_token": "vydání tokenu API",
}
RESULT_NAMES = {"ok": "provedeno", "refused": "odmítnuto"}
SORT_NAMES = {
    "status": "stavu (nejhorší první)",
    "name": "názvu",
    "ico": "IČO",
    "heartbeat": "stáří hlášení",
    "backlog": "frontě agenta",
    "queue": "frontě hubu",
    "files": "počtu souborů",
    "bytes": "objemu dat",
}


def format_size(value: Any) -> str:
    """Format bytes for people: `1,5 MB` (decimal units, Czech decimal comma)."""
    if value is None:
        return NOTHING
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            text = f"{size:.0f}" if unit == "B" else f"{size:.1f}"
            return f"{text.replace('.', ',')} {unit}"
        size /= 1000
    return f"{size} TB"  # pragma: no cover - the loop returns


def format_age(seconds: Any) -> str:
    """Format an age in seconds: `45 s`, `12 min`, `3 h`, `2 dny`; `nikdy` for None."""
    if seconds is None:
        return "nikdy"
    value = float(seconds)
    if value < 120:
        return f"{value:.0f} s"
    if value < 2 * 3600:
        return f"{value // 60:.0f} min"
    if value < 2 * 86400:
        return f"{value // 3600:.0f} h"
    return f"{value // 86400:.0f} dny"


def format_when(value: Any) -> str:
    """Format an ISO 8601 time (or datetime) as `29. 11. 2026 09:15:03` in local time."""
    if not value:
        return NOTHING
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.astimezone().strftime("%d. %m. %Y %H:%M:%S")
