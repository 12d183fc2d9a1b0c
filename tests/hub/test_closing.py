"""Closing at the hub: a complete closed spis becomes a valid SIP that the real archive keeps."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from archive.validation import validate_sip
from hub.closing import ReadyRecorder
from hub.forwarding import SipBuilder, SipCloser
from hub.store import LocalBlobStore
from hub.store.models import ReadySpis
from protocol import KomponentaSnapshot
from testkit.hub import write_hub_toml
from testkit.waiting import wait_for
from tests.hub.closingkit import (
    archive_config,
    close_spis,
    closing_hub_config,
    pdf,
    reopen_spis,
    send_spis,
    spis_row,
    start_archive,
    stored_packages,
    wait_for_state,
)
from tests.hub.hubkit import REPO


@pytest.fixture
def config(shared_broker, vhost, tmp_path):
    return closing_hub_config(shared_broker, vhost, tmp_path / "hub")


@pytest.fixture
async def archive(shared_broker, vhost, tmp_path):
    running = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    yield running.config
    await running.stop()


async def test_closed_complete_spis_is_archived_as_a_valid_sip(
    config, archive, make_agent, start_hub, store_of, tmp_path, ico
):
    """A closed, complete spis becomes one SIP the archive's validator accepts without failures, stored at the archive, and the spis ends `archived` with its SIP in `hub spisy --json`."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    await send_spis(
        agent, "S1", {"spisy/S1/zadost.pdf": pdf(20_000), "spisy/S1/priloha.pdf": pdf(9_000)}
    )
    await close_spis(agent, "S1", 2)
    store = await store_of(config)
    row = await wait_for_state(store, ico, "S1", "archived")
    assert row.sip == f"SIP_{ico}_S1_1"
    assert (row.sip_state, row.archive_failures) == ("accepted", ())
    [package] = stored_packages(archive, ico)
    assert package.name == f"{row.sip}.zip"
    report = validate_sip(package)
    assert report.failures == []
    assert report.ok

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spisync.cli",
            "hub",
            "spisy",
            "--json",
            "--ico",
            ico,
            "--config",
            str(write_hub_toml(config, tmp_path / "HUB.toml")),
        ],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    [line] = json.loads(result.stdout)
    assert {k: line[k] for k in ("id", "state", "missing", "sip", "sip_state")} == {
        "id": "S1",
        "state": "archived",
        "missing": [],
        "sip": row.sip,
        "sip_state": "accepted",
    }
    assert line["archive_id"]
    assert line["archive_failures"] == []


async def test_incomplete_closed_spis_waits_with_missing_until_content_arrives(
    config, archive, make_agent, start_hub, store_of, ico
):
    """A closed spis lacking a file stays `closed` listing it as missing, builds no SIP, and is archived once the file arrives."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    files = {"a.pdf": pdf(3_000), "b.pdf": pdf(3_000)}
    await send_spis(agent, "W1", files, missing=("b.pdf",))
    await close_spis(agent, "W1", 2)
    store = await store_of(config)

    async def closed_waiting() -> bool:
        row = await spis_row(store, ico, "W1")
        return (
            row is not None
            and row.state == "closed"
            and [m.soubor for m in row.missing] == ["b.pdf"]
        )

    await wait_for(closed_waiting, what="W1 closed with b.pdf missing")
    assert (await spis_row(store, ico, "W1")).sip is None
    assert await store.sips.sips_of(ico) == []

    await agent.send_file("b.pdf", files["b.pdf"], chunk_size=1024)
    await wait_for_state(store, ico, "W1", "archived")
    assert len(stored_packages(archive, ico)) == 1


async def test_closing_found_complete_too_early_goes_back_to_waiting(
    config, make_agent, start_hub, store_of, tmp_path, ico
):
    """When a komponenta arrives after the spis was found complete, the closer re-checks, builds nothing, and the spis waits for its content again."""
    agent = await make_agent(ico, config)
    await start_hub(config, closer=ReadyRecorder())
    await send_spis(agent, "E1", {"e1.pdf": pdf(2_000)})
    await close_spis(agent, "E1", 2)
    store = await store_of(config)
    await wait_for(lambda: _ready(store), what="E1 complete")
    late = KomponentaSnapshot(
        **agent.envelope(),
        komponenta_id="E1-k2",
        source_version=3,
        dokument_id="E1-d1",
        poradi=2,
        verze=1,
        druh="příloha",
        forma_uchovani="originál",
        soubor="late.pdf",
    )
    await agent.send(late)

    async def late_applied() -> bool:
        detail = await store.spis_detail(ico, "E1")
        return detail is not None and len(detail.missing) == 1

    await wait_for(late_applied, what="the late komponenta")
    blobs = LocalBlobStore(config.hub.data_path / "blobs")
    closer = SipCloser(store, SipBuilder(config, store, blobs, asyncio.Event()), wake=lambda: None)
    await closer.spis_complete(ReadySpis(ico=ico, spis_id="E1", closing_seq=1))
    state = await store.spis_detail(ico, "E1")
    assert state is not None
    assert (state.state.state, state.state.complete_at) == ("closed", None)
    assert await store.ready_spisy() == []
    assert await store.sips.sips_of(ico) == []


async def _ready(store) -> bool:
    return bool(await store.ready_spisy())


async def test_invalid_metadata_is_a_visible_build_failure(
    config, archive, make_agent, start_hub, store_of, ico
):
    """A spis whose metadata cannot form a valid package gets no SIP at the archive; `hub spisy` shows the failure with its code."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    await send_spis(agent, "BAD", {"bad.pdf": pdf(2_000)}, spisovy_znak="..")
    await close_spis(agent, "BAD", 2)
    store = await store_of(config)
    row = await wait_for_state(store, ico, "BAD", "closed", sip_state="failed")
    [failure] = row.archive_failures
    assert failure.code == "HUB-INVALID-SPIS"
    assert "spisovy_znak" in failure.message
    assert stored_packages(archive, ico) == []


async def test_reopened_and_reclosed_spis_gets_a_second_sip(
    config, archive, make_agent, start_hub, store_of, ico
):
    """A spis archived at its first closing, then reopened and closed again, yields a second SIP under a new name; both are kept."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    await send_spis(agent, "R1", {"r1.pdf": pdf(5_000)})
    await close_spis(agent, "R1", 2)
    store = await store_of(config)
    first = await wait_for_state(store, ico, "R1", "archived")
    await reopen_spis(agent, "R1", 3)
    await wait_for_state(store, ico, "R1", "open")
    await agent.send_file("r1-doplnek.pdf", pdf(4_000), chunk_size=1024)
    await close_spis(agent, "R1", 4)
    second = await wait_for_state(store, ico, "R1", "archived", sip=f"SIP_{ico}_R1_2")
    assert first.sip == f"SIP_{ico}_R1_1"
    assert [p.stem for p in stored_packages(archive, ico)] == [first.sip, second.sip]
    assert second.archive_id != first.archive_id
