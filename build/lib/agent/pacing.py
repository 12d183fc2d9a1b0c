"""Pacing: a token bucket for the bandwidth limit (retries wait by `spisync.backoff`)."""

from __future__ import annotations

import asyncio
import time

__all__ = ["TokenBucket"]


class TokenBucket:
    """Limits bytes per second, allowing a burst of up to one second's worth.

    Args:
        rate: Bytes per second.
    """

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._capacity = rate
        self._tokens = rate
        self._stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    async def take(self, amount: int) -> None:
        """Wait until `amount` bytes may be sent, then spend them.

        A message larger than the bucket goes out when the bucket is full and
        leaves it in debt, so the average rate still holds.
        """
        need = min(float(amount), self._capacity)
        while True:
            self._refill()
            if self._tokens >= need:
                self._tokens -= amount
                return
            await asyncio.sleep((need - self._tokens) / self._rate)
