"""The agent's broker link: the publisher and the inbox on one session of `run_sessions`.

Reconnecting, backoff and noticing a closed connection (idle or not) are
`spisync.broker.session`'s; here is only what one session does: publish the
outbox on a confirming channel and consume the inbox on another.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from spisync.broker import RECONNECT, ReconnectPolicy, Session, run_sessions
from spisync.systemd import notifier

if TYPE_CHECKING:
    from agent.inbox import Inbox
    from agent.problems import Problems
    from agent.publisher import Publisher
    from spisync.config import BrokerConfig

__all__ = ["Link"]

log = structlog.get_logger(__name__)


class Link:
    """Keeps one session with the broker alive until stopped.

    Args:
        broker: Broker settings.
        name: Connection name shown in the management UI.
        publisher: Publishes the outbox.
        inbox: Consumes the inbox.
        problems: Where connection failures are counted.
        policy: When to reconnect.
    """

    def __init__(
        self,
        *,
        broker: BrokerConfig,
        name: str,
        publisher: Publisher,
        inbox: Inbox,
        problems: Problems,
        policy: ReconnectPolicy = RECONNECT,
    ) -> None:
        self._broker = broker
        self._name = name
        self._publisher = publisher
        self._inbox = inbox
        self._problems = problems
        self._policy = policy
        self.connected = False

    async def run(self, stop: asyncio.Event) -> None:
        """Connect and publish until `stop` is set; in-flight publishes are drained."""
        await run_sessions(
            self._broker,
            lambda session: self._session(session, stop),
            stop,
            name=self._name,
            link="agent",
            policy=self._policy,
            on_problem=self._problems.count_event,
        )

    async def _session(self, session: Session, stop: asyncio.Event) -> None:
        self.connected = True
        notifier().ready("connected to the broker")
        try:
            channel = await session.connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            session.watch(channel, "publishing")
            consuming = asyncio.create_task(self._consume(session))
            try:
                await self._publisher.session(channel, stop)
            finally:
                consuming.cancel()
                await asyncio.gather(consuming, return_exceptions=True)
        finally:
            self.connected = False

    async def _consume(self, session: Session) -> None:
        # An inbox that cannot be read (not provisioned yet, permissions) must not
        # stop publishing: retry it on fresh channels while the connection lives.
        attempt = 0
        while not session.lost.is_set():
            try:
                channel = await session.connection.channel()
                await self._inbox.session(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if session.lost.is_set():
                    return
                attempt += 1
                delay = self._policy.backoff.delay(attempt)
                self._problems.count_event("inbox_unavailable")
                log.warning(
                    "inbox_consume_failed",
                    error=f"{type(exc).__name__}: {exc}",
                    attempt=attempt,
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)
