"""The envelope every message shares and the constrained field types."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec

__all__ = [
    "SCHEMA_VERSION",
    "Ico",
    "Message",
    "NonNegative",
    "Sha256",
    "Text",
    "new_message_id",
    "utc_now",
]

SCHEMA_VERSION = 1

Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$", description="lower-case hex")]
Ico = Annotated[str, msgspec.Meta(pattern="^[0-9]{8}$", description="8-digit IČO")]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
# Spisová značka, číslo jednací and names: opaque text, bounded so one field cannot
# blow up a message.
Text = Annotated[str, msgspec.Meta(max_length=4000)]


def new_message_id() -> str:
    """Return a fresh, globally unique message id."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Fields every message carries.

    Attributes:
        schema_version: Version of the protocol the sender wrote.
        message_id: Unique per logical message; a re-sent message keeps its id.
        sender: Who claims to send it (an IČO, `hub:<orp>` or `archive`). The
            receiver trusts the broker-validated `user_id`, never this field alone.
        sent_at: When the sender created the message.
    """

    schema_version: int = SCHEMA_VERSION
    message_id: str
    sender: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    sent_at: datetime
