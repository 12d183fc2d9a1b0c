"""Every helpdesk verb end to end: the real hub asks, the real agent answers through a real broker."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import pytest
import structlog

from agent.cli import main as agent_cli
from hub.cli import main as hub_cli
from hub.content import open_content
from hub.diagnostics import submit, wait_for_outcome
from hub.store import open_blob_store, open_metadata_store
from protocol import DiagnosticArgs
from testkit.hub import write_hub_toml
from testkit.waiting import wait_for
from tests.diag.diagkit import diag_network

if TYPE_CHECKING:
    from pathlib import Path

    from hub.store.diagnostics import DiagnosticsRow
    from testkit.broker import SharedBroker
    from tests.diag.diagkit import DiagNetwork

WAIT_S = 90.0


async def ask(net: DiagNetwork, verb: str, **args: Any) -> DiagnosticsRow:
    """Submit a request as helpdesk operator `novakova` and wait for its outcome."""
    store = await open_metadata_store(net.hub, instance="test")
    try:
        row = await submit(
            net.hub, store, ico=net.ico, verb=verb, args=DiagnosticArgs(**args), operator="novakova"
        )
        done = await wait_for_outcome(store, row.id, WAIT_S)
    finally:
        await store.close()
    assert done is not None
    return done


async def ready(net: DiagNetwork) -> None:
    """Wait until the agent has scanned (its heartbeat reached the hub)."""

    async def scanned() -> bool:
        beat = net.heartbeat()
        return beat is not None and beat.last_scan_at is not None

    await wait_for(scanned, what="the agent's first scan", timeout=WAIT_S)


async def test_status_logs_connectivity_and_check_answer(
    shared_broker: SharedBroker,
    vhost: str,
    tmp_path: Path,
    ico: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """status, logs, connectivity and check come back done, with the figures the helpdesk needs."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        (net.folder / "a.pdf").write_bytes(b"%PDF a")
        await ready(net)

        status = await ask(net, "status")
        assert status.state == "done", status.error
        assert status.ok
        data = status.data
        assert data["agent_version"]
        assert data["folders"][0]["available"] is True
        assert data["folders"][0]["files"] == 1
        assert data["registry"]["reachable"] is True
        assert "depth" in data["outbox"]
        assert data["configuration"]["agent"]["ico"] == ico
        assert status.clock_offset_s is not None
        assert status.delivered_at is not None
        assert status.started_at is not None

        logs = await ask(net, "logs", lines=50, level="info")
        assert logs.state == "done", logs.error
        lines = logs.data["lines"]
        assert 0 < len(lines) <= 50
        assert all(json.loads(line)["level"] != "debug" for line in lines)
        assert any("agent_started" in line for line in lines)

        conn = await ask(net, "connectivity")
        assert conn.state == "done", conn.error
        assert conn.data["dns"]["ok"] is True
        assert conn.data["broker"]["ok"] is True
        assert conn.data["tls"] is False

        checked = await ask(net, "check")
        assert checked.state == "done", checked.error
        assert checked.data["ok"] is True
        assert any(f["what"] == "broker: inbox" for f in checked.data["findings"])

        # The obec's own journal names who asked, what and what was answered.
        code = await asyncio.to_thread(agent_cli, ["diag-log", "--config", str(net.agent_toml)])
        out = capsys.readouterr().out
        assert code == 0
        for request in (status, logs, conn, checked):
            assert f"{request.id}  hotovo  {request.verb}" in out
        assert "operátor novakova" in out
        # And the hub's audit log has every request and its outcome.
        store = await open_metadata_store(net.hub, instance="test")
        try:
            entries = await store.audit.entries(ico=ico)
        finally:
            await store.close()
        actions = [(e.action, e.actor) for e in entries]
        assert actions.count(("diagnostics_request", "helpdesk:novakova")) == 4
        assert actions.count(("diagnostics_result", "helpdesk:novakova")) == 4


