"""What every handler gets: the open transaction, the blob store, and a place for replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from hub.config import LimitsConfig
from hub.streamed import StreamedDigests
from protocol import FileReceipt, NeedChunks, RecordReceipt, new_message_id, utc_now

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from hub.content import ContentClaim
    from hub.publisher import AgentReply
    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataTransaction
    from protocol.control import RecordKind

__all__ = ["HandlerContext"]


@dataclass
class HandlerContext:
    """One delivery being applied inside the batch's transaction.

    Attributes:
        tx: The batch's open transaction.
        blobs: The blob store (chunks are already stored by the batcher).
        ico: The obec (from the queue and the validated `user_id`).
        message_id: The delivery's message id.
        received_at: When the batch started.
        sender: The hub's `sender` for replies (`hub:<orp>`).
        limits: What one obec may ask of the hub (`[limits]`).
        verified: Verdicts of content claims the batcher verified outside the
            transaction (chunks read back and hashed).
        streamed: Whole-file hashes taken as the chunks were stored (no read-back needed).
        replies: Replies to publish after the commit.
        registry_changed: Set when the delivery may change whether a closed spis is complete.
        verify: Set by a handler that needs a claim verified first: the batcher
            verifies it outside the shared batch and applies the delivery again.
    """

    tx: MetadataTransaction
    blobs: BlobStore
    ico: str
    message_id: str
    received_at: datetime
    sender: str
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    verified: Mapping[ContentClaim, bool] = field(default_factory=dict)
    streamed: StreamedDigests = field(default_factory=StreamedDigests)
    replies: list[AgentReply] = field(default_factory=list)
    registry_changed: bool = False
    verify: ContentClaim | None = None

    @property
    def log(self) -> structlog.typing.FilteringBoundLogger:
        """A logger bound to the obec and message."""
        logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("hub.handlers").bind(
            ico=self.ico, message_id=self.message_id
        )
        return logger

    def receipt(self, *, path: str, sha256: str, source_seq: int) -> None:
        """Queue a `FileReceipt` to the agent."""
        self.replies.append(
            (
                self.ico,
                FileReceipt(
                    message_id=new_message_id(),
                    sender=self.sender,
                    sent_at=utc_now(),
                    path=path,
                    sha256=sha256,
                    source_seq=source_seq,
                ),
            )
        )

    def record_receipt(
        self, *, record_kind: RecordKind, record_id: str, source_version: int, table: str = ""
    ) -> None:
        """Queue a `RecordReceipt` to the agent (a tombstone or registry message is held)."""
        self.replies.append(
            (
                self.ico,
                RecordReceipt(
                    message_id=new_message_id(),
                    sender=self.sender,
                    sent_at=utc_now(),
                    record_kind=record_kind,
                    record_id=record_id,
                    table=table,  # type: ignore[arg-type]  # a RecordDeleted's own table
                    source_version=source_version,
                ),
            )
        )

    def need_chunks(self, *, path: str, sha256: str, indexes: Sequence[int], reason: str) -> None:
        """Queue a `NeedChunks` repair request to the agent."""
        self.replies.append(
            (
                self.ico,
                NeedChunks(
                    message_id=new_message_id(),
                    sender=self.sender,
                    sent_at=utc_now(),
                    path=path,
                    sha256=sha256,
                    indexes=tuple(indexes),
                    reason=reason,
                ),
            )
        )
