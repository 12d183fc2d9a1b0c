"""Which chunks of a large file the broker confirmed, so that a resumed transfer skips them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.state import State

__all__ = ["ChunkProgress"]


class ChunkProgress:
    """Writes confirmed chunks to the state database, batched (one transaction for many)."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._confirmed: list[tuple[int, int]] = []
        self._flusher: asyncio.Task[None] | None = None

    def settled(self, row_id: int, index: int, task: asyncio.Task[None]) -> None:
        """Note chunk `index` of row `row_id` if its publish `task` was confirmed."""
        if not task.cancelled() and task.exception() is None:
            self.confirmed(row_id, index)

    def confirmed(self, row_id: int, index: int) -> None:
        """Note chunk `index` of row `row_id`, which the broker confirmed."""
        self._confirmed.append((row_id, index))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self.flush())

    async def flush(self) -> None:
        """Write what was confirmed since the last write."""
        while self._confirmed:
            batch, self._confirmed = self._confirmed, []
            await self._state.mark_chunks_confirmed(batch)

    async def close(self) -> None:
        """Write everything still buffered (call before closing the state)."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush()
