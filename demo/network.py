"""Sets up the demo district (broker vhost, configs, agents) and watches it work."""

from __future__ import annotations

import re
import shutil
import time
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from demo.obce import DEMO_OBCE, DemoObec
from hub.config import load_hub_config
from hub.console.accounts import add_operator
from hub.provision import provision_agent
from hub.queries import files_rows, spisy_rows
from hub.store import open_metadata_store
from protocol import names
from spisync.broker import ManagementClient

if TYPE_CHECKING:
    from pathlib import Path

from collections.abc import Awaitable, Callable

if TYPE_CHECKING:
    from hub.store import MetadataStore

__all__ = ["DemoNetwork", "HubView", "add_demo_operator"]

_Query = Callable[["MetadataStore", str], Awaitable[list[dict[str, Any]]]]

DEFAULT_VHOST = "spisync-demo"
ORP = "ukazkov"
ORP_NAME = "ORP Ukázkov (fiktivní)"


@dataclass(frozen=True)
class DemoNetwork:
    """Where the demo keeps everything and how it reaches the broker."""

    base: Path
    amqp_url: str
    management_url: str
    vhost: str = DEFAULT_VHOST

    @property
    def hub_config(self) -> Path:
        """The hub's HUB.toml."""
        return self.base / "hub" / "HUB.toml"

    @property
    def archive_config(self) -> Path:
        """The archive consumer's ARCHIVE.toml."""
        return self.base / "archive" / "ARCHIVE.toml"

    @property
    def archive_data(self) -> Path:
        """Where the archive keeps SIPs."""
        return self.base / "archive" / "data"

    def agent_config(self, obec: DemoObec) -> Path:
        """The agent's AGENT.toml."""
        return self.base / "obce" / obec.ico / "AGENT.toml"

    @property
    def user_prefix(self) -> str:
        """The demo's agent user-name prefix: its vhost, so demos on other vhosts never meet."""
        return (re.sub(r"[^a-z0-9._-]", "-", self.vhost.lower())[:60].strip("._-") or "demo") + "."

    def _vhost_url(self) -> str:
        parts = urlsplit(self.amqp_url)
        return f"{parts.scheme}://{parts.netloc}/{quote(self.vhost, safe='')}"

    def _api(self) -> ManagementClient:
        parts = urlsplit(self.amqp_url)
        return ManagementClient(
            self.management_url, parts.username or "guest", parts.password or "guest"
        )

    async def reset(self) -> None:
        """Start from nothing: a fresh folder and a fresh vhost (the demo's own only)."""
        shutil.rmtree(self.base, ignore_errors=True)
        self.base.mkdir(parents=True)
        await self.remove_from_broker()
        api = self._api()
        await api.put_vhost(self.vhost)
        admin = urlsplit(self.amqp_url).username or "guest"
        await api.set_permissions(self.vhost, admin, configure=".*", write=".*", read=".*")

    async def remove_from_broker(self) -> None:
        """Delete the demo's vhost and its agents' broker users (the demo's own only)."""
        api = self._api()
        for obec in DEMO_OBCE:
            await api.delete_user(names.agent_username(obec.ico, prefix=self.user_prefix))
        await api.delete_vhost(self.vhost)

    def write_configs(self, *, release_grace_s: float, console_listen: str) -> None:
        """Write HUB.toml (with its console) and ARCHIVE.toml with embedded defaults."""
        broker = (
            f'[broker]\nurl = "{self._vhost_url()}"\nmanagement_url = "{self.management_url}"\n'
        )
        self.hub_config.parent.mkdir(parents=True, exist_ok=True)
        self.hub_config.write_text(
            f'[hub]\norp = "{ORP}"\nname = "{ORP_NAME}"\n'
            f'data_dir = "{self.base / "hub" / "data"}"\n'
            f'user_prefix = "{self.user_prefix}"\n'
            f"release_grace_s = {release_grace_s}\nrelease_sweep_s = 1\n\n"
            + broker
            + f'\n[console]\nlisten = "{console_listen}"\nrefresh_s = 2\n',
            encoding="utf-8",
        )
        self.archive_config.parent.mkdir(parents=True, exist_ok=True)
        self.archive_config.write_text(
            f'[archive]\ndata_dir = "{self.archive_data}"\n\n'
            + broker.replace(f'management_url = "{self.management_url}"\n', ""),
            encoding="utf-8",
        )

    async def provision(self, obec: DemoObec, folder: Path, registry: Path) -> None:
        """Provision the obec at the hub and complete its agent config for the demo."""
        config = load_hub_config(self.hub_config)
        out = self.agent_config(obec)
        out.parent.mkdir(parents=True, exist_ok=True)
        await provision_agent(config, ico=obec.ico, name=obec.name, out=out)
        url = tomllib.loads(out.read_text(encoding="utf-8"))["broker"]["url"]
        out.write_text(
            f'[agent]\nico = "{obec.ico}"\nname = "{obec.name}"\n'
            f'state_dir = "{out.parent / "state"}"\n'
            "quiet_window_s = 0.5\nheartbeat_interval_s = 5\nrescan_interval_s = 60\n\n"
            f'[broker]\nurl = "{url}"\n\n'
            f'[[folders]]\npath = "{folder}"\n\n'
            f'[registry]\nkind = "sqlite"\npath = "{registry}"\npoll_interval_s = 0.5\n\n'
            # The helpdesk's diagnostics work in the demo too: the hub's user may ask.
            f'[diagnostics]\nhub_user = "{config.broker.username}"\n',
            encoding="utf-8",
        )


async def add_demo_operator(hub_config: Path, name: str, password: str) -> None:
    """Create the console's demo login (an admin, so a newcomer sees every page and action)."""
    config = load_hub_config(hub_config)
    store = await open_metadata_store(config, instance="demo")
    try:
        await add_operator(store, name, "admin", password)
    finally:
        await store.close()


class HubView:
    """What an operator sees at the hub: the rows of `spisync hub files` / `hub spisy`."""

    def __init__(self, hub_config: Path) -> None:
        self._config = load_hub_config(hub_config)

    async def _rows(
        self, query: Callable[[MetadataStore, str], Awaitable[list[dict[str, Any]]]], ico: str
    ) -> list[dict[str, Any]]:
        store = await open_metadata_store(self._config, instance="demo")
        try:
            return await query(store, ico)
        finally:
            await store.close()

    async def files(self, ico: str) -> list[dict[str, Any]]:
        """The obec's files at the hub."""
        return await self._rows(files_rows, ico)

    async def spisy(self, ico: str) -> list[dict[str, Any]]:
        """The obec's spisy at the hub."""
        return await self._rows(spisy_rows, ico)


def elapsed(start: float) -> str:
    """Seconds since `start`, for narration."""
    return f"{time.monotonic() - start:5.1f}s"