async def test_rescan_resend_and_allow_deletions_start_work(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """Rescan finds a new file now, resend sends a file again, allow-deletions lets a paused mass deletion through."""
    extra = "chunk_size = 4096\nmass_delete_min_files = 2\nrescan_interval_s = 3600\n"
    async with diag_network(shared_broker, vhost, tmp_path, ico, agent_section=extra) as net:
        for i in range(4):
            (net.folder / f"f{i}.pdf").write_bytes(f"file {i}".encode())
        net.registry_sql(
            "INSERT INTO spis (id, spisova_znacka, nazev, spisovy_znak, skartacni_znak, "
            "skartacni_lhuta, datum_otevreni, datum_uzavreni, stav, zpracovatel) VALUES ('S1', 'OÚ/1/2026', 'Kácení', '2.4.3', 'A', 10, "
            "'2026-11-02', NULL, 'otevreny', 'Marie Nováková')"
        )
        net.registry_sql(
            "INSERT INTO dokument (id, spis_id, cislo_jednaci, nazev, puvod, datum, "
            "odesilatel_autor, poradi) VALUES ('D1', 'S1', 'OÚ/1/2026-1', 'Rozhodnutí', 'vlastni', "
            "'2026-11-20', 'Marie Nováková', 1)"
        )
        net.registry_sql(
            "INSERT INTO komponenta (id, dokument_id, poradi, verze, druh, forma_uchovani, "
            "soubor) VALUES ('K1', 'D1', 1, 1, 'hlavní dokument', 'originál', "
            "'f1.pdf')"
        )

        async def four_files() -> bool:
            return await net.hub_files() == 4

        await wait_for(four_files, what="four files at the hub", timeout=WAIT_S)

        rescan = await ask(net, "rescan", folder=str(net.folder))
        assert rescan.state == "done", rescan.error
        assert rescan.data["scanned"] == [str(net.folder)]

        resend = await ask(net, "resend", path="f0.pdf")
        assert resend.state == "done", resend.error
        assert resend.data["queued"] == ["f0.pdf"]

        by_spis = await ask(net, "resend", spis="S1")
        assert by_spis.state == "done", by_spis.error
        assert by_spis.data["queued"] == ["f1.pdf"]

        missing = await ask(net, "resend", path="nic.pdf")
        assert missing.state == "failed"
        assert "nic.pdf" in missing.error

        # Three of four files vanish while the agent is down: at its start it pauses
        # instead of deleting them at the hub.
        await net.stop_agent()
        for i in range(1, 4):
            (net.folder / f"f{i}.pdf").unlink()
        await net.start_agent()

        async def paused() -> bool:
            beat = net.heartbeat()
            return beat is not None and beat.problem_kinds.get("deletions_paused") == 1

        await wait_for(paused, what="the paused mass deletion", timeout=WAIT_S)
        assert await net.hub_files(deleted=True) == 0
        allowed = await ask(net, "allow-deletions", folder=str(net.folder))
        assert allowed.state == "done", allowed.error
        assert allowed.data["was_paused"] is True

        async def three_tombstones() -> bool:
            return await net.hub_files(deleted=True) == 3

        await wait_for(three_tombstones, what="three tombstones at the hub", timeout=WAIT_S)


async def test_bundle_travels_chunked_and_verified(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """The support bundle arrives as verified chunks; `hub diag --show --out` saves it with the right SHA-256."""
    small_chunks = "chunk_size = 1024\n"
    async with diag_network(shared_broker, vhost, tmp_path, ico, agent_section=small_chunks) as net:
        (net.folder / "a.pdf").write_bytes(b"%PDF a")
        await ready(net)
        bundle = await ask(net, "bundle")
        assert bundle.state == "done", bundle.error
        attachment = bundle.attachment
        assert attachment is not None
        assert attachment.name == "bundle.zip"
        assert len(attachment.chunk_sha256) > 1  # 1 KiB chunks: the bundle is several
        hub_toml = write_hub_toml(net.hub, tmp_path / "HUB.toml")
        out = tmp_path / "bundle.zip"
        code = await asyncio.to_thread(
            hub_cli, ["diag", "--config", str(hub_toml), "--show", bundle.id, "--out", str(out)]
        )
        assert code == 0
        data = out.read_bytes()
        assert hashlib.sha256(data).hexdigest() == attachment.sha256
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            assert {"status.json", "check.json", "connectivity.json", "logs.txt"} <= names
            status = json.loads(archive.read("status.json"))
        assert status["configuration"]["agent"]["ico"] == ico


async def test_hub_diag_command_waits_and_prints_json(
    shared_broker: SharedBroker,
    vhost: str,
    tmp_path: Path,
    ico: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`spisync hub diag --ico ICO status --wait --json` prints the finished request; without --wait only its id."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        await ready(net)
        hub_toml = write_hub_toml(net.hub, tmp_path / "HUB.toml")
        base = ["diag", "--config", str(hub_toml), "--ico", ico]
        capsys.readouterr()  # the set-up's log lines
        code = await asyncio.to_thread(
            hub_cli, [*base, "status", "--wait", str(WAIT_S), "--json", "--operator", "dvorak"]
        )
        printed = json.loads(capsys.readouterr().out)
        assert code == 0
        assert printed["state"] == "done"
        assert printed["operator"] == "dvorak"
        assert printed["verb"] == "status"
        assert printed["data"]["agent_version"]

        code = await asyncio.to_thread(hub_cli, [*base, "logs", "--lines", "5", "--ttl", "2h"])
        request_id = capsys.readouterr().out.strip()
        assert code == 0
        assert request_id.startswith("d-")
        store = await open_metadata_store(net.hub, instance="test")
        try:
            done = await wait_for_outcome(store, request_id, WAIT_S)
        finally:
            await store.close()
        assert done is not None
        assert done.state == "done"
        assert round((done.expires_at - done.created_at).total_seconds()) == 7200
        code = await asyncio.to_thread(
            hub_cli, ["diag", "--config", str(hub_toml), "--show", request_id]
        )
        shown = capsys.readouterr().out
        assert code == 0
        assert "stav: done (hotovo)" in shown

        code = await asyncio.to_thread(hub_cli, [*base, "--json"])
        listed = json.loads(capsys.readouterr().out)
        assert code == 0
        assert [r["verb"] for r in listed] == ["logs", "status"]
        assert listed[0]["id"] == request_id


async def test_requests_run_one_at_a_time(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """Three requests sent at once run one after another: no request starts before the previous one ended."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        await ready(net)
        store = await open_metadata_store(net.hub, instance="test")
        try:
            rows = [
                await submit(net.hub, store, ico=ico, verb=verb, operator="novakova")
                for verb in ("connectivity", "check", "status")
            ]
            for row in rows:
                done = await wait_for_outcome(store, row.id, WAIT_S)
                assert done is not None
                assert done.state == "done"
        finally:
            await store.close()
        order = [(e.request_id, e.event) for e in net.journal() if e.event in {"running", "done"}]
        assert len(order) == 6
        for start, end in zip(order[::2], order[1::2], strict=True):
            assert start[1] == "running"
            assert end == (start[0], "done")


async def test_large_answers_travel_as_attachments_and_the_cap_holds(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A log tail above 256 KiB comes back as a verified `result.json` attachment; above the cap it is refused."""
    async with diag_network(
        shared_broker, vhost, tmp_path, ico, diagnostics="max_result_bytes = 1048576\n"
    ) as net:
        await ready(net)
        log = structlog.get_logger("tests")
        for i in range(3000):
            log.warning("filler", ico=ico, index=i, text="x" * 200)
        big = await ask(net, "logs", lines=3000)
        assert big.state == "done", big.error
        assert big.attachment is not None
        assert big.attachment.name == "result.json"
        assert 256 * 1024 < big.attachment.size <= 1024 * 1024
        store = await open_metadata_store(net.hub, instance="test")
        blobs = await open_blob_store(net.hub)
        try:
            data = b"".join([b async for b in open_content(store, blobs, big.attachment.sha256)])
        finally:
            await blobs.close()
            await store.close()
        assert hashlib.sha256(data).hexdigest() == big.attachment.sha256
        assert len(json.loads(data)["lines"]) == 3000

        for i in range(3000):
            log.warning("filler", ico=ico, index=i, text="y" * 400)
        capped = await ask(net, "logs", lines=6000)
        assert capped.state == "failed"
        assert "max_result_bytes" in capped.error
