"""`/metrics` for Prometheus: per obec and hub-wide figures, read from the store at each scrape.

A custom collector asks the metadata store and the broker on every scrape, so
any hub process answers the same (no counters live in one process's memory).
Process metrics come from prometheus-client's own collectors. Open without a
session; when `[console] metrics_token` is set, only with that bearer token.
"""

from __future__ import annotations

import asyncio
import hmac
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from hub.console import views
from hub.console.context import CONSOLE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hub.console.context import Console
    from hub.store.overview import HubTotals

__all__ = ["collect_metrics", "metrics_handler"]

_STATES = ("open", "closed", "forwarded", "archived")
_BUCKETS = (600.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0)


class _Snapshot:
    """Already-gathered metrics handed to a registry (collectors themselves cannot await)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


async def collect_metrics(console: Console) -> list[Metric]:
    """Gather every spisync metric from the store and the broker."""
    rows, broker = await views.overview_rows(
        console.config, console.store, console.broker, console.obce
    )
    totals, letters = await asyncio.gather(
        console.store.overview.hub_totals(), console.store.dead_letters.counts()
    )
    broker_up = GaugeMetricFamily(
        "spisync_broker_management_up", "1 when the broker's management API answered"
    )
    broker_up.add_metric([], 1.0 if broker.available else 0.0)
    return [
        *_obec_metrics(rows),
        *_ingest_metrics(totals),
        *_dead_letter_metrics(letters),
        *_sip_metrics(totals),
        broker_up,
    ]


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def _obec_metrics(rows: list[dict[str, Any]]) -> list[Metric]:
    up = _gauge("spisync_obec_up", "1 when the obec's row is green", "ico")
    beat = _gauge(
        "spisync_obec_last_heartbeat_timestamp_seconds",
        "When the hub received the agent's latest heartbeat (Unix time)",
        "ico",
    )
    connected = _gauge(
        "spisync_obec_connected", "1 when the agent's broker user is connected now", "ico"
    )
    backlog = _gauge("spisync_obec_backlog_messages", "Messages in the agent's outbox", "ico")
    backlog_bytes = _gauge("spisync_obec_backlog_bytes", "Bytes in the agent's outbox", "ico")
    oldest = _gauge(
        "spisync_obec_backlog_oldest_seconds", "Age of the agent's oldest unsent change", "ico"
    )
    queue = _gauge("spisync_obec_queue_messages", "Messages in the obec's hub queue", "ico")
    files = _gauge("spisync_obec_files", "Current files stored at the hub", "ico")
    stored = _gauge("spisync_obec_stored_bytes", "Bytes of the current files at the hub", "ico")
    problems = _gauge(
        "spisync_obec_problems", "Open problems the agent reported, by kind", "ico", "kind"
    )
    spisy = _gauge("spisync_obec_spisy", "Spisy by hub state", "ico", "state")
    for row in rows:
        ico = row["ico"]
        up.add_metric([ico], 1.0 if row["status"] == "ok" else 0.0)
        if row["last_heartbeat_at"] is not None:
            beat.add_metric([ico], datetime.fromisoformat(row["last_heartbeat_at"]).timestamp())
        if row["connected"] is not None:
            connected.add_metric([ico], 1.0 if row["connected"] else 0.0)
        if row["outbox_messages"] is not None:
            backlog.add_metric([ico], row["outbox_messages"])
            backlog_bytes.add_metric([ico], row["outbox_bytes"] or 0)
            oldest.add_metric([ico], row["oldest_pending_age_s"] or 0.0)
        if row["queue_depth"] is not None:
            queue.add_metric([ico], row["queue_depth"])
        files.add_metric([ico], row["files"])
        stored.add_metric([ico], row["bytes"])
        for kind, count in row["problems"].items():
            problems.add_metric([ico, kind], count)
        for state in _STATES:
            spisy.add_metric([ico, state], row["spisy"].get(state, 0))
    return [
        up,
        beat,
        connected,
        backlog,
        backlog_bytes,
        oldest,
        queue,
        files,
        stored,
        problems,
        spisy,
    ]


def _ingest_metrics(totals: HubTotals) -> list[Metric]:
    messages = CounterMetricFamily(
        "spisync_hub_ingested_messages",
        "Metadata messages and chunks the hub applied",
        labels=["ico", "kind"],
    )
    ingested = CounterMetricFamily(
        "spisync_hub_ingested_bytes", "Bytes of chunks the hub stored", labels=["ico"]
    )
    for ico, count in totals.messages.items():
        messages.add_metric([ico, "metadata"], count)
    for ico, count in totals.chunks.items():
        messages.add_metric([ico, "chunk"], count)
        ingested.add_metric([ico], totals.chunk_bytes.get(ico, 0))
    return [messages, ingested]


def _dead_letter_metrics(letters: dict[tuple[str, bool, str], int]) -> list[Metric]:
    every: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    security: Counter[str] = Counter()
    for (reason, is_security, state), count in letters.items():
        every[reason] += count
        if state in {"waiting", "replaying"}:
            waiting[reason] += count
        if is_security:
            security[reason] += count
    dead = CounterMetricFamily(
        "spisync_hub_dead_letters",
        "Dead letters the console took off spisync.dead, by reason",
        labels=["reason"],
    )
    open_ = _gauge(
        "spisync_hub_dead_letters_waiting", "Dead letters not replayed or discarded yet", "reason"
    )
    events = CounterMetricFamily(
        "spisync_hub_security_events",
        "Deliveries refused for a forged or wrong identity",
        labels=["reason"],
    )
    for family, counts in ((dead, every), (open_, waiting), (events, security)):
        for reason, count in sorted(counts.items()):
            family.add_metric([reason], count)
    return [dead, open_, events]


def _sip_metrics(totals: HubTotals) -> list[Metric]:
    sips = _gauge("spisync_hub_sips", "SIPs by state", "state")
    for state in ("built", "forwarded", "accepted", "rejected", "failed"):
        sips.add_metric([state], totals.sips.get(state, 0))
    durations = sorted(totals.closing_to_acceptance_s)
    buckets = [(str(b), sum(1 for d in durations if d <= b)) for b in _BUCKETS]
    buckets.append(("+Inf", len(durations)))
    closing = HistogramMetricFamily(
        "spisync_hub_closing_to_acceptance_seconds",
        "Time from a spis's closing to the storage's acceptance of its SIP",
        buckets=buckets,
        sum_value=sum(durations),
    )
    return [sips, closing]


def _registry(metrics: list[Metric]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(metrics))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


async def metrics_handler(request: web.Request) -> web.Response:
    """`GET /metrics`: the Prometheus text format; a bearer token when `metrics_token` is set."""
    console: Console = request.app[CONSOLE]
    token = console.settings.metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return web.Response(status=401, text="metrics need the bearer token\n")
    body = generate_latest(_registry(await collect_metrics(console)))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
