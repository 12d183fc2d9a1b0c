"""Who sent a delivery: the broker-validated `user_id` and the queue, never the body.

The obec is the IČO of the queue the delivery came from. The broker refuses a
`user_id` that is not the publishing connection's user, so `user_id` proves
which agent published. Everything else that names an obec (the routing key,
the body's `sender`) must agree with it, or the delivery is a security event.
"""

from __future__ import annotations

import structlog

from hub.errors import RejectDelivery
from protocol import names

__all__ = [
    "REASON_MISSING_USER_ID",
    "REASON_ROUTING_KEY_MISMATCH",
    "REASON_SENDER_MISMATCH",
    "REASON_USER_MISMATCH",
    "check_routing_key",
    "check_sender",
    "check_user",
]

log = structlog.get_logger(__name__)

REASON_MISSING_USER_ID = "missing_user_id"
REASON_USER_MISMATCH = "user_mismatch"
REASON_ROUTING_KEY_MISMATCH = "routing_key_mismatch"
REASON_SENDER_MISMATCH = "sender_mismatch"


def _refuse(reason: str, detail: str, **context: object) -> RejectDelivery:
    log.warning("security_event", reason=reason, detail=detail, **context)
    return RejectDelivery(reason, detail, security=True)


def check_user(ico: str, user_id: str | None, *, expected: str) -> None:
    """Check that the delivery on obec `ico`'s queue was published by that obec's agent.

    Args:
        ico: The obec whose queue the delivery came from.
        user_id: The broker-validated `user_id` of the delivery.
        expected: The broker user of obec `ico`'s agent in this deployment.

    Raises:
        RejectDelivery: If `user_id` is missing or names another user.
    """
    if not user_id:
        raise _refuse(REASON_MISSING_USER_ID, f"no user_id on a delivery for obec {ico}", ico=ico)
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
