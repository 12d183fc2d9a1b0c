"""The console served by a real hub: access rules, the JSON API, dead letters, two hub processes."""

from __future__ import annotations

import asyncio
import json
import re

import aio_pika
import aiohttp
import msgspec
from aiohttp.test_utils import TestClient, TestServer

from hub.console.accounts import issue_token
from hub.console.app import build_app, make_console
from hub.store import SqliteMetadataStore
from protocol import Heartbeat, encode, names, new_message_id, utc_now
from spisync.broker import open_connection
from spisync.cli import main
from testkit.hub import make_hub_config, write_hub_toml
from testkit.waiting import wait_for
from tests.hub.console.conftest import PASSWORDS, ApiClient, console_config, new_http
from tests.hub.hubkit import HubProcess


async def test_without_session_pages_redirect_to_login_and_api_answers_401(console_net):
    """A request without a session is sent to the login page (pages) or refused with 401 (API)."""
    async with new_http() as http:
        async with http.get(f"{console_net.url}/", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"].startswith("/login")
        async with http.get(f"{console_net.url}/api/v1/obce") as response:
            assert response.status == 401


async def test_post_without_csrf_token_is_refused_and_audited(console_net):
    """A state-changing request with a session but without its CSRF token is refused (403) and audited."""
    async with new_http() as http:
        client = ApiClient(http, console_net.url)
        await client.login("operator")
        response = await client.post("/dead-letters/1/discard", csrf=False)
        assert response.status == 403
        audit = (await client.get_json("/api/v1/audit"))["audit"]
        assert audit[0]["action"] == "csrf_refused"
        assert audit[0]["actor"] == "operator"


async def test_bearer_token_reads_the_api_and_overview_has_the_issue_fields(console_net):
    """`Authorization: Bearer` from `operator token` reads /api/v1/obce with every overview field."""
    store = await SqliteMetadataStore.open(console_net.hub.hub.data_path, instance="test")
    try:
        token = await issue_token(store, "ctenar")
    finally:
        await store.close()
    async with new_http() as http:
        client = ApiClient(http, console_net.url)
        client.headers["Authorization"] = f"Bearer {token}"
        body = await client.get_json("/api/v1/obce")
        assert body["broker_available"] is True
        row = body["obce"][0]
        for key in (
            "ico",
            "name",
            "agent_version",
            "connected",
            "last_heartbeat_at",
            "heartbeat_age_s",
            "outbox_messages",
            "outbox_bytes",
            "oldest_pending_age_s",
            "queue_depth",
            "files",
            "versions",
            "bytes",
            "problems",
            "open_problems",
            "folders",
            "spisy",
            "status",
            "sync_files_remaining",
            "sync_rate_bytes_per_s",
            "sync_eta_s",
            "initial_sync_complete",
        ):
            assert key in row, key
        assert {r["name"] for r in body["obce"]} == {"Obec Lhota u Příbrami", "Obec Vlkava"}
        assert all(r["connected"] for r in body["obce"])
        ico = console_net.icos[0]
        await wait_for(
            lambda: _has_file(client, ico, "zapis.txt"), timeout=60, what="the agent's file"
        )
        files = await client.get_json(f"/api/v1/obce/{ico}/files?q=zapis")
        assert files["total"] == 1
        spisy = await client.get_json(f"/api/v1/obce/{ico}/spisy")
        assert spisy == {"ico": ico, "spisy": []}
        async with http.get(
            f"{console_net.url}/api/v1/obce/00000000", headers=client.headers
        ) as response:
            assert response.status == 404


async def _has_file(client: ApiClient, ico: str, path: str) -> bool:
    files = await client.get_json(f"/api/v1/obce/{ico}/files")
    return any(f["path"] == path for f in files["files"])


async def _publish_as_agent(console_net, ico: str, body: bytes, kind: str) -> None:
    url = console_net.agents[ico].config.broker.url
    connection = await open_connection(url, name="test forged")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.INGEST_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id="broken-1",
                user_id=console_net.hub.hub.agent_username(ico),
                headers={names.HEADER_KIND: kind},
            ),
            routing_key=names.ingest_routing_key(ico, kind),
        )


