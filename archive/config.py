"""The archive consumer's configuration (`ARCHIVE.toml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from spisync.config import BrokerConfig, load_config

__all__ = ["ArchiveConfig", "ArchiveSection", "load_archive_config"]


class ArchiveSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[archive]`: where packages are kept and how the inbox is consumed.

    Attributes:
        data_dir: Folder for stored packages (`<ičo>/<SIP name>.zip`), the
            archive-id index, staged chunks and reassembly work files. One file
            system, so that a reassembled package is linked into place atomically.
        id_prefix: Prefix of archive ids (`<prefix>-<year>-<seq>`), e.g. the
            region's KDS code.
        prefetch: Unacknowledged deliveries the broker sends ahead; bounds memory
            to about `prefetch` chunks.
        staging_max_age_h: Hours after which chunks of a SIP whose manifest never
            came (or that was rejected as incomplete and never re-sent) are deleted.
        drain_timeout_s: On shutdown, how long the message in hand may take to
            finish before it is abandoned (the broker redelivers it).
        instance: Name of this process in the connection name and logs; by
            default `<host>-<pid>`.
        log_level: Minimum log level (`debug` adds tracebacks); `--log-level` overrides it.
        vir1_command: Malware scanner for rule vir1, `{path}` standing for the SIP
            (e.g. `clamdscan --no-summary --fdpass {path}`); empty: vir1 is not checked.
        kom4_command: PDF/A validator for rule kom4, `{path}` standing for one PDF;
            empty: kom4 is not checked. Both exit 0 for fine and 1 for a finding.
    """

    data_dir: Annotated[str, msgspec.Meta(min_length=1)]
    id_prefix: Annotated[str, msgspec.Meta(pattern="^[A-Z0-9]{1,16}$")] = "KDS"
    prefetch: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 16
    staging_max_age_h: Annotated[float, msgspec.Meta(gt=0)] = 7 * 24.0
    drain_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=60)] = 8.0
    instance: str = ""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    vir1_command: str = ""
    kom4_command: str = ""

    @property
    def data_path(self) -> Path:
        """`data_dir` as a path."""
        return Path(self.data_dir)


class ArchiveConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole `ARCHIVE.toml`."""

    archive: ArchiveSection
    broker: BrokerConfig


def load_archive_config(path: Path) -> ArchiveConfig:
    """Load and validate `ARCHIVE.toml`.

    Raises:
        ConfigError: Naming the file, the key and what is wrong.
    """
    return load_config(path, ArchiveConfig)
