"""Counters of what the hub did; tests read them, a metrics endpoint will later."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HubMetrics"]


@dataclass
class HubMetrics:
    """Counters since the service started.

    Attributes:
        batches_committed: Metadata transactions committed by the batcher.
        deliveries_acked: Deliveries acknowledged after their batch committed.
        deliveries_requeued: Deliveries handed back because their handler failed.
        batches_deferred: Attempts of a batch held because storage could not serve.
        verifications_started: Content claims whose chunks began to be read back and hashed.
        verifications_done: Content claims verified (either way).
        chunks_rebuilt: Chunks sent as a delta and rebuilt from an earlier chunk
            (before their verification, which they pass or fail like any chunk).
        dead_lettered: Deliveries copied to `spisync.dead` with a reason.
        dead_letters_over_budget: Refused deliveries only logged: their obec had used
            its `[limits] dead_letters_per_hour`.
        security_events: Dead-lettered deliveries whose identity did not check out.
        replies_sent: Receipts and repair requests confirmed by the broker.
        sessions: Broker sessions opened (reconnects add one each).
    """

    batches_committed: int = 0
    deliveries_acked: int = 0
    deliveries_requeued: int = 0
    batches_deferred: int = 0
    verifications_started: int = 0
    verifications_done: int = 0
    chunks_rebuilt: int = 0
    dead_lettered: int = 0
    dead_letters_over_budget: int = 0
    security_events: int = 0
    replies_sent: int = 0
    sessions: int = 0
