"""The deployment's queue-name key: per-obec queue names other obce cannot guess.

RabbitMQ before 4.2.6 answers a passive `queue.declare` without checking any
permission, so an agent could learn the depth and consumer count of every
queue whose name it can construct. Each obec's queues therefore carry a token,
an HMAC of its IČO under a secret only the hub keeps
(`<data_dir>/queue-names.key`, created on first use, mode 0600). The hub, the
console and provisioning derive the names from it without listing queues; an
agent learns only its own inbox name, from its AGENT.toml.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from hub.errors import HubError
from protocol import names

if TYPE_CHECKING:
    from pathlib import Path

    from hub.config import HubConfig

__all__ = ["KEY_FILE", "QueueKeyError", "QueueNames", "queue_names"]

KEY_FILE = "queue-names.key"
_KEY_BYTES = 32


class QueueKeyError(HubError):
    """The queue-name key file exists but cannot be used."""


@dataclass(frozen=True)
class QueueNames:
    """Derives obec queue names from the deployment's key (never shown in repr)."""

    key: bytes

    def __repr__(self) -> str:
        return "QueueNames(key=<hidden>)"

    def token(self, ico: str) -> str:
        """Return obec `ico`'s queue token."""
        return names.obec_token(self.key, ico)

    def hub_queue(self, ico: str) -> str:
        """Return the hub's queue for obec `ico`."""
        return names.hub_queue(ico, self.token(ico))

    def agent_queue(self, ico: str) -> str:
        """Return obec `ico`'s agent inbox."""
        return names.agent_queue(ico, self.token(ico))


@cache
def _load(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(_KEY_BYTES) + "\n")
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:  # 128 bits at least
        raise QueueKeyError(
            f"{path}: not a queue-name key (at least 32 hex digits); restore it from a "
            "backup (deleting it renames every obec's queues)"
        )
    return key


def queue_names(config: HubConfig) -> QueueNames:
    """Return the queue names of `config`'s deployment, creating its key on first use.

    Raises:
        QueueKeyError: If the key file is unreadable or malformed.
    """
    data = config.hub.data_path
    data.mkdir(parents=True, exist_ok=True)
    return QueueNames(_load((data / KEY_FILE).resolve()))
