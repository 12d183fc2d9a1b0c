"""The richer registry contract at the hub: kept with source versions, shown in `hub spisy`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec

from hub.queries import spis_detail_row, spisy_rows
from protocol import Subjekt, Udalost
from testkit.waiting import wait_for
from tests.hub.hubkit import registry_records

_OPENED = Udalost(kdy=datetime(2024, 3, 1, 8, 0, tzinfo=UTC), typ="SpisZalozeni", kdo="Jana")
_SETTLED = Udalost(kdy=datetime(2024, 5, 2, 9, 0, tzinfo=UTC), typ="SpisVyrizeni", kdo="Jana")


async def _processed(store, ico, count):
    return await store.processed_messages(ico) >= count


async def test_archival_fields_are_kept_and_shown_with_their_source_version(
    hub_config, make_agent, start_hub, store_of, ico
):
    """Útvar, vyřízení, retention, subjects and events of a spis and its dokument reach `hub spisy` and its detail, and events of older snapshots are kept."""
    agent = await make_agent(ico)
    await start_hub(hub_config)
    spis, dokument, komponenta = registry_records(agent, spis_id="S1", soubory=["a.pdf"])
    first = msgspec.structs.replace(spis, source_version=3, udalosti=(_OPENED,))
    rich = msgspec.structs.replace(
        spis,
        message_id="rich",
        source_version=5,
        zpracovatel_utvar="Stavební úřad",
        zpracovatel_pozice="referentka",
        vyrizeni_zpusob="vyřízení dokumentem",
        vyrizeni_datum=date(2024, 5, 2),
        spisovy_plan_identifikator="SP-2023",
        skartacni_rezim_identifikator="A/10",
        spousteci_udalost="uzavření spisu",
        # The eSSL pruned its log: the newer snapshot has only the newest event.
        udalosti=(_SETTLED,),
    )
    dokument = msgspec.structs.replace(
        dokument,
        analogovy=True,
        ukladaci_jednotka="karton 12",
        subjekty=(
            Subjekt(
                role="odesilatel",
                typ="pravnicka_osoba",
                nazev="Stavby s.r.o.",
                ico="00255319",
                datova_schranka="g7wau5c",
                cislo_jednaci="ST-17",
            ),
        ),
    )
    for message in (first, rich, dokument, komponenta):
        await agent.send(message)
    store = await store_of(hub_config)
    await wait_for(lambda: _processed(store, ico, 4), what="four snapshots")

    [row] = await spisy_rows(store, ico)
    assert row["registry"]["source_version"] == 5
    assert row["registry"]["zpracovatel_utvar"] == "Stavební úřad"
    assert row["registry"]["vyrizeni_datum"] == "2024-05-02"
    assert row["registry"]["skartacni_rezim_identifikator"] == "A/10"

    detail = await spis_detail_row(store, ico, "S1")
    assert detail is not None
    assert [e["typ"] for e in detail["registry"]["udalosti"]] == ["SpisZalozeni", "SpisVyrizeni"]
    [d] = detail["dokumenty"]
    assert d["analogovy"] is True
    assert d["subjekty"][0]["datova_schranka"] == "g7wau5c"
    assert d["komponenty"][0]["content"] is None
    assert await spis_detail_row(store, ico, "nope") is None
