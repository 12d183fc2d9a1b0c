"""Holding a batch while storage cannot serve: a growing pause between attempts."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from hub.errors import RetryLater
    from hub.metrics import HubMetrics

__all__ = ["MAX_DEFER_S", "Attempts"]

log = structlog.get_logger(__name__)

MAX_DEFER_S = 30.0
"""Longest pause between two attempts of a held batch (the pause doubles up to it)."""


class Attempts:
    """Holding a batch while storage cannot serve: the pause doubles up to `MAX_DEFER_S`."""

    def __init__(self, metrics: HubMetrics, size: int) -> None:
        self._metrics = metrics
        self._size = size
        self._deferrals = 0

    async def defer(self, exc: RetryLater, stop: asyncio.Event) -> bool:
        """Wait before the next attempt; False if `stop` came meanwhile."""
        defer_s = min(exc.defer_s * 2**self._deferrals, MAX_DEFER_S)
        self._deferrals += 1
        self._metrics.batches_deferred += 1
        log.warning(
            "batch_deferred",
            reason=str(exc),
            defer_s=defer_s,
            attempt=self._deferrals,
            size=self._size,
        )
        try:
            await asyncio.wait_for(stop.wait(), defer_s)
        except TimeoutError:
            return True
        return False
