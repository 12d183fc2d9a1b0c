"""`spisync hub run` as real processes: signals, two hubs sharing obce, and kill -9 at any moment."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import msgspec

from hub.content import open_content
from hub.store import SqliteMetadataStore, open_blob_store
from protocol import FileReceipt, SpisClosed
from testkit.hub import write_hub_toml
from testkit.waiting import wait_for
from tests.hub.hubkit import REPO, HubProcess, dead_letters, registry_records


def _with(config, **hub):
    return msgspec.structs.replace(config, hub=msgspec.structs.replace(config.hub, **hub))


def _processed_by(config) -> dict[str, list[str]]:
    """Return {ico: [hub_instance per applied message]} straight from the database."""
    path = config.hub.data_path / "hub.sqlite"
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(path, timeout=30) as db:
            rows = db.execute("SELECT ico, hub_instance FROM processed_messages").fetchall()
    except sqlite3.OperationalError:
        # The hub has created the file but not yet its schema.
        return {}
    result: dict[str, list[str]] = {}
    for ico, instance in rows:
        result.setdefault(ico, []).append(instance)
    return result


def _started(hub: HubProcess, event: str, count: int = 1):
    async def check() -> bool:
        if hub.process.poll() is not None:
            raise AssertionError(f"hub exited early:\n{hub.log_path.read_text()}")
        return sum(e.get("event") == event for e in hub.events()) >= count

    return check


async def test_sigterm_drains_and_exits_cleanly(
    hub_config, make_agent, hub_processes, tmp_path, ico
):
    """`spisync hub run` stops on SIGTERM with exit code 0 after logging what it did."""
    await make_agent(ico)
    hub = HubProcess.start(write_hub_toml(hub_config, tmp_path / "HUB.toml"), tmp_path / "hub.log")
    hub_processes.append(hub)
    await wait_for(_started(hub, "obec_consumer_started"), what="the hub to consume")
    assert hub.terminate() == 0
    assert any(e.get("event") == "hub_stopped" for e in hub.events())


async def test_two_hubs_share_obce_and_take_over(
    hub_config, make_agent, hub_processes, tmp_path, ico
):
    """Two hubs on one vhost: each obec is consumed by one at a time, nothing twice, and the survivor takes over."""
    obec_a, obec_b = ico, ("00255319" if ico != "00255319" else "00509001")
    agent_a = await make_agent(obec_a)
    # Hub 1 looks for new obce only rarely, so hub 2 becomes the active consumer of obec B.
    config_1 = _with(hub_config, instance="hub-one", obce_poll_s=600.0)
    config_2 = _with(hub_config, instance="hub-two")
    hub_1 = HubProcess.start(
        write_hub_toml(config_1, tmp_path / "HUB1.toml"), tmp_path / "hub1.log"
    )
    hub_processes.append(hub_1)
    await wait_for(_started(hub_1, "obec_consumer_started"), what="hub 1 to consume obec A")
    hub_2 = HubProcess.start(
        write_hub_toml(config_2, tmp_path / "HUB2.toml"), tmp_path / "hub2.log"
    )
    hub_processes.append(hub_2)
    await wait_for(_started(hub_2, "obec_consumer_started"), what="hub 2 to consume obec A")
    agent_b = await make_agent(obec_b)
    await wait_for(_started(hub_2, "obec_consumer_started", 2), what="hub 2 to consume obec B")

    async def send(agent, prefix, count):
        for i in range(count):
            [spis, *_] = registry_records(agent, spis_id=f"{prefix}{i}", soubory=[])
            await agent.send(spis)

    async def applied(expected):
        async def check() -> bool:
            done = _processed_by(hub_config)
            return all(len(done.get(o, [])) == n for o, n in expected.items())

        return check

    await send(agent_a, "A", 20)
    await send(agent_b, "B", 20)
    await wait_for(await applied({obec_a: 20, obec_b: 20}), what="first round")
    done = _processed_by(hub_config)
    assert set(done[obec_a]) == {"hub-one"}
    assert set(done[obec_b]) == {"hub-two"}

    hub_1.kill()
    await send(agent_a, "A2-", 20)
    await send(agent_b, "B2-", 5)
    await wait_for(await applied({obec_a: 40, obec_b: 25}), what="second round after the kill")
    done = _processed_by(hub_config)
    assert done[obec_a].count("hub-two") == 20
    assert set(done[obec_b]) == {"hub-two"}
    for hub in (hub_1, hub_2):
        assert not [
            e for e in hub.events() if e.get("event") in {"message_duplicate", "delivery_failed"}
        ]


async def test_kill_9_at_any_moment_loses_nothing_and_applies_nothing_twice(
    shared_broker, vhost, hub_config, make_agent, hub_processes, tmp_path, ico
):
    """A backlog ingested across two kill -9s and restarts ends complete: every file, record and receipt, once."""
    agent = await make_agent(ico)
    files = {f"slozka/soubor-{i:02d}.bin": os.urandom(512 + i) for i in range(60)}
    manifests = {}
    for path, data in files.items():
        manifests[path] = await agent.send_file(path, data, chunk_size=64)
    records = registry_records(agent, spis_id="K", soubory=list(files)[:5])
    for record in records:
        await agent.send(record)
    await agent.send(
        SpisClosed(**agent.envelope(), spis_id="K", source_version=2, closed_at=datetime.now(UTC))
    )
    expected = len(files) + len(records) + 1
    config_path = write_hub_toml(hub_config, tmp_path / "HUB.toml")

    def processed() -> int:
        return len(_processed_by(hub_config).get(ico, []))

    for round_number, kill_after in enumerate((3, expected // 3)):
        hub = HubProcess.start(config_path, tmp_path / f"hub{round_number}.log")
        hub_processes.append(hub)

        async def progressed(threshold=kill_after) -> bool:
            return processed() >= threshold

        await wait_for(progressed, what=f"{kill_after} messages applied")
        hub.kill()
    assert processed() < expected, "the backlog should not be finished before the last kill"
    final = HubProcess.start(config_path, tmp_path / "hub-final.log")
    hub_processes.append(final)

    async def finished() -> bool:
        return processed() == expected

    await wait_for(finished, what="the whole backlog", timeout=60)
    assert final.terminate() == 0

    store = await _open_store(hub_config)
    blobs = await open_blob_store(hub_config)
    try:
        current = {f.path: f for f in await store.current_files(ico)}
        assert current.keys() == files.keys()
        for path, data in files.items():
            assert current[path].versions == 1
            streamed = b"".join(
                [b async for b in open_content(store, blobs, manifests[path].sha256)]
            )
            assert streamed == data
        # Complete: ready for its SIP, or already built and forwarded (no archive runs here).
        [spis] = [s for s in await store.spisy(ico) if s.id == "K"]
        assert (spis.state, spis.missing) in {("closed", ()), ("forwarded", ())}
        if spis.state == "closed":
            assert [s.spis_id for s in await store.ready_spisy()] == ["K"]
    finally:
        await blobs.close()
        await store.close()
    await agent.drain_inbox()
    receipted = {m.path for m in agent.received if isinstance(m, FileReceipt)}
    assert receipted == files.keys()
    assert await dead_letters(shared_broker, vhost) == []


async def _open_store(config):
    return await SqliteMetadataStore.open(config.hub.data_path, instance="test")


async def test_operator_queries_print_json_and_tables(
    hub_config, make_agent, start_hub, tmp_path, ico
):
    """`spisync hub files` and `spisync hub spisy` report what the hub holds, as JSON and as tables."""
    agent = await make_agent(ico)
    hub = await start_hub(hub_config)
    manifest = await agent.send_file("dokumenty/žádost.pdf", b"PDF bytes")
    for record in registry_records(
        agent, spis_id="Q1", soubory=["dokumenty/žádost.pdf", "chybí.pdf"]
    ):
        await agent.send(record)
    await agent.send(
        SpisClosed(**agent.envelope(), spis_id="Q1", source_version=2, closed_at=datetime.now(UTC))
    )
    await agent.wait_for_reply(lambda m: isinstance(m, FileReceipt))

    async def all_applied() -> bool:
        return len(_processed_by(hub_config).get(ico, [])) == 6

    await wait_for(all_applied, what="registry applied")
    await hub.stop()
    config_path = write_hub_toml(hub_config, tmp_path / "HUB.toml")

    def cli(*args: str) -> str:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "spisync.cli",
                "hub",
                *args,
                "--config",
                str(config_path),
                "--ico",
                ico,
            ],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        return result.stdout.decode()

    assert json.loads(cli("files", "--json")) == [
        {
            "path": "dokumenty/žádost.pdf",
            "size": 9,
            "sha256": manifest.sha256,
            "versions": 1,
            "deleted": False,
            "released": False,
        }
    ]
    [spis] = json.loads(cli("spisy", "--json"))
    assert {k: spis[k] for k in ("id", "spisova_znacka", "nazev", "stav", "state", "sip")} == {
        "id": "Q1",
        "spisova_znacka": "OÚ/Q1/2024",
        "nazev": "Žádost Q1",
        "stav": "otevreny",
        "state": "closed",
        "sip": None,
    }
    assert [m["soubor"] for m in spis["missing"]] == ["chybí.pdf"]
    table = cli("files").splitlines()
    assert table[0].split() == ["PATH", "SIZE", "SHA256", "VERSIONS", "DELETED", "RELEASED"]
    assert table[1].split()[0] == "dokumenty/žádost.pdf"
    spisy_table = cli("spisy").splitlines()
    assert spisy_table[0].split()[:2] == ["ID", "SPISOVA_ZNACKA"]
    assert "closed" in spisy_table[1]
    assert spis["registry"]["source_version"] == 1
    assert spis["registry"]["zpracovatel"] == "Jana Nováková"
    detail = json.loads(cli("spisy", "--spis", "Q1"))
    assert detail["registry"]["udalosti"] == []
    [dokument] = detail["dokumenty"]
    contents = {k["soubor"]: k["content"] for k in dokument["komponenty"]}
    assert contents["chybí.pdf"] is None
    assert contents["dokumenty/žádost.pdf"]["size"] == 9
