"""Broker sessions for every role: connect, run, notice the connection close, reconnect.

One policy for agent, hub and archive: a session is one connection with the
channels and consumers its role builds on it; it ends as soon as the
connection closes, for whatever reason and whether or not anything was being
sent (aio-pika reports a close the broker or the network caused only through
`close_callbacks`: `Connection.closed()` and `is_closed` stay unresolved, so a
quiet client that waits on them never notices). Then the next session starts
after an exponential, jittered delay (`RECONNECT`: at most about a minute),
which starts afresh after a session that lasted `stable_s`. Every session
builds its consumers anew instead of trusting aio-pika's robust connection to
restore them (it has lost consumers before: aio-pika #231, #563).

While the broker cannot be reached, every attempt logs one warning with the
reason and what to check, and is counted through `on_problem`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiormq.exceptions import (
    AuthenticationError,
    ConnectionNotAllowed,
    ProbableAuthenticationError,
)

from spisync.backoff import Backoff
from spisync.broker.connection import open_connection
from spisync.config import redact_url
from spisync.errors import ConfigError
from spisync.failures import explain

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from aio_pika.abc import AbstractChannel, AbstractConnection

    from spisync.config import BrokerConfig

__all__ = ["RECONNECT", "ReconnectPolicy", "Session", "connect_failure", "run_sessions"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ReconnectPolicy:
    """When to try the broker again.

    Attributes:
        backoff: Delay before each attempt after a failure.
        stable_s: A session that lasted this long was healthy: the backoff starts afresh.
    """

    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=1.0, cap_s=60.0))
    stable_s: float = 30.0


RECONNECT = ReconnectPolicy()
"""The policy of every role: 1 s doubling up to 60 s, reset after 30 s connected."""


class Session:
    """One connection's life, handed to the role's session body.

    Attributes:
        connection: The open connection.
        number: 1 for the first session of this `run_sessions`, then 2, 3, …
        lost: Set when the session must end: the connection closed, or the body
            called `end` (a channel it depends on closed).
        reason: Why it ended, once `lost` is set.
    """

    def __init__(self, connection: AbstractConnection, number: int) -> None:
        self.connection = connection
        self.number = number
        self.lost = asyncio.Event()
        self.reason: str | None = None

    def end(self, reason: str) -> None:
        """End the session (the runner cancels the body and reconnects)."""
        if not self.lost.is_set():
            self.reason = reason
            self.lost.set()

    def watch(self, channel: AbstractChannel, what: str) -> None:
        """End the session when `channel` closes; only for channels the body never closes."""

        def on_close(_: Any, exc: BaseException | None = None) -> None:
            self.end(f"the {what} channel closed: {_describe(exc)}")

        channel.close_callbacks.add(on_close)

    def _on_connection_close(self, _: Any, exc: BaseException | None = None) -> None:
        self.end(f"the connection closed: {_describe(exc)}")


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no reason given"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def connect_failure(exc: BaseException) -> tuple[str, str]:
    """Return the problem kind and the fix for a connection attempt that failed.

    Args:
        exc: What `open_connection` raised.

    Returns:
        `(kind, fix)`: kind is `broker_config_invalid`, `broker_login_refused`,
        `broker_vhost_refused`, `broker_tls_failed` or `broker_unreachable`.
    """
    if isinstance(exc, ConfigError):
        # Retried like the rest: a file put in place is picked up without a restart.
        return "broker_config_invalid", exc.fix
    # aiormq hands TLS failures over as AMQPConnectionError with the SSL reason in its
    # text (WRONG_VERSION_NUMBER: amqps:// to a plain port): spisync.failures reads it.
    explanation = explain(exc)
    if explanation is not None and explanation.kind == "broker_tls_failed":
        return "broker_tls_failed", explanation.fix
    for types, kind, fix in _BY_TYPE:
        if isinstance(exc, types):
            return kind, fix
    return "broker_unreachable", _FIX_UNREACHABLE


_FIX_LOGIN = (
    "check the user and password in [broker] url; if the ORP re-provisioned this "
    "installation, use the url it sent"
)
_FIX_VHOST = (
    "the user may not use the vhost in [broker] url: check its vhost part and the "
    "user's permissions on the broker"
)
_FIX_DNS = "the host in [broker] url does not resolve: check the name and the DNS"
_FIX_TIMEOUT = (
    "the broker did not answer in time: check the network link and the host and port "
    "in [broker] url"
)
_FIX_UNREACHABLE = (
    "check that the broker runs, that the host and port in [broker] url are right and "
    "that the network (firewall) lets the port through"
)
# The rest by the exception's type; anything else is an unreachable broker.
_BY_TYPE: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str, str], ...] = (
    ((AuthenticationError, ProbableAuthenticationError), "broker_login_refused", _FIX_LOGIN),
    (ConnectionNotAllowed, "broker_vhost_refused", _FIX_VHOST),
    (socket.gaierror, "broker_unreachable", _FIX_DNS),
    (TimeoutError, "broker_unreachable", _FIX_TIMEOUT),
)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def _live(session: Session, body: Callable[[Session], Coroutine[Any, Any, None]]) -> None:
    """Run `body` until it returns, or cancel it as soon as the session is lost."""
    session.connection.close_callbacks.add(session._on_connection_close)  # noqa: SLF001 - our own class
    task = asyncio.create_task(body(session))
    lost = asyncio.ensure_future(session.lost.wait())
    try:
        await asyncio.wait([task, lost], return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel()
            await asyncio.wait([task])
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            session.end(f"the session failed: {_describe(exc)}")
            log.debug("broker_session_traceback", exc_info=exc)
    finally:
        lost.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.connection.close(), timeout=3)


async def run_sessions(
    broker: BrokerConfig | str,
    body: Callable[[Session], Coroutine[Any, Any, None]],
    stopping: asyncio.Event,
    *,
    name: str,
    link: str,
    policy: ReconnectPolicy = RECONNECT,
    on_problem: Callable[[str], None] | None = None,
) -> None:
    """Keep a session with the broker until `stopping` is set.

    `body(session)` builds its channels and consumers on `session.connection`
    and returns when `stopping` is set (after draining what it must). It is
    cancelled when the connection closes or it calls `session.end`; the
    connection is closed after every session.

    Args:
        broker: The broker's config, or an `amqp://` URL.
        body: One session's work.
        stopping: Set it to stop; a wait between attempts ends at once.
        name: Connection name shown in the management UI.
        link: Names this link in log events (`agent`, `hub`, `hub_archive`, `archive`).
        policy: When to try again.
        on_problem: Called with a problem kind for every failed attempt and lost session.
    """
    url = redact_url(broker if isinstance(broker, str) else broker.url)
    attempt = 0
    number = 0
    while not stopping.is_set():
        started = time.monotonic()
        try:
            connection = await open_connection(broker, name=name)
        except Exception as exc:
            kind, fix = connect_failure(exc)
            attempt += 1
            delay = policy.backoff.delay(attempt)
            if on_problem is not None:
                on_problem(kind)
            log.warning(
                "broker_connect_failed",
                link=link,
                url=url,
                problem=kind,
                reason=_describe(exc),
                fix=fix,
                attempt=attempt,
                retry_in_s=round(delay, 2),
            )
        else:
            number += 1
            session = Session(connection, number)
            log.info("broker_connected", link=link, url=url, session=number)
            await _live(session, body)
            if stopping.is_set():
                return
            if time.monotonic() - started >= policy.stable_s:
                attempt = 0
            attempt += 1
            delay = policy.backoff.delay(attempt)
            if on_problem is not None:
                on_problem("broker_connection_lost")
            log.warning(
                "broker_connection_lost",
                link=link,
                url=url,
                reason=session.reason or "the session ended",
                attempt=attempt,
                retry_in_s=round(delay, 2),
            )
        await _wait(stopping, delay)
