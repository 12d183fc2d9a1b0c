"""Who sent a delivery: the broker-validated `user_id` and the queue, never the body.

The obec is the IČO of the queue the delivery came from. The broker refuses a
`user_id` that is not the publishing connection's user, so `user_id` proves
which agent published. Everything else that names an obec (the routing key,
the body's `sender`) must agree with it, or the delivery is a security event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from hub.deadletter import HEADER_ORIGINAL_USER_ID
from hub.errors import RejectDelivery
from protocol import names

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "REASON_MISSING_USER_ID",
    "REASON_ROUTING_KEY_MISMATCH",
    "REASON_SENDER_MISMATCH",
    "REASON_USER_MISMATCH",
    "SECURITY_REASONS",
    "check_routing_key",
    "check_sender",
    "check_user",
]

log = structlog.get_logger(__name__)

REASON_MISSING_USER_ID = "missing_user_id"
REASON_USER_MISMATCH = "user_mismatch"
REASON_ROUTING_KEY_MISMATCH = "routing_key_mismatch"
REASON_SENDER_MISMATCH = "sender_mismatch"

SECURITY_REASONS = frozenset(
    {
        REASON_MISSING_USER_ID,
        REASON_USER_MISMATCH,
        REASON_ROUTING_KEY_MISMATCH,
        REASON_SENDER_MISMATCH,
    }
)
"""Dead-letter reasons that are security events: listed apart, never replayed."""


def _refuse(reason: str, detail: str, **context: object) -> RejectDelivery:
    log.warning("security_event", reason=reason, detail=detail, **context)
    return RejectDelivery(reason, detail, security=True)


def _is_replay(ico: str, user_id: str, expected: str, headers: Mapping[str, Any]) -> bool:
    """Tell whether this is the console replaying a dead letter that obec `ico`'s agent sent.

    Only the hub's own (or an administrator's) broker user can put a message
    on `hub.obec.<ičo>` under any user but that obec's agent: agents may
    publish only their own IČO's routing keys. So a replay marker from a
    user that is not an agent is the console's; from an agent it is refused.
    """
    agent_prefix = expected.removesuffix(f"obec-{ico}") + "obec-"
    original = headers.get(HEADER_ORIGINAL_USER_ID)
    if isinstance(original, bytes):
        original = original.decode(errors="replace")
    return (
        names.HEADER_REPLAY_OF in headers
        and original == expected
        and not user_id.startswith(agent_prefix)
    )


def check_user(
    ico: str, user_id: str | None, *, expected: str, headers: Mapping[str, Any] | None = None
) -> None:
    """Check that the delivery on obec `ico`'s queue was published by that obec's agent.

    A dead letter the console replays (see `hub.console.deadletters`) passes
    as the agent's own message.

    Args:
        ico: The obec whose queue the delivery came from.
        user_id: The broker-validated `user_id` of the delivery.
        expected: The broker user of obec `ico`'s agent in this deployment.
        headers: The delivery's headers (for the replay marker).

    Raises:
        RejectDelivery: If `user_id` is missing or names another user.
    """
    if not user_id:
        raise _refuse(REASON_MISSING_USER_ID, f"no user_id on a delivery for obec {ico}", ico=ico)
    if user_id != expected and _is_replay(ico, user_id, expected, headers or {}):
        log.info("replayed_dead_letter_accepted", ico=ico, user_id=user_id)
        return
    if user_id != expected:
        raise _refuse(
            REASON_USER_MISMATCH,
            f"user_id {user_id!r} on obec {ico}'s queue, expected {expected!r}",
            ico=ico,
            user_id=user_id,
            fix=f"if {user_id!r} is obec {ico}'s agent under an old or another user name, "
            "re-provision it (spisync hub provision-agent) and install the new AGENT.toml; "
            "otherwise someone publishes for another obec",
        )


def check_routing_key(ico: str, routing_key: str | None, kind: str) -> None:
    """Check that the routing key is exactly `obec.<ičo>.<kind>`.

    Raises:
        RejectDelivery: If it names another obec or another kind.
    """
    expected = names.ingest_routing_key(ico, kind)
    if routing_key != expected:
        raise _refuse(
            REASON_ROUTING_KEY_MISMATCH,
            f"routing key {routing_key!r}, expected {expected!r}",
            ico=ico,
            routing_key=routing_key,
            kind=kind,
        )


def check_sender(ico: str, sender: str) -> None:
    """Check that the body's `sender` is the obec the broker says published it.

    Raises:
        RejectDelivery: If it names anyone else.
    """
    if sender != ico:
        raise _refuse(
            REASON_SENDER_MISMATCH,
            f"body sender {sender!r} on obec {ico}'s queue",
            ico=ico,
            sender=sender,
        )
