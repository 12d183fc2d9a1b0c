"""`spisync agent status`: how far the sync is, in Czech, for the town hall's clerk.

It reads the agent's state database read-only, so it works while the agent runs
(and when it does not): what waits to be sent, whether the first sync ended, and
the rate and time left that the running agent last measured (`agent.progress`).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from agent.progress import META_INITIAL_SYNC, META_PROGRESS

if TYPE_CHECKING:
    from agent.config import AgentConfig

__all__ = ["status_lines"]


def _number(value: float, decimals: int = 0) -> str:
    """Czech number format: a space between thousands, a decimal comma."""
    text = f"{value:,.{decimals}f}".replace(",", " ").replace(".", ",")
    return text.replace(" ", "\u00a0")


def _megabytes(count: float) -> str:
    return f"{_number(count / 1_000_000, 1)} MB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{_number(seconds)} s"
    if seconds < 90 * 60:
        return f"{_number(seconds / 60)} min"
    return f"{_number(seconds / 3600, 1)} h"


def _read(path: str) -> tuple[dict[str, str], int, int, int]:
    uri = f"file:{quote(path)}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=5)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        files, pending = db.execute(
            "SELECT coalesce(sum(kind = 'file_version'), 0),"
            " coalesce(sum(coalesce(size, 0) + coalesce(length(body), 0)), 0) FROM outbox"
        ).fetchone()
        (indexed,) = db.execute("SELECT count(*) FROM files").fetchone()
    finally:
        db.close()
    return meta, int(files), int(pending), int(indexed)


def status_lines(config: AgentConfig, *, now: datetime | None = None) -> tuple[list[str], int]:
    """Return the status as lines for the clerk, and the exit code (1: no state yet)."""
    agent = config.agent
    path = agent.state_path / "state.sqlite"
    head = f"Obec {agent.name} (IČO {agent.ico})"
    if not path.is_file():
        return [head, f"Agent zatím neběžel: jeho stav {path} neexistuje."], 1
    try:
        meta, files, pending, indexed = _read(str(path))
    except sqlite3.Error as exc:
        return [head, f"Stav agenta {path} nelze přečíst: {exc}"], 1
    lines = [head]
    done_at = meta.get(META_INITIAL_SYNC)
    if done_at:
        when = datetime.fromisoformat(done_at).astimezone(UTC)
        lines.append(f"Úvodní synchronizace: dokončena {when:%d. %m. %Y %H:%M} UTC")
    else:
        total = max(indexed, files)
        percent = 100 * (total - files) // total if total else 0
        lines.append(
            f"Úvodní synchronizace: probíhá, {percent} % "
            f"({_number(total - files)} z {_number(total)} souborů)"
        )
    lines.append(f"Čeká na odeslání: {_number(files)} souborů, {_megabytes(pending)}")
    lines.append(f"Sledované soubory: {_number(indexed)}")
    progress = json.loads(meta[META_PROGRESS]) if META_PROGRESS in meta else None
    if progress is not None:
        sampled = datetime.fromisoformat(progress["sampled_at"])
        age = ((now or datetime.now(UTC)) - sampled).total_seconds()
        rate = progress.get("rate_bytes_per_s")
        eta = progress.get("eta_s")
        if pending and rate:
            left = f", hotovo asi za {_duration(eta)}" if eta else ""
            lines.append(f"Rychlost odesílání: {_megabytes(rate)}/s{left}")
        lines.append(f"Údaje běžícího agenta jsou staré {_duration(max(0.0, age))}.")
        if age > 120:
            lines.append("Agent zřejmě neběží: zkontrolujte službu spisync-agent.")
    else:
        lines.append("Rychlost zatím neznámá: agent ještě nic neměřil.")
    return lines, 0
