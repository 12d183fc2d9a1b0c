"""Opening AMQP connections: plain ones; reconnecting is `spisync.broker.session`'s job.

Every role runs its connections through `run_sessions`, which builds fresh
channels and consumers per connection, because aio-pika's robust connection
has lost consumers before (aio-pika #231, #563).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import aio_pika
from aio_pika.connection import make_url

from spisync.errors import ConfigError

if TYPE_CHECKING:
    from aio_pika.abc import AbstractConnection

    from spisync.config import BrokerConfig

__all__ = ["HEARTBEAT_S", "open_connection", "ssl_context"]

HEARTBEAT_S = 15
"""AMQP heartbeat: a link that goes silent (a NAT or firewall dropping it without a
reset) is noticed after about three of them (aiormq's grace), some 50 s, instead of
the three minutes of the libraries' default 60 s."""


def ssl_context(config: BrokerConfig) -> ssl.SSLContext | None:
    """Return the TLS context an `amqps://` URL needs, or None for plain AMQP.

    Raises:
        ConfigError: If `ca_file`, `cert_file` or `key_file` names no file.
    """
    if not config.url.startswith("amqps://"):
        return None
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(config, key)
        if value is not None and not Path(value).is_file():
            raise ConfigError(
                "configuration", f"broker.{key}", f"{value} does not exist; put the file there"
            )
    context = ssl.create_default_context(cafile=config.ca_file)
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file)
    return context


async def open_connection(
    broker: BrokerConfig | str, *, name: str, handshake_timeout_s: float = 15.0
) -> AbstractConnection:
    """Open a plain connection to `broker` (a config, or a URL for tests and tools).

    A connection that fails to open is closed here: aio-pika would otherwise
    close it from `__del__`, possibly with no event loop running, leaving a
    never-awaited coroutine behind.

    Args:
        broker: The broker's config, or an `amqp://` URL.
        name: Connection name shown in the management UI (role and IČO).
        handshake_timeout_s: Seconds to wait for the AMQP handshake.

    The AMQP heartbeat is `HEARTBEAT_S` unless the URL sets `?heartbeat=`.
    """
    url = make_url(broker if isinstance(broker, str) else broker.url)
    if "heartbeat" not in url.query:
        url = url.update_query(heartbeat=HEARTBEAT_S)
    connection = aio_pika.Connection(
        url,
        ssl_context=None if isinstance(broker, str) else ssl_context(broker),
        client_properties={"connection_name": name},
    )
    try:
        await connection.connect(timeout=handshake_timeout_s)
    except BaseException:
        await connection.close()
        raise
    return connection
