"""Deleting confirmed outbox rows in shared transactions (one fsync for many rows)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.records import Signature
    from agent.state import State

__all__ = ["RowDeleter"]


class RowDeleter:
    """Deletes confirmed outbox rows, one transaction for all confirmed meanwhile.

    Still durable: a row is handed over only after the broker confirmed every
    message of it, and its caller waits for the commit, so the row stays active
    (never dispatched again) until it is gone. Sharing one commit among many rows
    only saves fsyncs; a crash before it leaves them queued, and their resend is
    an idempotent duplicate at the hub.
    """

    def __init__(self, state: State) -> None:
        self._state = state
        self._pending: list[int] = []
        self._signatures: list[Signature] = []
        self._committed: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def delete(self, row_id: int, signature: Signature | None = None) -> None:
        """Delete a row, and record the signature of what it sent, and return once committed."""
        if self._committed is None:
            self._committed = asyncio.get_running_loop().create_future()
            # Retrieved here so that a failure nobody waits for any more is not logged.
            self._committed.add_done_callback(lambda f: f.cancelled() or f.exception())
        committed = self._committed
        self._pending.append(row_id)
        if signature is not None:
            self._signatures.append(signature)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await asyncio.shield(committed)

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            signatures, self._signatures = self._signatures, []
            committed, self._committed = self._committed, None
            assert committed is not None
            try:
                await self._state.delete_rows(batch, signatures=signatures)
            except asyncio.CancelledError:
                committed.cancel()
                raise
            except Exception as exc:  # handed to every waiter of this batch
                committed.set_exception(exc)
                continue
            committed.set_result(None)

    async def close(self) -> None:
        """Wait for deletions still being written."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
