"""How a message taken off `spisync.dead` is described: the hub's copies and the broker's own dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.console.deadletters import kept_letter
from hub.deadletter import HEADER_ORIGINAL_ROUTING_KEY, HEADER_ORIGINAL_USER_ID, HEADER_QUEUE
from protocol import names


@dataclass
class FakeMessage:
    """The fields of an incoming message that `kept_letter` reads (a pure unit: no broker needed)."""

    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    routing_key: str | None = None
    message_id: str | None = "m-1"
    content_type: str | None = None
    type: str | None = None
    timestamp: datetime | None = None


def test_hub_copy_keeps_reason_sender_and_original_route():
    """A copy the hub dead-lettered names its reason, the agent that sent it and where it was published."""
    message = FakeMessage(
        body=b"x",
        user_id="hub-user",
        headers={
            names.HEADER_REJECT_REASON: b"undecodable",
            names.HEADER_REJECT_DETAIL: "bad body",
            HEADER_ORIGINAL_ROUTING_KEY: "obec.00231401.file_version",
            HEADER_ORIGINAL_USER_ID: "orp.obec-00231401",
            HEADER_QUEUE: "hub.obec.00231401",
        },
    )
    letter = kept_letter(message)
    assert (letter.reason, letter.detail, letter.security) == ("undecodable", "bad body", False)
    assert (letter.ico, letter.sender) == ("00231401", "orp.obec-00231401")
    assert (letter.exchange, letter.routing_key) == (
        names.INGEST_EXCHANGE,
        "obec.00231401.file_version",
    )


def test_security_marker_and_identity_reasons_are_security_events():
    """A copy marked as a security event, or with an identity reason, is one (never replayable)."""
    marked = kept_letter(
        FakeMessage(
            body=b"x",
            headers={
                names.HEADER_REJECT_REASON: "source_seq_jump",
                names.HEADER_SECURITY_EVENT: True,
            },
        )
    )
    forged = kept_letter(
        FakeMessage(body=b"x", headers={names.HEADER_REJECT_REASON: "sender_mismatch"})
    )
    assert marked.security
    assert forged.security


def test_broker_dead_letter_uses_x_death():
    """A message the broker dead-lettered (delivery limit) keeps its first exchange, routing key and publisher."""
    died = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    message = FakeMessage(
        body=b"x",
        user_id="orp.obec-00231401",
        routing_key="hub.obec.00231401",
        headers={
            "x-first-death-reason": b"delivery_limit",
            "x-first-death-queue": b"hub.obec.00231401",
            "x-first-death-exchange": b"spisync.ingest",
            "x-death": [
                {
                    "reason": b"delivery_limit",
                    "queue": b"hub.obec.00231401",
                    "exchange": b"spisync.ingest",
                    "routing-keys": [b"obec.00231401.spis"],
                    "time": died,
                    "count": 1,
                }
            ],
        },
    )
    letter = kept_letter(message)
    assert (letter.reason, letter.ico, letter.sender) == (
        "delivery_limit",
        "00231401",
        "orp.obec-00231401",
    )
    assert (letter.exchange, letter.routing_key, letter.dead_at) == (
        "spisync.ingest",
        "obec.00231401.spis",
        died,
    )
