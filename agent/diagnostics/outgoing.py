"""Answers to the hub through the durable outbox: progress, results, attachments.

A result whose encoded answer is larger than `INLINE_BYTES` travels as an
attachment (`result.json`), and a support bundle always does: the file is
written under `<state_dir>/diagnostics/out/`, queued with its chunk hashes,
and sent chunk by chunk (each verified at the hub like a file's) followed by
the result that names it. Nothing larger than `[diagnostics]
max_result_bytes` is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from typing import TYPE_CHECKING, Any

import msgspec

from protocol import Attachment, DiagnosticsResult, encode, new_message_id, utc_now

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from agent.diagnostics.redact import Redactor
    from agent.state import State
    from protocol import DiagnosticsRequest
    from protocol.control import DiagnosticState

__all__ = ["INLINE_BYTES", "Outgoing", "ResultTooLargeError", "Sent"]

INLINE_BYTES = 256 * 1024
_KEEP_S = 30 * 24 * 3600.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class ResultTooLargeError(Exception):
    """The answer exceeds `[diagnostics] max_result_bytes`."""


class Sent(msgspec.Struct, frozen=True, kw_only=True):
    """What was queued: the result's size and its attachment's hash, for the journal."""

    result_bytes: int
    sha256: str | None = None


class Outgoing:
    """Queues results in the outbox.

    Args:
        ico: The obec's IČO (the sender).
        state: The state database (its outbox).
        directory: Where attachment files are kept until sent.
        chunk_size: Bytes per chunk.
        max_bytes: Largest answer sent.
        redactor: Scrubs secrets from everything queued.
        wake: Wakes the publisher.
    """

    def __init__(
        self,
        *,
        ico: str,
        state: State,
        directory: Path,
        chunk_size: int,
        max_bytes: int,
        redactor: Redactor,
        wake: Callable[[], None],
    ) -> None:
        self.directory = directory
        self._ico = ico
        self._state = state
        self._chunk_size = chunk_size
        self._max = max_bytes
        self._redactor = redactor
        self._wake = wake

    def _result(self, request: DiagnosticsRequest, **fields: Any) -> DiagnosticsResult:
        return DiagnosticsResult(
            message_id=new_message_id(),
            sender=self._ico,
            sent_at=utc_now(),
            request_id=request.request_id,
            verb=request.requested_verb,
            **fields,
        )

    async def progress(self, request: DiagnosticsRequest, state: DiagnosticState) -> None:
        """Tell the hub the request was delivered or is running."""
        await self._queue(self._result(request, ok=True, state=state))

    async def refusal(
        self,
        request: DiagnosticsRequest,
        *,
        state: DiagnosticState,
        error: str,
        data: dict[str, Any] | None = None,
    ) -> Sent:
        """Answer a request that did not run (refused, expired, failed)."""
        result = self._result(
            request, ok=False, state=state, error=self._redactor.text(error), data=data or {}
        )
        return await self._queue(result)

    async def answer(
        self,
        request: DiagnosticsRequest,
        data: dict[str, Any],
        *,
        attachment: tuple[str, bytes] | None = None,
    ) -> Sent:
        """Queue a successful answer; a large one (or `attachment`) goes as chunks first.

        Raises:
            ResultTooLargeError: If what would be sent exceeds the cap.
        """
        clean: dict[str, Any] = self._redactor.data(data)
        if attachment is None:
            result = self._result(request, ok=True, state="done", data=clean)
            body = encode(result)
            if len(body) <= INLINE_BYTES:
                return await self._queue(result)
            attachment = ("result.json", msgspec.json.encode(clean))
            clean = {"attachment": "result.json", "keys": sorted(clean)}
        name, content = attachment
        if len(content) > self._max:
            raise ResultTooLargeError(
                f"výsledek má {len(content)} B, víc než limit {self._max} B "
                "([diagnostics] max_result_bytes)"
            )
        return await self._queue_attachment(request, clean, name, content)

    async def _queue(self, result: DiagnosticsResult) -> Sent:
        body = encode(result)
        await self._state.add_messages([("diagnostics_result", result.message_id, body)])
        self._wake()
        return Sent(result_bytes=len(body))

    async def _queue_attachment(
        self, request: DiagnosticsRequest, data: dict[str, Any], name: str, content: bytes
    ) -> Sent:
        chunks = [
            content[i : i + self._chunk_size] for i in range(0, len(content), self._chunk_size)
        ]
        meta = Attachment(
            name=name,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            chunk_size=self._chunk_size,
            chunk_sha256=tuple(hashlib.sha256(c).hexdigest() for c in chunks),
        )
        disk_name = f"{_UNSAFE.sub('_', request.request_id)}-{_UNSAFE.sub('_', name)}"
        await asyncio.to_thread(self._write_file, disk_name, content)
        result = self._result(request, ok=True, state="done", data=data, attachment=meta)
        body = encode(result)
        await self._state.queue_attachment(
            kind="diagnostics_result",
            message_id=result.message_id,
            body=body,
            folder=str(self.directory),
            disk_path=disk_name,
            size=meta.size,
            sha256=meta.sha256,
            chunk_size=meta.chunk_size,
            chunk_sha256=meta.chunk_sha256,
        )
        self._wake()
        return Sent(result_bytes=len(body) + meta.size, sha256=meta.sha256)

    def _write_file(self, disk_name: str, content: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Old attachments were sent long ago: 30 days outlast any request (TTL <= 14 days).
        cutoff = time.time() - _KEEP_S
        for old in self.directory.iterdir():
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        path = self.directory / disk_name
        temporary = path.with_suffix(path.suffix + ".part")
        with temporary.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
