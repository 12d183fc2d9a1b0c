"""The agent's configuration (`AGENT.toml`), one frozen typed object.

Example::

    [agent]
    ico = "00509001"
    name = "Obec Vlkava"
    state_dir = "/var/lib/spisync-agent"

    [broker]
    url = "amqps://obec-00509001:secret@tc.orp.example:5671/klatovy"
    ca_file = "/etc/spisync/ca.pem"

    [[folders]]
    path = "/srv/spisovna"

    [registry]
    kind = "sqlite"
    path = "/srv/essl/registry.sqlite"
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from protocol import names, validate_ico
from protocol.errors import ProtocolError, UnsafePathError
from protocol.paths import safe_relative_path
from spisync.config import BrokerConfig, load_config

__all__ = [
    "DEFAULT_IGNORE_PATTERNS",
    "AgentConfig",
    "AgentSection",
    "FolderConfig",
    "IgnoreConfig",
    "RegistryConfig",
    "load_agent_config",
]

# Office and LibreOffice lock files, editors' temporary files and Windows' own
# metadata: none of them is a document of the office.
DEFAULT_IGNORE_PATTERNS: tuple[str, ...] = (
    "~$*",
    ".~lock.*#",
    "*.tmp",
    "Thumbs.db",
    "desktop.ini",
)

Seconds = Annotated[float, msgspec.Meta(gt=0)]


class AgentSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[agent]`: who this agent is and how it behaves.

    Attributes:
        ico: The obec's IČO (check digit verified).
        name: The obec's name, for logs.
        state_dir: Folder for `state.sqlite` (outbox, file index, cursors).
        chunk_size: Bytes per chunk of file content.
        quiet_window_s: A file is sent only after it has not changed for this long.
        rescan_interval_s: Seconds between full rescans of the folders.
        heartbeat_interval_s: Seconds between heartbeats.
        bandwidth_limit_bytes_per_s: Upper bound on bytes sent per second; none by default.
        mass_delete_threshold: Share of a folder's files that may vanish at once
            before deletions are paused for it.
        mass_delete_min_files: A disappearance of fewer files than this is never
            treated as mass (so a folder of three files can lose two).
        publish_window: Messages published but not yet confirmed, at most; also
            bounds memory to about `publish_window * chunk_size`.
        log_level: Minimum log level.
    """

    ico: str
    name: str
    state_dir: str
    chunk_size: Annotated[int, msgspec.Meta(ge=1024, le=names.MAX_CHUNK_SIZE)] = (
        names.DEFAULT_CHUNK_SIZE
    )
    quiet_window_s: Annotated[float, msgspec.Meta(ge=0)] = 2.0
    rescan_interval_s: Seconds = 3600.0
    heartbeat_interval_s: Seconds = 30.0
    bandwidth_limit_bytes_per_s: Annotated[int, msgspec.Meta(ge=1024)] | None = None
    mass_delete_threshold: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.3
    mass_delete_min_files: Annotated[int, msgspec.Meta(ge=1)] = 5
    publish_window: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 16
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def __post_init__(self) -> None:
        """Check the IČO's form and check digit."""
        try:
            validate_ico(self.ico)
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None

    @property
    def state_path(self) -> Path:
        """`state_dir` as a path."""
        return Path(self.state_dir)


class FolderConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[[folders]]`: one watched folder.

    Attributes:
        path: The folder on disk.
        name: Its name on the wire; required when there are several folders,
            and then every path sent from it starts with `<name>/`.
    """

    path: str
    name: str | None = None

    def __post_init__(self) -> None:
        """A name must be one safe path component."""
        if self.name is not None:
            try:
                safe = safe_relative_path(self.name)
            except UnsafePathError as exc:
                raise ValueError(f"name: {exc.reason}") from None
            if "/" in safe or safe != self.name:
                raise ValueError("name must be one NFC path component without '/'")


class RegistryConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[registry]`: the eSSL database the agent reads (never writes).

    Attributes:
        kind: Only `sqlite` for now; other engines get adapters later.
        path: The SQLite file.
        poll_interval_s: Seconds between reads of the change log.
        reconcile_interval_s: Seconds between full reconciliations.
    """

    path: str
    kind: Literal["sqlite"] = "sqlite"
    poll_interval_s: Seconds = 2.0
    reconcile_interval_s: Seconds = 3600.0


class IgnoreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[ignore]`: extra name patterns (fnmatch, matched against each path component).

    Attributes:
        patterns: Added to `DEFAULT_IGNORE_PATTERNS`.
    """

    patterns: tuple[str, ...] = ()


class AgentConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole `AGENT.toml`."""

    agent: AgentSection
    broker: BrokerConfig
    folders: tuple[FolderConfig, ...] = ()
    registry: RegistryConfig | None = None
    ignore: IgnoreConfig = msgspec.field(default_factory=IgnoreConfig)

    def __post_init__(self) -> None:
        """With several folders, each needs its own name."""
        if len(self.folders) > 1:
            seen: set[str] = set()
            for folder in self.folders:
                if folder.name is None:
                    raise ValueError(
                        f"folders: {folder.path!r} needs a name when there are several folders"
                    )
                if folder.name in seen:
                    raise ValueError(f"folders: name {folder.name!r} is used twice")
                seen.add(folder.name)

    @property
    def ignore_patterns(self) -> tuple[str, ...]:
        """Default and configured ignore patterns together."""
        return DEFAULT_IGNORE_PATTERNS + self.ignore.patterns

    def folder_prefix(self, folder: FolderConfig) -> str:
        """Return what paths from `folder` start with on the wire (`""` or `"<name>/"`)."""
        if len(self.folders) > 1 and folder.name:
            return f"{folder.name}/"
        return ""


def load_agent_config(path: Path) -> AgentConfig:
    """Load and validate `AGENT.toml`.

    Raises:
        ConfigError: Naming the file, the key and what is wrong.
    """
    return load_config(path, AgentConfig)
