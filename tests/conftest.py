"""Fixtures every test package shares: real brokers, valid IČOs, log reset."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest
import structlog

from protocol import ico_check_digit
from testkit.broker import PrivateNode, SharedBroker

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator


@pytest.fixture(scope="session")
def shared_broker() -> SharedBroker:
    """The machine's broker (or `SPISYNC_TEST_AMQP_URL`)."""
    return SharedBroker.from_environment()


@pytest.fixture
async def vhost(shared_broker: SharedBroker) -> AsyncIterator[str]:
    """A fresh vhost of this test's own on the shared broker, deleted afterwards."""
    name = await shared_broker.create_vhost()
    yield name
    await shared_broker.drop_vhost(name)


@pytest.fixture
async def private_node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PrivateNode]:
    """A private RabbitMQ node this test may stop, restart or kill."""
    node = PrivateNode(base=tmp_path_factory.mktemp("rabbitmq"))
    await node.start()
    try:
        yield node
    finally:
        node.kill()
        node.remove()


def make_ico(rng: random.Random) -> str:
    """Return a random IČO with a valid check digit."""
    first = f"{rng.randrange(10**6, 10**7):07d}"
    return f"{first}{ico_check_digit(first)}"


@pytest.fixture
def ico() -> str:
    """A fresh valid IČO, so tests never share an obec's queues or broker user."""
    return make_ico(random.Random())


@pytest.fixture
def other_ico(ico: str) -> str:
    """A second fresh valid IČO, different from `ico`."""
    while (other := make_ico(random.Random())) == ico:
        pass
    return other


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """Every test starts with structlog's defaults and leaves them so."""
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
