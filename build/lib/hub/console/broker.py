"""What the broker says right now: which agents are connected and how deep each queue is.

Read from the management API, never from a hub process's memory. One answer
is reused for a second or two, so that many open consoles polling at once ask
the broker once, not once each.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog

from spisync.broker import ManagementClient
from spisync.errors import SpisyncError

if TYPE_CHECKING:
    from spisync.config import BrokerConfig

__all__ = ["BrokerSnapshot", "BrokerView"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerSnapshot:
    """The broker's answer at one moment.

    Attributes:
        available: False when the management API did not answer (the rest is empty then).
        users: Broker users with at least one open connection on the vhost.
        queues: Messages in each queue of the vhost (ready + unacknowledged).
        consumers: Consumers of each queue.
        error: Why the broker did not answer.
    """

    available: bool
    users: frozenset[str] = frozenset()
    queues: dict[str, int] = field(default_factory=dict)
    consumers: dict[str, int] = field(default_factory=dict)
    error: str = ""


class BrokerView:
    """Asks the management API for connections and queue depths, reusing an answer briefly.

    Args:
        broker: The hub's broker configuration (its management API and vhost).
        max_age_s: How long one answer is reused.
    """

    def __init__(self, broker: BrokerConfig, *, max_age_s: float = 2.0) -> None:
        self._api = ManagementClient(broker.api_url, broker.username, broker.password)
        self._vhost = quote(broker.vhost, safe="")
        self._max_age_s = max_age_s
        self._last: tuple[float, BrokerSnapshot] | None = None
        self._lock = asyncio.Lock()

    async def snapshot(self) -> BrokerSnapshot:
        """Return the broker's current view (at most `max_age_s` old)."""
        async with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self._max_age_s:
                return self._last[1]
            snapshot = await self._ask()
            self._last = (time.monotonic(), snapshot)
            return snapshot

    async def _ask(self) -> BrokerSnapshot:
        try:
            connections = await self._api.request(
                "GET", f"vhosts/{self._vhost}/connections?columns=user,state"
            )
            queues = await self._api.request(
                "GET", f"queues/{self._vhost}?columns=name,messages,consumers"
            )
        except SpisyncError as exc:
            log.warning("broker_view_unavailable", error=str(exc))
            return BrokerSnapshot(available=False, error=str(exc))
        return BrokerSnapshot(
            available=True,
            users=frozenset(str(c.get("user", "")) for c in connections or ()),
            queues={str(q["name"]): int(q.get("messages") or 0) for q in queues or ()},
            consumers={str(q["name"]): int(q.get("consumers") or 0) for q in queues or ()},
        )