async def test_dead_letter_is_kept_replayed_once_and_viewer_is_refused(console_net):
    """A rejected delivery is listed with its reason; a viewer may not replay it, an operator does, once."""
    ico = console_net.icos[0]
    await _publish_as_agent(console_net, ico, b"\x00 not msgpack", "file_version")
    async with new_http() as viewer_http, new_http() as operator_http:
        viewer = ApiClient(viewer_http, console_net.url)
        await viewer.login("ctenar")
        operator = ApiClient(operator_http, console_net.url)
        await operator.login("operator")

        async def listed() -> bool:
            body = await viewer.get_json("/api/v1/dead-letters?security=0")
            return body["count"] == 1

        await wait_for(listed, timeout=60, what="the dead letter in the console")
        letter = (await viewer.get_json("/api/v1/dead-letters"))["dead_letters"][0]
        assert letter["reason"] == "undecodable"
        assert letter["ico"] == ico
        assert letter["routing_key"] == names.ingest_routing_key(ico, "file_version")
        assert letter["replayable"] is True
        detail = await viewer.get_json(f"/api/v1/dead-letters/{letter['id']}")
        assert detail["headers"][names.HEADER_REJECT_REASON] == "undecodable"

        refused = await viewer.post(f"/api/v1/dead-letters/{letter['id']}/replay")
        assert refused.status == 403
        replayed = await operator.post(f"/api/v1/dead-letters/{letter['id']}/replay")
        assert replayed.status == 200
        again = await operator.post(f"/api/v1/dead-letters/{letter['id']}/replay")
        assert again.status == 409

        # The replay went through obec's queue: the hub took its identity and
        # rejected only its body again, as a new dead letter marked as the replay.
        async def replay_came_back() -> bool:
            rows = (await viewer.get_json("/api/v1/dead-letters"))["dead_letters"]
            return any(r["id"] != letter["id"] for r in rows)

        await wait_for(replay_came_back, timeout=60, what="the replayed message's new dead letter")
        rows = (await viewer.get_json("/api/v1/dead-letters"))["dead_letters"]
        (new,) = [r for r in rows if r["id"] != letter["id"]]
        assert new["reason"] == "undecodable"
        new_detail = await viewer.get_json(f"/api/v1/dead-letters/{new['id']}")
        assert new_detail["headers"][names.HEADER_REPLAY_OF] == str(letter["id"])

        audit = (await operator.get_json(f"/api/v1/audit?ico={ico}"))["audit"]
        assert [(a["actor"], a["action"], a["result"]) for a in audit[:3]] == [
            ("operator", "dead_letter_replay", "error: záznam už vyřídil někdo jiný"),
            ("operator", "dead_letter_replay", "ok"),
            ("ctenar", "dead_letter_replay", "refused"),
        ]


async def test_forged_sender_is_a_security_event_that_cannot_be_replayed(console_net):
    """A body naming another obec is listed as a security event and its replay is refused."""
    ico, other = console_net.icos
    forged = Heartbeat(
        message_id=new_message_id(),
        sender=other,
        sent_at=utc_now(),
        agent_version="0",
        uptime_s=0,
        outbox_depth=0,
        oldest_pending_age_s=None,
        last_scan_at=None,
        last_scan_duration_s=None,
        files_watched=0,
        free_disk_bytes=0,
    )
    await _publish_as_agent(console_net, ico, encode(forged), "heartbeat")
    async with new_http() as http:
        client = ApiClient(http, console_net.url)
        await client.login("spravce")

        async def listed() -> bool:
            return (await client.get_json("/api/v1/dead-letters?security=1"))["count"] == 1

        await wait_for(listed, timeout=60, what="the security event in the console")
        event = (await client.get_json("/api/v1/dead-letters?security=1"))["dead_letters"][0]
        assert event["reason"] == "sender_mismatch"
        assert event["replayable"] is False
        refused = await client.post(f"/api/v1/dead-letters/{event['id']}/replay")
        assert refused.status == 409
        assert "bezpečnostní" in json.loads(await refused.text())["message"]


