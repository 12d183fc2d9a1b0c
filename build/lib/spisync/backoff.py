"""The one backoff formula: exponential, capped, with jitter.

Every retry in spisync (broker reconnects, an outbox row the broker refused, a
part of the agent that crashed) waits by this formula, so that a fleet of
agents cut off by the same outage does not come back in the same second.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter.

    Attributes:
        base_s: The bound of the first retry's delay.
        cap_s: The largest bound; later retries never wait longer.
    """

    base_s: float = 1.0
    cap_s: float = 60.0

    def bound(self, attempt: int) -> float:
        """Return the longest delay before retry number `attempt` (1, 2, …)."""
        return min(self.cap_s, self.base_s * 2.0 ** max(0, attempt - 1))

    def delay(self, attempt: int) -> float:
        """Return a random delay between half the bound and the bound of retry `attempt`.

        Half of it is fixed so that retries still spread out exponentially; the
        random half keeps many clients from retrying in lockstep.
        """
        bound = self.bound(attempt)
        return random.uniform(bound / 2, bound)
