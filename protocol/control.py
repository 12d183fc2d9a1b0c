"""Control family: receipts, repair requests, heartbeats and diagnostics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from protocol.base import Message, NonNegative, Sha256
from protocol.names import MAX_CHUNK_SIZE, RECEIPTS_MAX
from protocol.paths import MAX_PATH_BYTES

__all__ = [
    "DIAGNOSTIC_VERBS",
    "Attachment",
    "DiagnosticArgs",
    "DiagnosticCommand",
    "DiagnosticState",
    "DiagnosticVerb",
    "DiagnosticsRequest",
    "DiagnosticsResult",
    "FileReceipt",
    "FileReceipts",
    "Heartbeat",
    "NeedChunks",
    "ReceiptEntry",
    "RecordReceipt",
]


ChunkSize = Annotated[int, msgspec.Meta(gt=0, le=MAX_CHUNK_SIZE)]
RecordKind = Literal[
    "tombstone", "spis", "dokument", "komponenta", "record_deleted", "spis_closed", "spis_reopened"
]


class FileReceipt(Message, frozen=True, kw_only=True, tag="file_receipt"):
    """The hub holds this version durably: the agent need not send it again.

    Attributes:
        path: The path the version was recorded under.
        sha256: The content's hash; identical content elsewhere on the same
            agent is sent as a manifest only.
        source_seq: The agent's change number of the version.
    """

    path: str
    sha256: Sha256
    source_seq: NonNegative


class ReceiptEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One file version of a `FileReceipts`: the fields of a `FileReceipt`.

    Attributes:
        path: The path the version was recorded under.
        sha256: The content's hash.
        source_seq: The agent's change number of the version.
    """

    path: str
    sha256: Sha256
    source_seq: NonNegative


class FileReceipts(Message, frozen=True, kw_only=True, tag="file_receipts"):
    """Several `FileReceipt`s in one message: what one delivery (a bundle) recorded.

    Sent only to an agent that announces it understands them
    (`names.HEADER_RECEIPT_BATCHES`); an older agent gets a `FileReceipt` each.

    Attributes:
        receipts: The versions the hub holds durably, at most `names.RECEIPTS_MAX`.
    """

    receipts: Annotated[tuple[ReceiptEntry, ...], msgspec.Meta(max_length=RECEIPTS_MAX)]


class RecordReceipt(Message, frozen=True, kw_only=True, tag="record_receipt"):
    """The hub holds this tombstone or registry message (or a newer state): do not send it again.

    Sent after the batch that applied it (or found it outdated) committed, like
    `FileReceipt`; a message the hub already had is confirmed again.

    Attributes:
        record_kind: The wire kind confirmed: `tombstone`, `spis`, `dokument`,
            `komponenta`, `record_deleted`, `spis_closed` or `spis_reopened`.
        record_id: A tombstone's path; otherwise the record's id (`spis_id`,
            `dokument_id`, `komponenta_id`, `RecordDeleted.record_id`).
        table: A `RecordDeleted`'s table; empty for every other kind.
        source_version: The message's `source_version` (a tombstone's `source_seq`).
    """

    record_kind: RecordKind
    record_id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PATH_BYTES)]
    table: Literal["", "spis", "dokument", "komponenta"] = ""
    source_version: NonNegative


class NeedChunks(Message, frozen=True, kw_only=True, tag="need_chunks"):
    """A repair request: the hub lacks or rejected some chunks of a file.

    Attributes:
        path: The path of the file version.
        sha256: Hash of the whole file.
        indexes: The chunks to send again; empty means the whole file.
        reason: Why, for the agent's log.
    """

    path: str
    sha256: Sha256
    indexes: tuple[NonNegative, ...] = ()
    reason: str


class Heartbeat(Message, frozen=True, kw_only=True, tag="heartbeat"):
    """The agent's periodic health report: what the ORP's overview shows per obec.

    Attributes:
        agent_version: The installed spisync version.
        uptime_s: Seconds since the agent started.
        outbox_depth: Rows waiting in the outbox.
        oldest_pending_age_s: Age of the oldest outbox row, None when empty.
        last_scan_at: When the last full scan of the folders finished.
        last_scan_duration_s: How long it took.
        files_watched: Files in the agent's index.
        errors_by_kind: Open problems plus transient errors since start, by kind.
        free_disk_bytes: Free space where the agent keeps its state.
        outbox_bytes: Bytes waiting in the outbox (file sizes and message bodies).
        open_problems: How many problems are open now.
        problem_kinds: Open problems by kind (`unreadable`, `deletions_paused`, ...).
        folders: Each watched folder's name (its path when unnamed) and whether
            it is available (exists and can be read) now.
        registry_cursor: The change-log `seq` read up to; None without a registry.
        registry_lag: Changes in the registry's log not yet read; None when unknown.
        probe: Sent by `spisync agent check` to test publishing, not by the running
            agent: the hub must not let it replace the agent's last real heartbeat.
        sync_files_remaining: Files waiting to be sent (file versions in the outbox).
        sync_rate_bytes_per_s: How fast the outbox's bytes went down lately; None
            before there are two samples.
        sync_eta_s: Seconds until the outbox is empty at that rate; None when
            unknown (no rate yet, or the backlog is not shrinking).
        initial_sync_complete: Whether the first full sync ended (first scan done
            and the outbox empty once); it stays true.
    """

    agent_version: str
    uptime_s: float
    outbox_depth: NonNegative
    oldest_pending_age_s: float | None
    last_scan_at: datetime | None
    last_scan_duration_s: float | None
    files_watched: NonNegative
    errors_by_kind: dict[str, NonNegative] = msgspec.field(default_factory=dict)
    free_disk_bytes: NonNegative
    outbox_bytes: NonNegative = 0
    open_problems: NonNegative = 0
    problem_kinds: dict[str, NonNegative] = msgspec.field(default_factory=dict)
    folders: dict[str, bool] = msgspec.field(default_factory=dict)
    registry_cursor: NonNegative | None = None
    registry_lag: NonNegative | None = None
    probe: bool = False
    sync_files_remaining: NonNegative = 0
    sync_rate_bytes_per_s: float | None = None
    sync_eta_s: float | None = None
    initial_sync_complete: bool = False