async def test_two_hub_processes_serve_the_same_console(console_net, tmp_path):
    """A second hub process (`spisync hub run`) on the same store shows the same obce, sessions and audit log."""
    second = msgspec.structs.replace(
        console_net.hub,
        hub=msgspec.structs.replace(console_net.hub.hub, instance="druhy"),
        console=console_config(),
    )
    assert second.console is not None
    process = HubProcess.start(
        write_hub_toml(second, tmp_path / "HUB2.toml"), tmp_path / "hub2.log"
    )
    try:
        async with new_http() as http:
            first = ApiClient(http, console_net.url)
            await first.login("operator")
            # The same session cookie, sent to the other process.
            other = ApiClient(http, second.console.url)
            other.csrf = first.csrf

            async def answers() -> bool:
                assert process.process.poll() is None, process.log_path.read_text()
                try:
                    async with http.get(f"{other.base}/api/v1/obce") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for(answers, timeout=60, what="the second hub's console")
            stable = (
                "ico",
                "name",
                "status",
                "agent_version",
                "connected",
                "files",
                "versions",
                "bytes",
            )

            async def same() -> bool:
                a = (await first.get_json("/api/v1/obce"))["obce"]
                b = (await other.get_json("/api/v1/obce"))["obce"]
                return [{k: r[k] for k in stable} for r in a] == [
                    {k: r[k] for k in stable} for r in b
                ]

            await wait_for(same, timeout=30, what="both consoles to agree")
            refused = await other.post("/api/v1/dead-letters/999/discard")
            assert refused.status == 409
            audit = (await first.get_json("/api/v1/audit"))["audit"]
            assert (audit[0]["actor"], audit[0]["action"]) == ("operator", "dead_letter_discard")
    finally:
        assert process.terminate() == 0


async def test_hub_status_prints_the_overview(console_net, tmp_path, capsys):
    """`spisync hub status --json` gives the console's rows; the table names both obce in Czech."""
    config = write_hub_toml(console_net.hub, tmp_path / "HUB-status.toml")
    # In a thread: the command runs its own event loop while the hub keeps running in ours.
    status = ["hub", "status", "--config", str(config)]
    body: dict = {}

    async def green() -> bool:
        assert await asyncio.to_thread(main, [*status, "--json"]) == 0
        body.update(json.loads(capsys.readouterr().out))
        return {r["status"] for r in body["obce"]} == {"ok"}

    await wait_for(green, timeout=60, what="hub status to show both obce green")
    assert body["broker_available"] is True
    assert sorted(r["ico"] for r in body["obce"]) == sorted(console_net.icos)
    assert await asyncio.to_thread(main, status) == 0
    table = capsys.readouterr().out
    assert "Obec Vlkava" in table
    assert "v pořádku" in table


