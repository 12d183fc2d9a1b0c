"""Sync progress: figures from the real state database, lines at most per sample, status for clerks."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from agent.config import AgentConfig, AgentSection
from agent.progress import SyncProgress, status_line
from agent.records import VersionRecord
from agent.state import State
from agent.status import status_lines
from spisync.config import BrokerConfig
from spisync.logging import configure_logging
from spisync.systemd import Notifier

if TYPE_CHECKING:
    from pathlib import Path


def version(i: int, size: int) -> tuple[VersionRecord, str]:
    record = VersionRecord(
        path=f"soubor-{i}.pdf",
        folder="/srv/spisovna",
        disk_path=f"soubor-{i}.pdf",
        size=size,
        mtime_ns=i,
        inode=i,
        sha256=f"{i:064x}",
        chunk_size=1024 * 1024,
        chunk_sha256=(f"{i:064x}",),
    )
    return record, f"{i:032x}"


class Clock:
    """Monotonic seconds the test moves on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_progress_counts_rate_eta_and_says_initial_sync_complete_once(
    tmp_path: Path,
) -> None:
    """Files and bytes remaining, the drain rate and ETA follow the outbox; completion is logged once."""
    out = io.StringIO()
    configure_logging("agent", json=True, stream=out)
    state = await State.open(tmp_path / "state.sqlite")
    clock = Clock()
    scanned = [False]
    try:
        await state.record_changes([version(i, 1_000_000) for i in range(10)], [])
        progress = SyncProgress(state, lambda: scanned[0], sd=Notifier({}), clock=clock)
        first = await progress.sample()
        assert (first.files_remaining, first.bytes_remaining) == (10, 10_000_000)
        assert first.rate_bytes_per_s is None
        assert not first.initial_sync_complete
        rows = await state.due_rows(0, limit=4)
        await state.delete_rows(r.id for r in rows)
        clock.now += 10
        second = await progress.sample()
        assert second.files_remaining == 6
        assert second.rate_bytes_per_s == 400_000.0
        assert second.eta_s == 15.0
        scanned[0] = True
        await state.delete_rows(r.id for r in await state.due_rows(0, limit=100))
        clock.now += 10
        done = await progress.sample()
        assert done.initial_sync_complete
        clock.now += 10
        await progress.sample()
    finally:
        await state.close()
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events == ["sync_progress", "sync_progress", "initial_sync_complete"]


async def test_a_later_backlog_logs_progress_then_cleared(tmp_path: Path) -> None:
    """After the initial sync a backlog that outlasts one sample is reported, then `backlog_cleared`."""
    state = await State.open(tmp_path / "state.sqlite")
    clock = Clock()
    try:
        progress = SyncProgress(state, lambda: True, sd=Notifier({}), clock=clock)
        await progress.sample()  # empty and scanned: the initial sync is complete
        await state.record_changes([version(1, 5_000_000)], [])
        with structlog.testing.capture_logs() as logs:
            await progress.sample()  # a blip: not worth a line yet
            clock.now += 10
            await progress.sample()
            await state.delete_rows(r.id for r in await state.due_rows(0))
            clock.now += 10
            await progress.sample()
    finally:
        await state.close()
    assert [e["event"] for e in logs] == ["sync_progress", "backlog_cleared"]
    assert logs[0]["phase"] == "backlog"


def test_status_line_reads_like_the_issue_asks() -> None:
    """The systemd STATUS line reads like `initial sync 40 % (12,000 / 30,000 files, ...), 3.1 MB/s`."""
    from agent.progress import ProgressFigures  # noqa: PLC0415 - only here

    line = status_line(ProgressFigures(18_000, 70_000_000, 30_000, 3_100_000.0, 22.6, False, ""))
    assert line == "initial sync 40 % (12,000 / 30,000 files, 70.0 MB to send), 3.1 MB/s"


async def test_agent_status_tells_the_clerk_in_czech(tmp_path: Path) -> None:
    """`spisync agent status` reads the state read-only and says in Czech what waits and how fast."""
    config = AgentConfig(
        agent=AgentSection(ico="00255319", name="Obec Vlkava", state_dir=str(tmp_path)),
        broker=BrokerConfig(url="amqp://u:p@127.0.0.1/"),
    )
    lines, code = status_lines(config)
    assert code == 1
    assert "Agent zatím neběžel" in lines[1]
    state = await State.open(tmp_path / "state.sqlite")
    try:
        await state.record_changes([version(i, 2_000_000) for i in range(3)], [])
        progress = SyncProgress(state, lambda: False, sd=Notifier({}), clock=Clock())
        await progress.sample()
        lines, code = status_lines(config, now=datetime.now(UTC) + timedelta(seconds=5))
    finally:
        await state.close()
    text = "\n".join(lines)
    assert code == 0
    assert "Úvodní synchronizace: probíhá, 0 %" in text
    assert "Čeká na odeslání: 3 souborů, 6,0 MB" in text
    assert "Agent zřejmě neběží" not in text
