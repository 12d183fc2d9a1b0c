"""The hub's configuration (`HUB.toml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from hub.console.config import ConsoleConfig
from protocol.names import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    agent_username,
    default_user_prefix,
)
from spisync.config import BrokerConfig, load_config

__all__ = [
    "ClosingConfig",
    "HubConfig",
    "HubSection",
    "LimitsConfig",
    "StorageConfig",
    "load_hub_config",
]

_GIB = 1024 * 1024 * 1024


class HubSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[hub]`: who this hub is and where it keeps its data.

    Attributes:
        orp: Short identifier of the ORP (letters, digits, `-`), used in routing keys.
        data_dir: Folder for the metadata database, blobs and SIPs.
        name: Human name of the ORP, shown in logs and packages.
        agent_broker_url: The broker as agents reach it (`amqps://host:5671/vhost`,
            no credentials); by default the hub's own broker URL without them.
        release_grace_s: Seconds to keep an archived spis's blobs before releasing them.
        release_sweep_s: How often to look for archived spisy whose blobs may be released.
        archive_chunk_size: Bytes per chunk of a SIP sent to the archive.
        archive_resend_s: Seconds without the archive's reply after which a SIP is sent again.
        archive_window: SIP chunks published ahead of their confirms; bounds memory to
            about `archive_window` chunks.
        batch_max: Most deliveries committed in one metadata transaction.
        batch_wait_s: Longest a delivery waits for its batch to fill.
        prefetch: Unacknowledged deliveries per obec queue; bounds memory to about
            `prefetch` chunks per obec.
        obce_poll_s: How often to look for newly provisioned obce.
        instance: Name of this hub process in connection names and logs; by
            default `<host>-<pid>`.
        log_level: Minimum log level (`debug` adds tracebacks).
        user_prefix: Prefix of the agents' broker user names (`<prefix>obec-<ičo>`),
            so several deployments share one broker; by default `<orp>.`. An
            empty string keeps the names of version 0.1 (see CHANGELOG.md).
    """

    orp: Annotated[str, msgspec.Meta(pattern="^[a-z0-9-]{1,40}$")]
    data_dir: str
    name: str = ""
    agent_broker_url: str | None = None
    release_grace_s: Annotated[float, msgspec.Meta(ge=0)] = 7 * 24 * 3600.0
    release_sweep_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] = 300.0
    archive_chunk_size: Annotated[int, msgspec.Meta(ge=1024, le=MAX_CHUNK_SIZE)] = (
        DEFAULT_CHUNK_SIZE
    )
    archive_resend_s: Annotated[float, msgspec.Meta(gt=0)] = 3600.0
    archive_window: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8
    batch_max: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 200
    batch_wait_s: Annotated[float, msgspec.Meta(ge=0, le=5)] = 0.05
    prefetch: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 16
    obce_poll_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 5.0
    instance: str = ""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    user_prefix: (
        Annotated[str, msgspec.Meta(pattern=r"^([a-z0-9][a-z0-9._-]{0,60}[.-])?$")] | None
    ) = None

    @property
    def data_path(self) -> Path:
        """`data_dir` as a path."""
        return Path(self.data_dir)

    @property
    def agent_user_prefix(self) -> str:
        """The prefix of this deployment's agent user names (`user_prefix` or `<orp>.`)."""
        return default_user_prefix(self.orp) if self.user_prefix is None else self.user_prefix

    def agent_username(self, ico: str) -> str:
        """Return the broker user name of obec `ico`'s agent in this deployment."""
        return agent_username(ico, prefix=self.agent_user_prefix)


class StorageConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[storage]`: where blobs go: a local folder (default) or S3-compatible storage.

    Attributes:
        kind: `local` (blobs under `<data_dir>/blobs`) or `s3`.
        bucket: The S3 bucket (required for `s3`).
        endpoint_url: The S3 endpoint (MinIO, Ceph RGW); AWS's when unset.
        region: The S3 region.
        access_key_id: S3 credentials; the default credential chain when unset.
        secret_access_key: S3 credentials (never shown in `repr`).
        prefix: Key prefix inside the bucket, e.g. `klatovy/`.
        multipart_threshold: Objects larger than this go up in a multipart upload.
        multipart_part_size: Size of each part of a multipart upload (S3 needs >= 5 MiB).
    """

    kind: Literal["local", "s3"] = "local"
    bucket: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = ""
    multipart_threshold: Annotated[int, msgspec.Meta(ge=5 * 1024 * 1024)] = 16 * 1024 * 1024
    multipart_part_size: Annotated[int, msgspec.Meta(ge=5 * 1024 * 1024)] = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        """An S3 store needs a bucket."""
        if self.kind == "s3" and not self.bucket:
            raise ValueError("bucket is required when kind = 's3'")

    def __repr__(self) -> str:
        secret = "***" if self.secret_access_key else None
        return (
            f"StorageConfig(kind={self.kind!r}, bucket={self.bucket!r}, "
            f"endpoint_url={self.endpoint_url!r}, secret_access_key={secret!r})"
        )

    __str__ = __repr__


class LimitsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[limits]`: what each obec may ask of the hub, so that no obec can hurt another.

    Messages in flight per obec are `[hub] prefetch`; the broker's own limits
    (largest message, dead-letter queue length) are in its config and topology.

    Attributes:
        max_file_bytes: The largest file (a manifest's `size`) the hub records;
            a larger one is dead-lettered (`file_too_large`) before anything is read.
        max_repeat_factor: A manifest may describe at most this many times the
            bytes of the distinct chunks it lists (a file that repeats one chunk
            over and over records bytes nobody sent); checked against the
            chunks' recorded sizes before any blob is read (`repeated_chunks`).
        max_source_seq_jump: How far a file version's `source_seq` may lie above
            the highest one the obec's agent sent so far; further is a forged
            number (`source_seq_jump`, a security event).
        unreferenced_chunk_age_s: Seconds after which a chunk that no recorded
            content uses is deleted (an upload whose manifest never came).
        verify_concurrency: Manifests verified (their chunks read back and
            hashed) at once, over all obce; one obec has at most one at a time.
        dead_letters_per_hour: Copies of refused deliveries one obec may add to the
            shared `spisync.dead` an hour (and at once); past it a refused delivery
            is only logged (`dead_letter_over_budget`), so one obec cannot fill the
            queue that every obec shares.
    """

    max_file_bytes: Annotated[int, msgspec.Meta(ge=1)] = 4 * _GIB
    max_repeat_factor: Annotated[int, msgspec.Meta(ge=1)] = 16
    max_source_seq_jump: Annotated[int, msgspec.Meta(ge=1)] = 1_000_000
    unreferenced_chunk_age_s: Annotated[float, msgspec.Meta(gt=0)] = 7 * 24 * 3600.0
    verify_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    dead_letters_per_hour: Annotated[int, msgspec.Meta(ge=1)] = 1000


class ClosingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[closing]`: how a closed spis becomes its SIP.

    Attributes:
        missing_metadata: What to do when the registry lacks a field the
            standard requires: `wait` (the default) keeps the spis waiting and
            names the fields in `hub spisy`; `placeholder` builds the SIP with
            the documented placeholders (README, "Placeholders") and lists them.
    """

    missing_metadata: Literal["wait", "placeholder"] = "wait"


class HubConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole `HUB.toml`."""

    hub: HubSection
    broker: BrokerConfig
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    limits: LimitsConfig = msgspec.field(default_factory=LimitsConfig)
    closing: ClosingConfig = msgspec.field(default_factory=ClosingConfig)
    console: ConsoleConfig | None = None


def load_hub_config(path: Path) -> HubConfig:
    """Load and validate `HUB.toml`; errors name the file and key."""
    return load_config(path, HubConfig)
