"""Spisovka registry under faults: the database cut off mid-poll, the agent killed mid-poll."""

from __future__ import annotations

import asyncio
import os
import signal

from protocol import DokumentSnapshot, KomponentaSnapshot, SpisSnapshot
from testkit.proxy import TcpProxy
from testkit.spisovka import MARIADB_HOST, MARIADB_PORT
from tests.agent.test_registry_spisovka import (
    spisovka,  # noqa: F401 - the fixture, used by name
    spisovka_config,
    versions_by_record,
)


def _dokumenty(reader) -> set[str]:
    return {d.dokument_id for d in reader.of(DokumentSnapshot)}


async def test_a_database_cut_off_mid_poll_delays_and_loses_nothing(agent_env, spisovka):  # noqa: F811 - the fixture
    """With the link to MariaDB cut during polls the agent reports the registry unreadable, and once it answers again every change arrives once."""
    spis = await spisovka.add_spis("OVÚP/7/2024")
    for n in range(5):
        await spisovka.add_dokument(spis, f"OVÚP/70{n}/2024")
    # A slow link makes each poll take many round trips: a cut lands inside one.
    proxy = TcpProxy(MARIADB_HOST, MARIADB_PORT, delay_s=0.05)
    await proxy.start()
    try:
        reader = await agent_env.reader()
        config = spisovka_config(agent_env, spisovka, query_timeout_s=5.0)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(f":{MARIADB_PORT}/", f":{proxy.port}/"), encoding="utf-8")
        await agent_env.start(config)
        await agent_env.eventually(lambda: len(_dokumenty(reader)) == 5)

        proxy.pause()
        proxy.cut()
        written = [await spisovka.add_dokument(spis, f"OVÚP/71{n}/2024") for n in range(5)]
        await agent_env.eventually(
            lambda: any(h.problem_kinds.get("registry_unreadable") for h in reader.heartbeats)
        )
        await proxy.resume()
        await agent_env.eventually(lambda: {str(i) for i in written} <= _dokumenty(reader))
        # Cut again while polls run over the slow link, then let it answer.
        for _ in range(3):
            proxy.cut()
            await asyncio.sleep(0.3)  # a cut every 0.3 s while polls run; no assertion waits on it
        more = await spisovka.add_dokument(spis, "OVÚP/720/2024")
        await agent_env.eventually(lambda: str(more) in _dokumenty(reader))
        await agent_env.eventually(
            lambda: not reader.heartbeats[-1].problem_kinds.get("registry_unreadable")
        )
    finally:
        await proxy.close()
    versions = versions_by_record(reader.messages)
    assert len(_dokumenty(reader)) == 11
    assert all(len(v) == 1 for v in versions.values()), versions
    assert not reader.violations


async def test_an_agent_killed_mid_poll_sends_nothing_twice_as_a_new_version(agent_env, spisovka):  # noqa: F811 - the fixture
    """`kill -9` of the agent while Spisovka keeps registering loses no record and sends none twice as a new version."""
    spis = await spisovka.add_spis("OVÚP/8/2024")
    for n in range(20):
        dokument = await spisovka.add_dokument(spis, f"OVÚP/80{n}/2024")
        await spisovka.add_file(dokument, f"2024/08/{n}.pdf")
    reader = await agent_env.reader()
    # Over a slow link a poll takes many round trips, so the kill lands inside one.
    proxy = TcpProxy(MARIADB_HOST, MARIADB_PORT, delay_s=0.05)
    await proxy.start()
    config = spisovka_config(agent_env, spisovka)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(f":{MARIADB_PORT}/", f":{proxy.port}/"), encoding="utf-8")
    process = agent_env.spawn(config)
    await agent_env.eventually(lambda: len(_dokumenty(reader)) >= 1, timeout=60)
    written = []
    for n in range(40):
        # One transaction per dokument and its file: each record changes exactly once.
        await spisovka.execute("START TRANSACTION")
        dokument = await spisovka.add_dokument(spis, f"OVÚP/81{n}/2024")
        await spisovka.add_file(dokument, f"2024/08/x{n}.pdf")
        await spisovka.execute("COMMIT")
        written.append(dokument)
        if n == 20:
            os.kill(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)
    agent_env.spawn(config)
    try:
        await agent_env.eventually(lambda: len(_dokumenty(reader)) == 60, timeout=90)
        await agent_env.eventually(lambda: len(reader.of(KomponentaSnapshot)) >= 60, timeout=90)
    finally:
        await proxy.close()
    versions = versions_by_record(reader.messages)
    assert {str(i) for i in written} <= _dokumenty(reader)
    assert len(reader.of(SpisSnapshot)) >= 1
    assert all(len(v) == 1 for v in versions.values()), {
        k: v for k, v in versions.items() if len(v) > 1
    }
    assert not reader.violations


async def test_a_slow_database_is_reported_and_its_changes_arrive_once_it_answers(
    agent_env,
    spisovka,  # noqa: F811 - the fixture
):
    """Queries slower than query_timeout_s fail the poll with a problem in the heartbeat; once fast again, the changes arrive once."""
    spis = await spisovka.add_spis("OVÚP/9/2024")
    proxy = TcpProxy(MARIADB_HOST, MARIADB_PORT)
    await proxy.start()
    try:
        reader = await agent_env.reader()
        config = spisovka_config(agent_env, spisovka, query_timeout_s=1.0)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace(f":{MARIADB_PORT}/", f":{proxy.port}/"), encoding="utf-8")
        await agent_env.start(config)
        await agent_env.eventually(lambda: len(reader.of(SpisSnapshot)) == 1)
        proxy.delay_s = 3.0  # each round trip now takes longer than the query timeout
        proxy.cut()
        slow = await spisovka.add_dokument(spis, "OVÚP/90/2024")
        await agent_env.eventually(
            lambda: any(h.problem_kinds.get("registry_unreadable") for h in reader.heartbeats)
        )
        assert str(slow) not in _dokumenty(reader)
        proxy.delay_s = 0.0
        proxy.cut()
        await agent_env.eventually(lambda: str(slow) in _dokumenty(reader))
    finally:
        await proxy.close()
    assert all(len(v) == 1 for v in versions_by_record(reader.messages).values())
