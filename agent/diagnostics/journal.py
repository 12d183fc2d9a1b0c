"""The obec's own record of every diagnostics request (`spisync agent diag-log`).

JSON lines in `<state_dir>/diagnostics/journal.jsonl`, appended and fsynced
before the request is answered: who asked (the operator's account and the
broker user the request came from), when, what, and what was answered. It
is the obec's, so it says everything that happened, refusals included; one
older file is kept when it grows past `_MAX_BYTES`.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Entry", "Journal"]

_MAX_BYTES = 4 * 1024 * 1024


class Entry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One line of the journal.

    Attributes:
        at: When it was written.
        request_id: The hub's id of the request.
        event: `received`, `refused`, `expired`, `running`, `done` or `failed`.
        verb: The verb asked for.
        args: Its arguments.
        operator: The helpdesk operator's account name, as the request says.
        user_id: The broker-validated user the request came from.
        detail: Why it was refused or failed, or what was answered.
        result_bytes: Size of the answer sent back.
        sha256: Hash of an attachment (support bundle) sent back.
    """

    at: datetime
    request_id: str
    event: str
    verb: str = ""
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    operator: str = ""
    user_id: str = ""
    detail: str = ""
    result_bytes: int | None = None
    sha256: str | None = None


class Journal:
    """Appends entries durably and reads them back.

    Args:
        directory: `<state_dir>/diagnostics`.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / "journal.jsonl"
        self._lock = asyncio.Lock()

    async def write(self, entry: Entry) -> None:
        """Append one entry and fsync it."""
        line = msgspec.json.encode(entry) + b"\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > _MAX_BYTES:
            self.path.replace(self.path.with_suffix(".jsonl.1"))
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[Entry]:
        """Return every entry, oldest first (older file first); unreadable lines are skipped."""
        entries: list[Entry] = []
        for path in (self.path.with_suffix(".jsonl.1"), self.path):
            try:
                lines = path.read_bytes().splitlines()
            except FileNotFoundError:
                continue
            for line in lines:
                try:
                    entries.append(msgspec.json.decode(line, type=Entry))
                except msgspec.DecodeError:
                    continue
        return entries

    def finished(self, request_id: str, user_id: str) -> bool:
        """Tell whether `user_id`'s request was already answered (not to be run again)."""
        return any(
            e.request_id == request_id
            and e.user_id == user_id
            and e.event in {"refused", "expired", "done", "failed"}
            for e in self.read()
        )
