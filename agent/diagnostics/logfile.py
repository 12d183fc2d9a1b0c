"""The agent's own log file, for the helpdesk's `logs` verb.

Every event the agent logs (at its configured level) is also appended as a
JSON line to `<state_dir>/logs/agent.log`; past `max_bytes` the file becomes
`agent.log.1` (one older file is kept). Only this agent's events are written
(by its bound `ico`), so several agents in one test process keep apart.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from spisync.logging import add_log_sink

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping
    from pathlib import Path

__all__ = ["LEVELS", "LogFile"]

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class LogFile:
    """Writes the agent's events to its log file and reads the tail back.

    Args:
        path: `<state_dir>/logs/agent.log`.
        ico: The agent's IČO (only its events are written).
        max_bytes: Size at which the file is rotated.
    """

    def __init__(self, path: Path, *, ico: str, max_bytes: int) -> None:
        self.path = path
        self._ico = ico
        self._max = max_bytes
        self._remove: Callable[[], None] | None = None
        self._handle: TextIO | None = None
        self._size = 0

    def start(self) -> None:
        """Start writing (idempotent)."""
        if self._remove is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._remove = add_log_sink(self._write)

    def stop(self) -> None:
        """Stop writing and close the file."""
        if self._remove is not None:
            self._remove()
            self._remove = None
        self._close()

    def _close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    def _open(self) -> TextIO:
        if self._handle is None:
            self._handle = self.path.open("a", encoding="utf-8")
            self._size = self._handle.tell()
        return self._handle

    def _write(self, event: MutableMapping[str, Any]) -> None:
        if event.get("ico", self._ico) != self._ico:
            return
        record = {
            "timestamp": event.get("timestamp") or datetime.now(UTC).isoformat(),
            "level": event.get("level", "info"),
            **{k: v for k, v in event.items() if k not in {"timestamp", "level", "exc_info"}},
        }
        line = json.dumps(record, default=str, ensure_ascii=False) + "\n"
        # A log line that cannot be written must never break what was being logged.
        # The file stays open between lines and is flushed at each (the tail is read
        # by the `logs` verb while the agent runs).
        try:
            handle = self._open()
            handle.write(line)
            handle.flush()
            self._size += len(line.encode())
            if self._size > self._max:
                self._close()
                self.path.replace(self.path.with_name(self.path.name + ".1"))
        except OSError:
            self._close()

    def tail(self, lines: int, level: str = "debug") -> list[str]:
        """Return the last `lines` lines at `level` or above (older file included if needed)."""
        floor = LEVELS.get(level, logging.DEBUG)
        kept: deque[str] = deque(maxlen=lines)
        for path in (self.path.with_name(self.path.name + ".1"), self.path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                if _level_of(line) >= floor:
                    kept.append(line)
        return list(kept)


def _level_of(line: str) -> int:
    try:
        value = json.loads(line).get("level", "info")
    except (json.JSONDecodeError, AttributeError):
        return LEVELS["info"]
    return LEVELS.get(str(value).lower(), LEVELS["info"])