DiagnosticCommand = Literal["status", "outbox", "errors", "rescan", "config"]
"""The first protocol's commands; kept so that its requests still decode."""

DiagnosticVerb = Literal[
    "status", "logs", "connectivity", "check", "rescan", "resend", "allow-deletions", "bundle"
]
"""The closed list of what the helpdesk may ask an agent to do."""

DIAGNOSTIC_VERBS: tuple[DiagnosticVerb, ...] = (
    "status",
    "logs",
    "connectivity",
    "check",
    "rescan",
    "resend",
    "allow-deletions",
    "bundle",
)
"""Every verb, in the order the helpdesk's help lists them."""

_LEGACY_VERBS: dict[str, DiagnosticVerb] = {
    "status": "status",
    "outbox": "status",
    "errors": "status",
    "config": "status",
    "rescan": "rescan",
}

DiagnosticState = Literal["delivered", "running", "done", "failed", "expired"]
"""What an agent reports about a request: received, started, or its outcome."""

Name = Annotated[str, msgspec.Meta(max_length=1000)]


class DiagnosticArgs(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The arguments a verb takes; each verb reads only its own, the rest stay unset.

    Attributes:
        lines: `logs`: how many of the last lines.
        level: `logs`: the lowest level shown.
        folder: `rescan`, `allow-deletions`: the folder's name (or path).
        path: `resend`: the file's path as the hub knows it.
        spis: `resend`: a spis id, whose komponenty's files are sent again.
    """

    lines: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    level: Literal["debug", "info", "warning", "error"] | None = None
    folder: Name | None = None
    path: Name | None = None
    spis: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class DiagnosticsRequest(Message, frozen=True, kw_only=True, tag="diagnostics_request"):
    """The helpdesk asks an agent to run one safe diagnostic (no shell, no arbitrary paths).

    Attributes:
        request_id: The hub's id of the request; results name it.
        command: The first protocol's command, still sent for older agents.
        verb: What to do (see `DIAGNOSTIC_VERBS`); None in the first protocol's
            requests, which `requested_verb` maps from `command`.
        args: The verb's arguments.
        operator: The helpdesk operator's account name, for the obec's journal.
        expires_at: After this the request must not run (the broker drops it too).
    """

    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    command: DiagnosticCommand = "status"
    verb: DiagnosticVerb | None = None
    args: DiagnosticArgs = msgspec.field(default_factory=DiagnosticArgs)
    operator: Annotated[str, msgspec.Meta(max_length=200)] = ""
    expires_at: datetime | None = None

    @property
    def requested_verb(self) -> DiagnosticVerb:
        """The verb to run: `verb`, or the first protocol's `command` mapped to one."""
        return self.verb if self.verb is not None else _LEGACY_VERBS[self.command]


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A large result or a support bundle, sent before the result as verified chunks.

    The chunks travel like a file's (`ChunkMeta` headers, `object_sha256` is
    `sha256`); the result that names them is their manifest.

    Attributes:
        name: File name for the helpdesk (`bundle.zip`, `result.json`).
        size: Bytes.
        sha256: Hash of the whole attachment.
        chunk_size: Size of every chunk but the last.
        chunk_sha256: Hash of each chunk in order.
    """

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    size: NonNegative
    sha256: Sha256
    chunk_size: ChunkSize
    chunk_sha256: tuple[Sha256, ...]

    def __post_init__(self) -> None:
        """Reject chunk lists that cannot cover `size` bytes."""
        expected = -(-self.size // self.chunk_size)
        if len(self.chunk_sha256) != expected:
            raise ValueError(
                f"{len(self.chunk_sha256)} chunk hashes for {self.size} bytes "
                f"in chunks of {self.chunk_size}, expected {expected}"
            )


class DiagnosticsResult(Message, frozen=True, kw_only=True, tag="diagnostics_result"):
    """The agent's answer to a `DiagnosticsRequest`, or news of its progress.

    Attributes:
        request_id: The request's id.
        ok: Whether the verb succeeded (False also for refused and expired requests).
        output: The first protocol's flat answer; newer agents fill `data` instead.
        verb: The verb this answers.
        state: `delivered` (the agent has it), `running`, or the outcome `done`,
            `failed` (also refused: not allowed, not from the hub) or `expired`.
        error: Why it failed, in plain words.
        data: The structured answer (secrets already redacted by the agent).
        attachment: A large answer or the support bundle, sent as chunks first.
    """

    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    ok: bool
    output: dict[str, str | int | float | bool | None] = msgspec.field(default_factory=dict)
    verb: DiagnosticVerb | None = None
    state: DiagnosticState = "done"
    error: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    attachment: Attachment | None = None
