"""What the diagnostics verbs may see and touch of the running agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from agent.config import AgentConfig
    from agent.diagnostics.journal import Journal
    from agent.diagnostics.logfile import LogFile
    from agent.diagnostics.redact import Redactor
    from agent.problems import Problems
    from agent.scanner import Folder
    from agent.state import State
    from agent.watcher import FolderWatcher

__all__ = ["AgentView", "VerbError"]


class VerbError(Exception):
    """A verb cannot do what was asked; the message (Czech) goes to the helpdesk."""


@dataclass
class AgentView:
    """The running agent's parts the verbs use; they only read the office's data.

    Attributes:
        config: The agent's configuration.
        state: The state database.
        problems: Open problems.
        folders: The watched folders.
        watcher: The folder watcher (None without folders), for `rescan`.
        wake_publisher: Tells the publisher new outbox rows wait.
        started: `time.monotonic()` when the agent started.
        log_file: The agent's own log file.
        journal: The diagnostics journal.
        redactor: Removes secrets from whatever leaves.
    """

    config: AgentConfig
    state: State
    problems: Problems
    folders: Sequence[Folder]
    watcher: FolderWatcher | None
    wake_publisher: Callable[[], None]
    started: float
    log_file: LogFile
    journal: Journal
    redactor: Redactor

    def folder(self, name: str | None) -> Folder:
        """Return the folder named `name` (its name or path); the only one when None.

        Raises:
            VerbError: If there is no such folder, listing the ones there are.
        """
        from agent.diagnostics.figures import folder_name  # noqa: PLC0415 - avoids a cycle

        if name is None and len(self.folders) == 1:
            return self.folders[0]
        for folder in self.folders:
            if name in {folder.key, folder_name(folder)}:
                return folder
        known = ", ".join(folder_name(f) for f in self.folders) or "žádné"
        raise VerbError(f"složka {name!r} není v konfiguraci agenta; složky: {known}")
