"""Errors shared by every role.

The tree::

    SpisyncError                  base of every error a role raises on purpose
    ├── ConfigError               a configuration file or key is wrong
    └── BrokerSetupError          the broker refused a set-up step (login, permissions, API)
"""

from __future__ import annotations

__all__ = ["EXIT_CONFIG", "BrokerSetupError", "ConfigError", "SpisyncError"]

EXIT_CONFIG = 78
"""Exit code of a role that stopped on a configuration error (sysexits' EX_CONFIG).

The systemd units name it in `RestartPreventExitStatus=`: restarting cannot fix a
wrong file, so the unit stays failed with the error line in the journal.
"""


class SpisyncError(Exception):
    """Base of every error spisync raises on purpose."""


class ConfigError(SpisyncError):
    """A configuration problem, naming the file (or variable), the key and what is expected.

    Attributes:
        source: The file, or the `SPISYNC_*` environment variable, that is wrong.
        key: The key (`section.key`), or empty when the whole source is wrong.
        problem: What is wrong.
        fix: What to do about it.
    """

    def __init__(self, source: str, key: str, problem: str, *, fix: str = "") -> None:
        where = f"{source}: [{key}]" if key else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem
        self.fix = fix or (
            "edit the file; the key is named above"
            if not source.startswith("SPISYNC_")
            else f"fix or unset the environment variable {source}"
        )


class BrokerSetupError(SpisyncError):
    """The broker or its management API refused a set-up step."""