async def test_metrics_carry_per_obec_and_hub_figures(console_net):
    """`/metrics` is open without a session (no token set) and has per-obec, hub-wide and process metrics."""
    async with new_http() as http, http.get(f"{console_net.url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    ico = console_net.icos[0]
    for line in (
        f'spisync_obec_last_heartbeat_timestamp_seconds{{ico="{ico}"}}',
        f'spisync_obec_backlog_messages{{ico="{ico}"}}',
        f'spisync_obec_files{{ico="{ico}"}} 1.0',
        f'spisync_obec_spisy{{ico="{ico}",state="open"}} 0.0',
        f'spisync_hub_ingested_messages_total{{ico="{ico}",kind="metadata"}}',
        'spisync_hub_sips{state="accepted"} 0.0',
        "spisync_hub_closing_to_acceptance_seconds_count 0.0",
        "spisync_broker_management_up 1.0",
        "process_cpu_seconds_total",
    ):
        assert line in text, line


async def test_metrics_token_is_required_when_set(shared_broker, vhost, tmp_path):
    """With `[console] metrics_token`, /metrics refuses a scrape without that bearer token."""
    config = make_hub_config(shared_broker, vhost, tmp_path / "hub")
    config = msgspec.structs.replace(config, console=console_config(metrics_token="tajny-token"))
    store = await SqliteMetadataStore.open(config.hub.data_path, instance="test")
    try:
        async with TestClient(
            TestServer(build_app(make_console(config, store, instance="t")))
        ) as client:
            assert (await client.get("/metrics")).status == 401
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer jiny"})
            assert wrong.status == 401
            right = await client.get("/metrics", headers={"Authorization": "Bearer tajny-token"})
            assert right.status == 200
            assert "spisync_broker_management_up 1.0" in await right.text()
    finally:
        await store.close()


async def test_rescan_travels_to_the_agent_and_a_viewer_cannot_ask(console_net):
    """An operator's rescan is a diagnostics request the real agent runs; a viewer's is refused and audited."""
    ico = console_net.icos[1]
    async with new_http() as viewer_http, new_http() as operator_http:
        viewer = ApiClient(viewer_http, console_net.url)
        await viewer.login("ctenar")
        assert (await viewer.post(f"/api/v1/obce/{ico}/rescan")).status == 403
        operator = ApiClient(operator_http, console_net.url)
        await operator.login("operator")
        async with operator_http.post(
            f"{console_net.url}/api/v1/obce/{ico}/rescan",
            headers={"X-CSRF-Token": operator.csrf or ""},
        ) as response:
            assert response.status == 200, await response.text()
            request_id = (await response.json())["request_id"]
        store = await SqliteMetadataStore.open(console_net.hub.hub.data_path, instance="test")
        try:

            async def done() -> bool:
                row = await store.diagnostics.get(request_id)
                assert row is not None
                assert row.state not in {"failed", "expired"}, row.error
                return row.state == "done"

            await wait_for(done, timeout=60, what="the agent to run the rescan")
            row = await store.diagnostics.get(request_id)
            assert row is not None
            assert (row.verb, row.operator, row.ok) == ("rescan", "operator", True)
        finally:
            await store.close()
        audit = (await operator.get_json(f"/api/v1/audit?ico={ico}"))["audit"]
        actions = [(a["actor"], a["action"], a["result"]) for a in audit]
        assert ("helpdesk:operator", "diagnostics_request", "ok") in actions
        assert ("ctenar", "agent_rescan", "refused") in actions


async def test_admin_provisions_rotates_and_revokes_an_obec_and_an_operator_may_not(
    console_net, shared_broker
):
    """An admin gets a new obec's AGENT.toml once, a new password, and revokes it; an operator is refused."""
    new_ico = "00231401"
    async with new_http() as admin_http, new_http() as operator_http:
        operator = ApiClient(operator_http, console_net.url)
        await operator.login("operator")
        refused = await operator.post("/api/v1/obce", ico=new_ico, name="Obec Nová")
        assert refused.status == 403
        admin = ApiClient(admin_http, console_net.url)
        await admin.login("spravce")
        headers = {"X-CSRF-Token": admin.csrf or ""}
        async with admin_http.post(
            f"{console_net.url}/api/v1/obce",
            data={"ico": new_ico, "name": "Obec Nová"},
            headers=headers,
        ) as response:
            assert response.status == 200, await response.text()
            assert response.headers["Content-Disposition"].startswith("attachment")
            first = await response.text()
        assert f'ico = "{new_ico}"' in first
        password = first.split('url = "')[1].split("@")[0].rsplit(":", 1)[1]
        again = await admin.post("/api/v1/obce", ico=new_ico, name="Obec Nová")
        assert again.status == 409
        async with admin_http.post(
            f"{console_net.url}/api/v1/obce/{new_ico}/rotate", headers=headers
        ) as response:
            assert response.status == 200
            rotated = await response.text()
        assert password not in rotated
        async with admin_http.post(
            f"{console_net.url}/api/v1/obce/{new_ico}/revoke", headers=headers
        ) as response:
            assert response.status == 200
            assert (await response.json())["ok"] is True
        user = console_net.hub.hub.agent_username(new_ico)
        assert await shared_broker.management().get_user(user) is None
        row = await admin.get_json(f"/api/v1/obce/{new_ico}")
        assert (row["revoked"], row["status"]) == (True, "revoked")
        audit = (await admin.get_json(f"/api/v1/audit?ico={new_ico}"))["audit"]
        assert [(a["actor"], a["action"], a["result"]) for a in audit] == [
            ("spravce", "obec_revoke", "ok"),
            ("spravce", "obec_rotate", "ok"),
            ("spravce", "obec_provision", "ok"),
            ("operator", "obec_provision", "refused"),
        ]


async def test_failed_logins_are_throttled_even_with_the_right_password(console_net):
    """After `login_max_failures` wrong passwords for a name, the right one is refused too (429) and audited."""
    async with new_http() as http:
        client = ApiClient(http, console_net.url)
        for _ in range(5):
            async with http.get(f"{console_net.url}/login") as response:
                token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
            assert token is not None
            async with http.post(
                f"{console_net.url}/login",
                data={"name": "ctenar", "password": "spatne-heslo", "csrf_token": token[1]},
            ) as response:
                assert response.status == 401
        async with http.get(f"{console_net.url}/login") as response:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())
        assert token is not None
        async with http.post(
            f"{console_net.url}/login",
            data={"name": "ctenar", "password": PASSWORDS["ctenar"][1], "csrf_token": token[1]},
        ) as response:
            assert response.status == 429
            assert "příliš mnoho" in await response.text()
        await client.login("operator")
        logins = [
            (a["actor"], a["result"])
            for a in (await client.get_json("/api/v1/audit"))["audit"]
            if a["action"] == "login"
        ]
        assert logins[:2] == [("operator", "ok"), ("ctenar", "refused")]
        assert logins.count(("ctenar", "refused")) == 6
