"""Talking to RabbitMQ: connections, the topology, and the management API."""

from spisync.broker.connection import open_connection
from spisync.broker.management import ManagementClient
from spisync.broker.session import RECONNECT, ReconnectPolicy, Session, run_sessions
from spisync.broker.topology import (
    declare_archive,
    declare_core,
    declare_obec,
    static_definitions,
)

__all__ = [
    "RECONNECT",
    "ManagementClient",
    "ReconnectPolicy",
    "Session",
    "declare_archive",
    "declare_core",
    "declare_obec",
    "open_connection",
    "run_sessions",
    "static_definitions",
]
