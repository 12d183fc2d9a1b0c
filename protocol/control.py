"""Control family: receipts, repair requests, heartbeats and diagnostics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from protocol.base import Message, NonNegative, Sha256

__all__ = [
    "DiagnosticsRequest",
    "DiagnosticsResult",
    "FileReceipt",
    "Heartbeat",
    "NeedChunks",
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
    """The agent's periodic health report."""

    agent_version: str
    uptime_s: float
    outbox_depth: NonNegative
    oldest_pending_age_s: float | None
    last_scan_at: datetime | None
    last_scan_duration_s: float | None
    files_watched: NonNegative
    errors_by_kind: dict[str, NonNegative] = msgspec.field(default_factory=dict)
    free_disk_bytes: NonNegative


DiagnosticCommand = Literal["status", "outbox", "errors", "rescan", "config"]


class DiagnosticsRequest(Message, frozen=True, kw_only=True, tag="diagnostics_request"):
    """The helpdesk asks an agent to run one safe, read-only diagnostic."""

    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    command: DiagnosticCommand


class DiagnosticsResult(Message, frozen=True, kw_only=True, tag="diagnostics_result"):
    """The agent's answer to a `DiagnosticsRequest`."""

    request_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    ok: bool
    output: dict[str, str | int | float | bool | None]
