"""Errors shared by every role.

The tree::

    SpisyncError                  base of every error a role raises on purpose
    ├── ConfigError               a configuration file or key is wrong
    └── BrokerSetupError          the broker refused a set-up step (login, permissions, API)
"""

from __future__ import annotations

__all__ = ["BrokerSetupError", "ConfigError", "SpisyncError"]


class SpisyncError(Exception):
    """Base of every error spisync raises on purpose."""


class ConfigError(SpisyncError):
    """A configuration problem, naming the file, the key and what is expected."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        where = f"{source}: [{key}]" if key else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


class BrokerSetupError(SpisyncError):
    """The broker or its management API refused a set-up step."""
