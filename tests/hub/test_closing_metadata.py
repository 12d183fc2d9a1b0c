"""Closing when the registry's metadata is dirty or incomplete: never a build failing forever.

Issue 9 finding 5 (control characters made a SIP fail at every retry while
`hub spisy` showed nothing) and issue 13 point 5 (`[closing] missing_metadata`),
against a real broker, hub and archive.
"""

from __future__ import annotations

import subprocess
import sys

import msgspec
import pytest

from archive.validation import validate_sip
from hub.config import ClosingConfig
from testkit.hub import write_hub_toml
from tests.hub.closingkit import (
    archive_config,
    close_spis,
    closing_hub_config,
    pdf,
    send_spis,
    start_archive,
    stored_packages,
    wait_for_state,
)
from tests.hub.hubkit import REPO

# The characters of issue 9, finding 5.
CONTROL = "\x01\x1b\ufffe\x00"


@pytest.fixture
def config(shared_broker, vhost, tmp_path):
    return closing_hub_config(shared_broker, vhost, tmp_path / "hub")


@pytest.fixture
async def archive(shared_broker, vhost, tmp_path):
    running = await start_archive(archive_config(shared_broker, vhost, tmp_path / "archive"))
    yield running.config
    await running.stop()


def hub_spisy(config, tmp_path, ico: str, *args: str) -> str:
    toml = write_hub_toml(config, tmp_path / "HUB.toml")
    command = ["hub", "spisy", "--ico", ico, "--config", str(toml), *args]
    result = subprocess.run(
        [sys.executable, "-m", "spisync.cli", *command],
        cwd=REPO,
        capture_output=True,
        check=False,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_control_characters_in_registry_text_do_not_block_the_sip(
    config, archive, make_agent, start_hub, store_of, tmp_path, ico
):
    r"""A spis whose registry text holds \x01, \x1b, U+FFFE and NUL is archived with those characters removed, and `hub spisy` names the cleaned fields."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    await send_spis(
        agent,
        "S1",
        {"spisy/S1/zadost.pdf": pdf(5_000)},
        nazev=f"Žádost{CONTROL} o dotaci",
        zpracovatel=f"Jana{CONTROL[1]} Nováková",
    )
    await close_spis(agent, "S1", 2)
    store = await store_of(config)
    row = await wait_for_state(store, ico, "S1", "archived")
    assert row.sip_state == "accepted"
    cleaned = {n.location for n in row.sip_notes if n.code == "HUB-TEXT-CLEANED"}
    assert cleaned == {"spis S1: nazev", "spis S1: zpracovatel"}
    [package] = stored_packages(archive, ico)
    assert validate_sip(package).failures == []
    [line] = msgspec.json.decode(hub_spisy(config, tmp_path, ico, "--json"))
    assert {n["location"] for n in line["sip_notes"]} >= cleaned


async def test_missing_metadata_waits_visibly_until_the_registry_supplies_it(
    config, archive, make_agent, start_hub, store_of, tmp_path, ico
):
    """With the default `wait`, a spis lacking the clerk's útvar stays closed with the field named in `hub spisy`, and is archived once a newer snapshot supplies it."""
    agent = await make_agent(ico, config)
    await start_hub(config)
    files = {"spisy/S1/zadost.pdf": pdf(5_000)}
    await send_spis(agent, "S1", files, zpracovatel_utvar=None)
    await close_spis(agent, "S1", 2)
    store = await store_of(config)
    row = await wait_for_state(store, ico, "S1", "closed", sip_state="failed")
    assert [(f.code, f.location) for f in row.archive_failures] == [
        ("HUB-METADATA-MISSING", "spis S1: zpracovatel_utvar")
    ]
    [line] = msgspec.json.decode(hub_spisy(config, tmp_path, ico, "--json"))
    assert line["missing_metadata"] == ["spis S1: zpracovatel_utvar"]
    assert line["reason"] == "chybí v evidenci: spis S1: zpracovatel_utvar"
    table = hub_spisy(config, tmp_path, ico)
    assert "chybí v evidenci: spis S1: zpracovatel_utvar" in table
    assert stored_packages(archive, ico) == []

    await send_spis(agent, "S1", files, version=3, stav="uzavreny")
    row = await wait_for_state(store, ico, "S1", "archived")
    assert (row.sip_state, row.archive_failures) == ("accepted", ())


async def test_placeholder_mode_archives_with_listed_placeholders(
    shared_broker, vhost, archive, make_agent, start_hub, store_of, tmp_path, ico
):
    """With `placeholder`, a spis lacking fields is archived, and `hub spisy` lists each placeholder with its field and value."""
    config = msgspec.structs.replace(
        closing_hub_config(shared_broker, vhost, tmp_path / "hub"),
        closing=ClosingConfig(missing_metadata="placeholder"),
    )
    agent = await make_agent(ico, config)
    await start_hub(config)
    await send_spis(
        agent,
        "S1",
        {"spisy/S1/zadost.pdf": pdf(5_000)},
        zpracovatel_utvar=None,
        skartacni_rezim_identifikator=None,
    )
    await close_spis(agent, "S1", 2)
    store = await store_of(config)
    row = await wait_for_state(store, ico, "S1", "archived")
    placeholders = {(n.location, n.message) for n in row.sip_notes if n.code == "HUB-PLACEHOLDER"}
    assert ("spis S1: zpracovatel_utvar", "neuvedeno") in placeholders
    assert ("spis S1: skartacni_rezim_identifikator", "A/10") in placeholders
    [package] = stored_packages(archive, ico)
    assert validate_sip(package).failures == []
    [line] = msgspec.json.decode(hub_spisy(config, tmp_path, ico, "--json"))
    assert {"field": "spis S1: zpracovatel_utvar", "value": "neuvedeno"} in line["placeholders"]


async def test_switching_to_placeholders_builds_waiting_spisy_at_the_next_start(
    config, archive, make_agent, start_hub, store_of, ico
):
    """A spis waiting for a field under `wait` is archived with placeholders once the hub restarts with `placeholder`, without any registry change."""
    agent = await make_agent(ico, config)
    hub = await start_hub(config)
    await send_spis(agent, "S1", {"spisy/S1/zadost.pdf": pdf(5_000)}, zpracovatel_pozice=None)
    await close_spis(agent, "S1", 2)
    store = await store_of(config)
    await wait_for_state(store, ico, "S1", "closed", sip_state="failed")
    await hub.stop()

    await start_hub(
        msgspec.structs.replace(config, closing=ClosingConfig(missing_metadata="placeholder"))
    )
    row = await wait_for_state(store, ico, "S1", "archived")
    placeholders = {(n.location, n.message) for n in row.sip_notes if n.code == "HUB-PLACEHOLDER"}
    assert ("spis S1: zpracovatel_pozice", "neuvedeno") in placeholders
