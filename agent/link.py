"""The broker link: connect, run the publisher and the inbox, reconnect with backoff.

Each connection is a fresh session: its own channels, its own consumer. When
anything in it fails, the whole session is torn down and rebuilt after an
exponential, jittered delay, so a consumer can never be silently lost across
a reconnect (aio-pika's robust reconnection has lost consumers before).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import structlog
from aiormq.exceptions import AuthenticationError, ProbableAuthenticationError

from agent.pacing import backoff_delay
from spisync.broker import open_connection
from spisync.config import redact_url
from spisync.systemd import notifier

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

    from agent.inbox import Inbox
    from agent.problems import Problems
    from agent.publisher import Publisher
    from spisync.config import BrokerConfig

__all__ = ["Link"]

log = structlog.get_logger(__name__)

# A session that lasted this long was healthy: the next failure starts backing off afresh.
_STABLE_S = 30.0


class Link:
    """Keeps one session with the broker alive until stopped.

    Args:
        broker: Broker settings.
        name: Connection name shown in the management UI.
        publisher: Publishes the outbox.
        inbox: Consumes the inbox.
        problems: Where connection failures are counted.
        reconnect_max_s: Longest delay between reconnect attempts.
    """

    def __init__(
        self,
        *,
        broker: BrokerConfig,
        name: str,
        publisher: Publisher,
        inbox: Inbox,
        problems: Problems,
        reconnect_max_s: float,
    ) -> None:
        self._broker = broker
        self._name = name
        self._publisher = publisher
        self._inbox = inbox
        self._problems = problems
        self._reconnect_max = reconnect_max_s
        self.connected = False

    async def run(self, stop: asyncio.Event) -> None:
        """Connect and publish until `stop` is set; in-flight publishes are drained."""
        attempt = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                connection = await open_connection(self._broker, name=self._name)
            except (AuthenticationError, ProbableAuthenticationError) as exc:
                self._problems.count_event("broker_login_refused")
                log.error(
                    "broker_login_refused",
                    url=redact_url(self._broker.url),
                    error=str(exc),
                    fix="check the user and password in [broker] url; "
                    "ask the ORP to re-provision this obec if they changed",
                )
            except Exception as exc:
                self._problems.count_event("broker_unreachable")
                log.warning(
                    "broker_connect_failed",
                    url=redact_url(self._broker.url),
                    error=f"{type(exc).__name__}: {exc}",
                )
            else:
                await self._session(connection, stop)
            if time.monotonic() - started > _STABLE_S:
                attempt = 0
            if stop.is_set():
                return
            attempt += 1
            delay = backoff_delay(attempt, cap=self._reconnect_max)
            log.info("broker_reconnect_scheduled", attempt=attempt, delay_s=round(delay, 2))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    async def _session(self, connection: AbstractConnection, stop: asyncio.Event) -> None:
        log.info("broker_connected", url=redact_url(self._broker.url))
        self.connected = True
        notifier().ready("connected to the broker")
        try:
            publish_channel = await connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            async with asyncio.TaskGroup() as group:
                publishing = group.create_task(self._publisher.session(publish_channel, stop))
                consuming = group.create_task(self._consume(connection))
                watching = group.create_task(_until_closed(connection))
                await publishing
                consuming.cancel()
                watching.cancel()
        except Exception as exc:
            self._problems.count_event("broker_connection_lost")
            log.warning("broker_session_lost", error=_flatten(exc))
        finally:
            self.connected = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=3)

    async def _consume(self, connection: AbstractConnection) -> None:
        # An inbox that cannot be read (not provisioned yet, permissions) must not
        # stop publishing: retry it on fresh channels while the connection lives.
        attempt = 0
        while True:
            try:
                channel = await connection.channel()
                await self._inbox.session(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if connection.is_closed:
                    raise
                attempt += 1
                self._problems.count_event("inbox_unavailable")
                log.warning("inbox_consume_failed", error=_flatten(exc), attempt=attempt)
                await asyncio.sleep(backoff_delay(attempt, cap=self._reconnect_max))


async def _until_closed(connection: AbstractConnection) -> None:
    await connection.closed()
    raise ConnectionError("the broker connection closed")


def _flatten(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_flatten(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
