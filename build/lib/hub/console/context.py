"""What every console request needs: config, store, broker view, templates, the dead-letter desk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    import jinja2

    from hub.config import HubConfig
    from hub.console.broker import BrokerView
    from hub.console.config import ConsoleConfig
    from hub.console.deadletters import DeadLetterDesk
    from hub.console.views import ObceRegistry
    from hub.store.console import Role
    from hub.store.metadata import MetadataStore

__all__ = ["CONSOLE", "PRINCIPAL", "Console", "Principal"]


@dataclass(frozen=True, slots=True)
class Console:
    """The console's shared parts (no state of its own beyond caches of shared state)."""

    config: HubConfig
    store: MetadataStore
    broker: BrokerView
    obce: ObceRegistry
    desk: DeadLetterDesk
    templates: jinja2.Environment
    instance: str

    @property
    def settings(self) -> ConsoleConfig:
        """The `[console]` section."""
        assert self.config.console is not None
        return self.config.console


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: an operator by session cookie or by API token.

    Attributes:
        name: The operator's account name.
        role: What they may do.
        csrf_token: The session's CSRF token; None for a bearer token (no ambient credentials).
        session_hash: The session's id hash (to log out); None for a bearer token.
    """

    name: str
    role: Role
    csrf_token: str | None
    session_hash: str | None


CONSOLE = web.AppKey("console", Console)
PRINCIPAL = web.RequestKey("spisync_principal", Principal)
"""Key of the authenticated `Principal` in an `aiohttp.web.Request`."""
