"""The town-hall agent: watches folders and the registry, sends every change to the hub.

Modules, one responsibility each: `config` (AGENT.toml), `state` (state.sqlite:
index, outbox, receipts, cursors), `scanner` (folders, names, full scans),
`watcher` (events, quiet window, rescans), `tracker` (versions and
tombstones), `hasher` (hashing and verified reading), `registry` and
`registry` (the eSSL database), `publisher` (the outbox over confirms),
`link` (connection and reconnects), `inbox` (receipts and repairs),
`heartbeat`, `check`, `service` (`run`), `cli`, `errors`.
"""

from agent.config import AgentConfig, load_agent_config
from agent.errors import AgentError, FileChangedError, RegistryError, StateError
from agent.service import run

__all__ = [
    "AgentConfig",
    "AgentError",
    "FileChangedError",
    "RegistryError",
    "StateError",
    "load_agent_config",
    "run",
]
