"""The broker session runner every role uses: backoff, a refused login, a closed idle session."""

from __future__ import annotations

import asyncio
from collections import Counter

import structlog

from spisync.backoff import Backoff
from spisync.broker import RECONNECT, ReconnectPolicy, Session, run_sessions
from spisync.config import BrokerConfig
from testkit.broker import SharedBroker
from testkit.proxy import TcpProxy
from testkit.waiting import wait_for

_QUICK = ReconnectPolicy(backoff=Backoff(base_s=0.05, cap_s=0.2))


def test_backoff_doubles_up_to_about_a_minute_with_jitter() -> None:
    """Each delay lies between half its bound and the bound, the bound doubles from 1 s and stops at 60 s."""
    policy = RECONNECT.backoff
    assert [policy.bound(n) for n in (1, 2, 3, 7, 8, 30)] == [1, 2, 4, 60, 60, 60]
    for attempt in range(1, 40):
        delay = policy.delay(attempt)
        assert policy.bound(attempt) / 2 <= delay <= policy.bound(attempt)


async def test_a_refused_login_warns_with_the_fix_at_every_attempt(
    shared_broker: SharedBroker, vhost: str
) -> None:
    """A wrong password gives one warning per attempt naming the problem and the fix, and counts each."""
    url = shared_broker.url(vhost, username="guest", password="wrong")
    stopping = asyncio.Event()
    problems: Counter[str] = Counter()

    async def body(_: Session) -> None:
        raise AssertionError("no session may start with a wrong password")

    with structlog.testing.capture_logs() as logs:
        runner = asyncio.create_task(
            run_sessions(
                url,
                body,
                stopping,
                name="spisync tests",
                link="test",
                policy=_QUICK,
                on_problem=lambda kind: problems.update([kind]),
            )
        )

        async def two_attempts() -> bool:
            return problems["broker_login_refused"] >= 2

        await wait_for(two_attempts, what="two refused attempts")
        stopping.set()
        await asyncio.wait_for(runner, 10)
    failed = [e for e in logs if e["event"] == "broker_connect_failed"]
    assert len(failed) >= 2
    for event in failed:
        assert event["log_level"] == "warning"
        assert event["problem"] == "broker_login_refused"
        assert "password" in event["fix"]
        assert "wrong" not in event["url"]


async def test_a_missing_tls_file_is_named_at_every_attempt(tmp_path) -> None:
    """A TLS file that does not exist is reported as a configuration problem naming the key, with the fix."""
    broker = BrokerConfig(url="amqps://u:p@127.0.0.1:5671/v", ca_file=str(tmp_path / "missing.pem"))
    stopping = asyncio.Event()
    problems: Counter[str] = Counter()

    async def body(_: Session) -> None:
        raise AssertionError("no session may start")

    with structlog.testing.capture_logs() as logs:
        runner = asyncio.create_task(
            run_sessions(
                broker,
                body,
                stopping,
                name="t",
                link="test",
                policy=_QUICK,
                on_problem=lambda kind: problems.update([kind]),
            )
        )

        async def attempted() -> bool:
            return problems["broker_config_invalid"] >= 1

        await wait_for(attempted, what="a refused attempt")
        stopping.set()
        await asyncio.wait_for(runner, 10)
    failed = next(e for e in logs if e["event"] == "broker_connect_failed")
    assert "ca_file" in failed["reason"]
    assert failed["fix"]


async def test_an_idle_session_ends_when_its_connection_is_cut(
    shared_broker: SharedBroker, vhost: str
) -> None:
    """A session that only waits is cancelled as soon as its connection closes, and the next one starts."""
    url = shared_broker.url(vhost)
    stopping = asyncio.Event()
    started: list[int] = []
    cancelled: list[int] = []

    async def body(session: Session) -> None:
        started.append(session.number)
        try:
            await stopping.wait()
        except asyncio.CancelledError:
            cancelled.append(session.number)
            raise

    async with TcpProxy.for_url(url) as proxy:
        runner = asyncio.create_task(
            run_sessions(
                proxy.url_for(url), body, stopping, name="spisync tests", link="test", policy=_QUICK
            )
        )

        async def first() -> bool:
            return started == [1]

        await wait_for(first, what="the first session")
        proxy.cut()

        async def second() -> bool:
            return started == [1, 2]

        await wait_for(second, what="the second session")
        assert cancelled == [1]
        stopping.set()
        await asyncio.wait_for(runner, 10)
        assert cancelled == [1]
