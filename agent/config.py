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

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from protocol import DIAGNOSTIC_VERBS, names, validate_ico
from protocol.control import DiagnosticVerb
from protocol.errors import ProtocolError, UnsafePathError
from protocol.paths import safe_relative_path
from spisync.config import BrokerConfig, load_config
from spisync.errors import ConfigError

__all__ = [
    "DEFAULT_IGNORE_PATTERNS",
    "AgentConfig",
    "AgentSection",
    "DiagnosticsConfig",
    "FolderConfig",
    "IgnoreConfig",
    "RegistryConfig",
    "SpisovyPlanConfig",
    "SqlQueries",
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
        compression: `"deflate"` sends file content compressed where that makes it
            clearly smaller (text, uncompressed formats; scans and office
            documents are compressed already and go as they are); `"off"` never.
            Needs a hub of this release or newer.
        mass_delete_threshold: Share of a folder's files that may vanish at once
            before deletions are paused for it.
        mass_delete_min_files: A disappearance of fewer files than this is never
            treated as mass (so a folder of three files can lose two).
        publish_window: Messages published but not yet confirmed, at most; also
            bounds memory to about `publish_window * chunk_size`.
        receipt_timeout_s: A file version, tombstone or registry message the
            broker took but the hub has not confirmed (no `FileReceipt` or
            `RecordReceipt`) this long after is sent again.
        log_level: Minimum log level.
        inbox: The agent's inbox queue (`agent.<ičo>.<token>`), written by
            `spisync hub provision-agent`; without it (files of older versions)
            the agent reads the old `agent.<ičo>` until re-provisioned.
    """

    ico: str
    name: str
    state_dir: str
    inbox: str | None = None
    chunk_size: Annotated[int, msgspec.Meta(ge=1024, le=names.MAX_CHUNK_SIZE)] = (
        names.DEFAULT_CHUNK_SIZE
    )
    quiet_window_s: Annotated[float, msgspec.Meta(ge=0)] = 2.0
    rescan_interval_s: Seconds = 3600.0
    heartbeat_interval_s: Seconds = 30.0
    bandwidth_limit_bytes_per_s: Annotated[int, msgspec.Meta(ge=1024)] | None = None
    compression: Literal["deflate", "off"] = "deflate"
    mass_delete_threshold: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.3
    mass_delete_min_files: Annotated[int, msgspec.Meta(ge=1)] = 5
    publish_window: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 16
    receipt_timeout_s: Seconds = 1200.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def __post_init__(self) -> None:
        """Check the IČO's form and check digit, and that the inbox is this obec's."""
        try:
            validate_ico(self.ico)
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None
        if self.inbox is not None and not self.inbox.startswith(f"agent.{self.ico}."):
            raise ValueError(
                f"inbox {self.inbox!r} is not an inbox of IČO {self.ico} "
                f"(agent.{self.ico}.<token>); copy it from the AGENT.toml that "
                "`spisync hub provision-agent` wrote"
            )

    @property
    def inbox_queue(self) -> str:
        """The inbox to read: `inbox`, or the old `agent.<ičo>` of files without it."""
        return self.inbox or names.legacy_agent_queue(self.ico)

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


class SqlQueries(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[registry.queries]` of `kind = "sql"`: a table or view name, or a `SELECT`, per table.

    Each returns the registry contract's columns (README "The registry
    contract"); `subjekt` and `udalost` are optional. A column `zmeneno`
    (the row's modification time) lets a poll read only what changed.
    """

    spis: str
    dokument: str
    komponenta: str
    subjekt: str | None = None
    udalost: str | None = None


class SpisovyPlanConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[registry.spisovy_plan]`: the obec's spisový plán, for a product that does not record it.

    Spisovka, for one, keeps no spisový plán; the office has exactly one in
    force (its spisový řád), and an archive package must name it. Each spis
    the registry sends without one gets this.

    Attributes:
        identifikator: The plan's identifier, e.g. "SP-2023".
        nazev: Its name, e.g. "Spisový a skartační plán Obce Vlkava".
        platnost_od: The day it came into force.
        platnost_do: The day it ceased to apply, if it has.
    """

    identifikator: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    nazev: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    platnost_od: date
    platnost_do: date | None = None


class RegistryConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[registry]`: the eSSL database the agent reads (never writes).

    Attributes:
        kind: `sqlite` (the reference schema, packaging/registry/schema.sql),
            `spisovka` (Spisovka 3 on MariaDB/MySQL) or `sql` (any database
            through the queries in `[registry.queries]`).
        path: The SQLite file (`sqlite`).
        url: `mysql://USER@HOST:PORT/DATABASE`, `postgresql://...` or
            `sqlite:///PATH` (`spisovka`, `sql`); never with a password.
        password_file: A file holding the database user's password.
        table_prefix: Prefix of Spisovka's table names, if its install used one.
        files_folder: The `[[folders]]` entry (its name) that holds the eSSL's
            stored files; the files' paths are resolved against it.
        queries: What `kind = "sql"` reads.
        spisovy_plan: The obec's spisový plán, for spisy the registry sends without one.
        poll_interval_s: Seconds between reads of what changed.
        reconcile_interval_s: Seconds between full reconciliations.
        query_timeout_s: A query that takes longer fails the poll (retried later).
    """

    kind: Literal["sqlite", "spisovka", "sql"] = "sqlite"
    path: str = ""
    url: str | None = None
    password_file: str | None = None
    table_prefix: Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_]*$", max_length=40)] = ""
    files_folder: str | None = None
    queries: SqlQueries | None = None
    spisovy_plan: SpisovyPlanConfig | None = None
    poll_interval_s: Seconds = 2.0
    reconcile_interval_s: Seconds = 3600.0
    query_timeout_s: Seconds = 30.0

    def __post_init__(self) -> None:
        """Each kind has what it needs."""
        if self.kind == "sqlite":
            if not self.path:
                raise ValueError("path: kind = 'sqlite' needs the registry's file")
            return
        if not self.url:
            raise ValueError(f"url: kind = {self.kind!r} needs url = 'mysql://USER@HOST:PORT/DB'")
        from agent.registry.db import parse_db_url  # noqa: PLC0415 - avoids an import cycle

        try:
            parsed = parse_db_url(self.url)
        except ValueError as exc:
            raise ValueError(f"url: {exc}") from None
        if self.kind == "spisovka" and parsed.dialect != "mysql":
            raise ValueError("url: Spisovka runs on MariaDB/MySQL: mysql://USER@HOST:PORT/DB")
        if self.kind == "sql" and self.queries is None:
            raise ValueError(
                "queries: kind = 'sql' needs [registry.queries] spis, dokument, komponenta"
            )
        if parsed.dialect != "sqlite" and self.password_file is None:
            raise ValueError("password_file: the database user's password file is missing")

    def password(self) -> str:
        """Read the password from `password_file` (empty without one).

        Raises:
            ConfigError: The file cannot be read.
        """
        if self.password_file is None:
            return ""
        try:
            return Path(self.password_file).read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            raise ConfigError(
                self.password_file, "registry", f"password_file: {exc.strerror or exc}"
            ) from None


class IgnoreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[ignore]`: extra name patterns (fnmatch, matched against each path component).

    Attributes:
        patterns: Added to `DEFAULT_IGNORE_PATTERNS`.
    """

    patterns: tuple[str, ...] = ()


class DiagnosticsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[diagnostics]`: what the ORP's helpdesk may ask this agent to do.

    Attributes:
        allow: The verbs the obec allows (default: every verb; `[]` turns
            diagnostics off).
        hub_user: The broker user of the ORP's hub: a request runs only when the
            broker-validated `user_id` of its delivery is this user. Written by
            `spisync hub provision-agent`; without it every request is refused.
        max_result_bytes: Largest result or support bundle sent back.
        log_file_bytes: Size of the agent's own log file (`<state_dir>/logs/agent.log`,
            one older file kept) that the `logs` verb reads.
    """

    allow: tuple[DiagnosticVerb, ...] = DIAGNOSTIC_VERBS
    hub_user: Annotated[str, msgspec.Meta(min_length=1)] | None = None
    max_result_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024, le=256 * 1024 * 1024)] = (
        16 * 1024 * 1024
    )
    log_file_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024, le=1024 * 1024 * 1024)] = (
        5 * 1024 * 1024
    )


class AgentConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole `AGENT.toml`."""

    agent: AgentSection
    broker: BrokerConfig
    folders: tuple[FolderConfig, ...] = ()
    registry: RegistryConfig | None = None
    ignore: IgnoreConfig = msgspec.field(default_factory=IgnoreConfig)
    diagnostics: DiagnosticsConfig = msgspec.field(default_factory=DiagnosticsConfig)

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
        wanted = None if self.registry is None else self.registry.files_folder
        if wanted is not None and self.files_folder() is None:
            names = ", ".join(repr(f.name or f.path) for f in self.folders) or "none"
            raise ValueError(
                f"registry: files_folder {wanted!r} is not one of the [[folders]] "
                f"(their names: {names})"
            )

    def files_folder(self) -> FolderConfig | None:
        """The `[[folders]]` entry that `[registry] files_folder` names (by name or path)."""
        if self.registry is None or self.registry.files_folder is None:
            return None
        wanted = self.registry.files_folder
        return next((f for f in self.folders if wanted in (f.name, f.path)), None)

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
