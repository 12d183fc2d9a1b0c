"""The heartbeat carries what the ORP's overview needs, and `agent check` no longer overwrites it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agent.check import check
from agent.config import load_agent_config
from protocol import Tombstone, new_message_id, utc_now
from testkit.hub import Agent
from testkit.waiting import wait_for
from tests.diag.diagkit import diag_network

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.broker import SharedBroker


async def test_heartbeat_reports_outbox_problems_folders_and_registry_lag(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """The hub keeps a heartbeat with version, outbox bytes, open problems by kind, folder availability and registry cursor/lag."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        (net.folder / "a.pdf").write_bytes(b"%PDF a")
        (net.folder / "bad?.txt").write_bytes(b"unsafe name")
        net.registry_sql(
            "INSERT INTO spis (id, spisova_znacka, nazev, spisovy_znak, skartacni_znak, "
            "skartacni_lhuta, datum_otevreni, datum_uzavreni, stav, zpracovatel) VALUES ('S1', 'OÚ/1/2026', 'Kácení', '2.4.3', 'A', 10, "
            "'2026-11-02', NULL, 'otevreny', 'Marie Nováková')"
        )

        async def caught_up() -> bool:
            beat = net.heartbeat()
            return (
                beat is not None
                and beat.files_watched == 1
                and beat.registry_cursor is not None
                and beat.registry_cursor > 0
                and beat.registry_lag == 0
                and beat.open_problems == 1
            )

        await wait_for(caught_up, what="a heartbeat of the caught-up agent", timeout=60)
        beat = net.heartbeat()
        assert beat is not None
        assert beat.problem_kinds == {"unsafe_name": 1}
        assert beat.folders == {str(net.folder): True}
        assert beat.agent_version
        assert beat.outbox_bytes >= 0
        assert not beat.probe


async def test_agent_check_does_not_replace_the_agents_heartbeat(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """After `spisync agent check`, the hub still shows the running agent's real figures, not zeros."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        (net.folder / "a.pdf").write_bytes(b"%PDF a")

        async def real_beat() -> bool:
            beat = net.heartbeat()
            return beat is not None and beat.files_watched == 1

        await wait_for(real_beat, what="the agent's heartbeat", timeout=60)
        await net.stop_agent()
        before = net.heartbeat()
        findings = await check(net.agent_toml)
        assert all(f.ok for f in findings), findings
        # A marker sent after the check's probe: once the hub holds it, the probe was applied.
        provisioned = load_agent_config(net.agent_toml)
        agent = Agent(ico=ico, url=provisioned.broker.url, inbox=provisioned.agent.inbox_queue)
        await agent.connect()
        try:
            marker = Tombstone(
                message_id=new_message_id(),
                sender=ico,
                sent_at=utc_now(),
                path="marker.txt",
                source_seq=_agent_seq(net.base) + 1,  # the next change number, no jump
                deleted_at=utc_now(),
            )
            await agent.send(marker)
        finally:
            await agent.close()

        async def marker_applied() -> bool:
            return await asyncio.to_thread(_has_version, net.hub.hub.data_path, ico, "marker.txt")

        await wait_for(marker_applied, what="the marker at the hub", timeout=60)
        after = net.heartbeat()
        assert after == before
        assert after is not None
        assert after.files_watched == 1


def _has_version(data_path: Path, ico: str, path: str) -> bool:
    import sqlite3  # noqa: PLC0415 - test helper

    with sqlite3.connect(f"file:{data_path / 'hub.sqlite'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT 1 FROM file_versions WHERE ico = ? AND path = ?", (ico, path)
        ).fetchone()
    return row is not None


def _agent_seq(base: Path) -> int:
    import sqlite3  # noqa: PLC0415 - test helper

    with sqlite3.connect(f"file:{base / 'state' / 'state.sqlite'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'source_seq'").fetchone()
    return int(row[0])
