"""Errors of the agent package.

The tree::

    AgentError                    base of every error the agent raises on purpose
    ├── StateError                state.sqlite cannot be opened or is not ours
    ├── RegistryError             the registry database is missing, unreadable or lacks the contract
    └── FileChangedError          a file no longer matches the version being sent (send its new one)

`spisync.errors.ConfigError` (a sibling under `SpisyncError`) covers configuration.
"""

from __future__ import annotations

from spisync.errors import SpisyncError

__all__ = ["AgentError", "FileChangedError", "RegistryError", "StateError"]


class AgentError(SpisyncError):
    """Base of every error the agent raises on purpose."""


class StateError(AgentError):
    """The agent's own state database cannot be used."""


class RegistryError(AgentError):
    """The registry database cannot be read as the registry contract describes."""


class FileChangedError(AgentError):
    """A file changed since it was hashed: its old version can no longer be sent.

    Attributes:
        path: The wire path of the file.
        reason: What differs, in plain words.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
