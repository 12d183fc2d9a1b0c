"""The safety of the helpdesk channel: only the hub may ask, only allowed verbs, never after expiry, nothing secret leaves."""

from __future__ import annotations

import asyncio
import io
import json
import tomllib
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import msgspec
import structlog

from hub.cli import main as hub_cli
from hub.config import HubConfig, HubSection
from hub.content import open_content
from hub.diagnostics import expiry_sweep, submit, wait_for_outcome
from hub.provision import provision_agent
from hub.store import open_blob_store, open_metadata_store
from hub.store.diagnostics import DiagnosticsRow
from protocol import DiagnosticsRequest, encode, names, new_message_id, utc_now
from spisync.broker import open_connection
from spisync.config import BrokerConfig
from testkit.hub import write_hub_toml
from testkit.waiting import wait_for
from tests.diag.diagkit import diag_network
from tests.diag.test_verbs import WAIT_S, ask, ready

if TYPE_CHECKING:
    import pytest

    from testkit.broker import SharedBroker
    from tests.diag.diagkit import DiagNetwork


async def _events(net: DiagNetwork, request_id: str) -> list[str]:
    return [e.event for e in net.journal() if e.request_id == request_id]


async def test_a_verb_the_obec_did_not_allow_is_refused_with_the_allowed_list(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """With `allow = ["status"]`, logs is refused (naming the allowed verbs) and never runs; status runs."""
    async with diag_network(
        shared_broker, vhost, tmp_path, ico, diagnostics='allow = ["status"]\n'
    ) as net:
        refused = await ask(net, "logs")
        assert refused.state == "failed"
        assert "status" in refused.error
        assert "nepovolila" in refused.error
        assert await _events(net, refused.id) == ["received", "refused"]
        status = await ask(net, "status")
        assert status.state == "done"


async def test_an_empty_allow_list_turns_diagnostics_off(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """With `allow = []` even status is refused, and the refusal says diagnostics are off."""
    async with diag_network(shared_broker, vhost, tmp_path, ico, diagnostics="allow = []\n") as net:
        refused = await ask(net, "status")
        assert refused.state == "failed"
        assert "vypnutá" in refused.error


async def test_an_unknown_verb_is_refused_at_the_hub_with_the_list(
    shared_broker: SharedBroker,
    vhost: str,
    tmp_path: Path,
    ico: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`spisync hub diag ... shell` exits 2 naming every allowed verb, and nothing is recorded."""
    async with diag_network(shared_broker, vhost, tmp_path, ico, start=False) as net:
        hub_toml = write_hub_toml(net.hub, tmp_path / "HUB.toml")
        code = await asyncio.to_thread(
            hub_cli, ["diag", "--config", str(hub_toml), "--ico", ico, "shell"]
        )
        err = capsys.readouterr().err
        assert code == 2
        assert "neznámé sloveso 'shell'" in err
        assert "status, logs, connectivity, check, rescan, resend, allow-deletions, bundle" in err
        store = await open_metadata_store(net.hub, instance="test")
        try:
            assert await store.diagnostics.of_obec(ico) == []
        finally:
            await store.close()


async def test_a_request_waiting_past_its_ttl_never_runs(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """An agent offline past the TTL never runs the request; the hub shows it expired."""
    async with diag_network(shared_broker, vhost, tmp_path, ico, start=False) as net:
        await net.start_hub()
        store = await open_metadata_store(net.hub, instance="test")
        try:
            late = await submit(
                net.hub, store, ico=ico, verb="rescan", operator="novakova", ttl_s=1.0
            )
            expired = await wait_for_outcome(store, late.id, WAIT_S)
            assert expired is not None
            assert expired.state == "expired"
            await net.start_agent()
            # A later request answered proves the agent has read its inbox past the first.
            later = await submit(net.hub, store, ico=ico, verb="status", operator="novakova")
            answered = await wait_for_outcome(store, later.id, WAIT_S)
            assert answered is not None
            assert answered.state == "done"
            again = await store.diagnostics.get(late.id)
        finally:
            await store.close()
        assert again is not None
        assert again.state == "expired"
        assert not {"running", "done"} & set(await _events(net, late.id))


async def test_an_expired_request_that_reaches_the_agent_is_not_run(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A request whose expires_at has passed (but that the broker did not drop) is answered `expired`, not run."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        store = await open_metadata_store(net.hub, instance="test")
        try:
            now = utc_now()
            row = DiagnosticsRow(
                id="d-past",
                ico=ico,
                verb="rescan",
                operator="novakova",
                created_at=now - timedelta(hours=2),
                expires_at=now + timedelta(hours=1),
                updated_at=now,
            )
            await store.diagnostics.create(row)
            request = DiagnosticsRequest(
                message_id=new_message_id(),
                sender="hub:test",
                sent_at=now - timedelta(hours=2),
                request_id=row.id,
                verb="rescan",
                operator="novakova",
                expires_at=now - timedelta(hours=1),
            )
            await _publish(net.hub.broker.url, ico, request, user_id=net.hub.broker.username)

            async def answered() -> bool:
                got = await store.diagnostics.get(row.id)
                return got is not None and got.state == "expired"

            await wait_for(answered, what="the agent's expired answer", timeout=WAIT_S)
        finally:
            await store.close()
        assert await _events(net, row.id) == ["received", "expired"]


async def _publish(url: str, ico: str, request: DiagnosticsRequest, *, user_id: str | None) -> None:
    connection = await open_connection(url, name="spisync tests")
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.AGENT_EXCHANGE, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                encode(request),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=request.message_id,
                user_id=user_id,
                type="diagnostics_request",
                headers={names.HEADER_KIND: "diagnostics_request"},
            ),
            names.agent_routing_key(ico, "diagnostics_request"),
            mandatory=True,
        )


async def test_a_request_from_another_obecs_user_is_refused_and_reported(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, other_ico: str
) -> None:
    """On a misconfigured broker another obec's user injects a request: the agent refuses it, journals it, the hub records a security event."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        await ready(net)
        hub = HubConfig(
            hub=HubSection(orp="test", data_dir=str(tmp_path / "other-hub")), broker=net.hub.broker
        )
        out = tmp_path / "other.toml"
        await provision_agent(hub, ico=other_ico, name="Obec Jiná", out=out)
        other_url = tomllib.loads(out.read_text())["broker"]["url"]
        intruder = urlsplit(other_url).username
        assert intruder is not None
        # The misconfiguration: the other obec's user may write to every exchange.
        client = shared_broker.management()
        await client.set_permissions(vhost, intruder, configure="", write=".*", read="")
        try:
            forged = DiagnosticsRequest(
                message_id=new_message_id(),
                sender="hub:test",  # the body lies; the broker-validated user_id does not
                sent_at=utc_now(),
                request_id="d-forged",
                verb="bundle",
                operator="novakova",
            )
            await _publish(other_url, ico, forged, user_id=intruder)
            unsigned = msgspec.structs.replace(forged, request_id="d-unsigned")
            await _publish(net.hub.broker.url, ico, unsigned, user_id=None)

            store = await open_metadata_store(net.hub, instance="test")
            try:

                async def reported() -> bool:
                    rows = await store.diagnostics.of_obec(ico)
                    return sum(r.security_event for r in rows) == 2

                await wait_for(reported, what="two security events at the hub", timeout=WAIT_S)
                rows = [r for r in await store.diagnostics.of_obec(ico) if r.security_event]
                entries = await store.audit.entries(ico=ico)
            finally:
                await store.close()
        finally:
            await client.delete_user(intruder)
        assert {r.data["user_id"] for r in rows} == {intruder, ""}
        assert all(r.state == "failed" for r in rows)
        assert sum(e.action == "diagnostics_forged_request" for e in entries) == 2
        for request_id in ("d-forged", "d-unsigned"):
            assert await _events(net, request_id) == ["received", "refused"]
        assert not (tmp_path / "state" / "diagnostics" / "out").exists()

        async def counted() -> bool:
            beat = net.heartbeat()
            return beat is not None and beat.errors_by_kind.get("diagnostics_forged") == 2

        await wait_for(counted, what="the forged requests in the heartbeat", timeout=WAIT_S)


async def test_results_survive_a_hub_restart(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A result the agent sends while the hub is down is stored once the hub is back."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        await ready(net)
        await net.stop_hub()
        store = await open_metadata_store(net.hub, instance="test")
        try:
            row = await submit(net.hub, store, ico=ico, verb="status", operator="novakova")

            async def answered_at_agent() -> bool:
                return "done" in await _events(net, row.id) and net.agent_outbox_depth() == 0

            await wait_for(answered_at_agent, what="the agent's answer sent", timeout=WAIT_S)
            assert (await store.diagnostics.get(row.id)).state == "queued"  # type: ignore[union-attr]
            await net.start_hub()
            done = await wait_for_outcome(store, row.id, WAIT_S)
        finally:
            await store.close()
        assert done is not None
        assert done.state == "done"
        assert done.data["agent_version"]


SECRET = "Pl4nted-S3cret-7c1e"


async def test_no_secret_leaves_the_agent(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """A known secret planted in every secret field and in the log appears in no result, log tail or bundle."""
    key = tmp_path / "client.key"
    key.write_text(
        "-----BEGIN PRIVATE KEY-----\n"
        f"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC{SECRET}AgEAAoIBAQC7\n"
        "-----END PRIVATE KEY-----\n"
    )
    async with diag_network(shared_broker, vhost, tmp_path, ico, start=False) as net:
        text = net.agent_toml.read_text()
        url = tomllib.loads(text)["broker"]["url"]
        parts = urlsplit(url)
        user = parts.username
        assert user is not None
        await shared_broker.management().put_user(user, SECRET)
        netloc = f"{user}:{quote(SECRET, safe='')}@{parts.hostname}:{parts.port}"
        planted = urlunsplit(parts._replace(netloc=netloc))
        text = text.replace(url, planted).replace(
            "[broker]\n",
            f'[broker]\nkey_file = "{key}"\n'
            f'management_url = "http://{user}:{SECRET}@127.0.0.1:15672"\n',
        )
        net.agent_toml.write_text(text)
        await net.start_hub()
        await net.start_agent()
        await ready(net)
        structlog.get_logger("tests").warning(
            "leak_probe", ico=ico, url=planted, said=f"password is {SECRET}", key=key.read_text()
        )
        answers = [
            await ask(net, verb, **args)
            for verb, args in (
                ("status", {}),
                ("logs", {"lines": 5000}),
                ("connectivity", {}),
                ("check", {}),
                ("bundle", {}),
            )
        ]
        assert all(a.state == "done" for a in answers), [a.error for a in answers]
        logs = answers[1].data["lines"]
        assert any("leak_probe" in line for line in logs)
        texts = [json.dumps(msgspec.to_builtins(a), ensure_ascii=False) for a in answers]
        bundle = answers[-1].attachment
        assert bundle is not None
        store = await open_metadata_store(net.hub, instance="test")
        blobs = await open_blob_store(net.hub)
        try:
            data = b"".join([b async for b in open_content(store, blobs, bundle.sha256)])
        finally:
            await blobs.close()
            await store.close()
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            texts += [archive.read(n).decode() for n in archive.namelist()]
        texts.append((tmp_path / "state" / "diagnostics" / "journal.jsonl").read_text())
        for text in texts:
            for form in (SECRET, quote(SECRET, safe="")):
                assert form not in text
        assert "***" in texts[0]


async def test_the_hub_marks_unanswered_requests_expired_without_a_reader(tmp_path: Path) -> None:
    """The expiry sweep turns a queued request past its TTL into `expired` and audits it, with nobody asking."""
    config = HubConfig(
        hub=HubSection(orp="test", data_dir=str(tmp_path / "hub")),
        broker=BrokerConfig(url="amqp://guest:guest@127.0.0.1:5672/"),
    )
    store = await open_metadata_store(config, instance="test")
    stop = asyncio.Event()
    try:
        now = utc_now()
        row = DiagnosticsRow(
            id="d-old",
            ico="00255319",
            verb="status",
            operator="novakova",
            created_at=now - timedelta(hours=25),
            expires_at=now - timedelta(hours=1),
            updated_at=now - timedelta(hours=25),
        )
        await store.diagnostics.create(row)
        sweep = asyncio.create_task(expiry_sweep(store, stop, interval_s=0.1))

        async def expired() -> bool:
            got = await store.diagnostics.get(row.id)
            return got is not None and got.state == "expired"

        await wait_for(expired, what="the sweep")
        stop.set()
        await sweep
        entries = await store.audit.entries(ico="00255319")
    finally:
        stop.set()
        await store.close()
    assert [e.action for e in entries] == ["diagnostics_expired"]


async def test_an_agent_without_hub_user_refuses_and_says_how_to_fix(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """An AGENT.toml from before diagnostics (no hub_user) refuses every request, naming the key, without a security event."""
    async with diag_network(shared_broker, vhost, tmp_path, ico, start=False) as net:
        text = net.agent_toml.read_text()
        assert 'hub_user = "' in text
        net.agent_toml.write_text(
            "\n".join(line for line in text.splitlines() if not line.startswith("hub_user"))
        )
        await net.start_hub()
        await net.start_agent()
        refused = await ask(net, "status")
        assert refused.state == "failed"
        assert "[diagnostics] hub_user" in refused.error
        store = await open_metadata_store(net.hub, instance="test")
        try:
            rows = await store.diagnostics.of_obec(ico)
        finally:
            await store.close()
        assert [r.security_event for r in rows] == [False]


async def test_a_request_to_an_unprovisioned_obec_fails_at_once(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str, other_ico: str
) -> None:
    """An obec without an inbox cannot be asked: the request is failed (and audited) right away."""
    async with diag_network(shared_broker, vhost, tmp_path, ico, start=False) as net:
        store = await open_metadata_store(net.hub, instance="test")
        try:
            row = await submit(net.hub, store, ico=other_ico, verb="status", operator="novakova")
            entries = await store.audit.entries(ico=other_ico)
        finally:
            await store.close()
        assert row.state == "failed"
        assert "není zřízena" in row.error
        assert [(e.action, e.result.startswith("error")) for e in entries] == [
            ("diagnostics_request", True)
        ]


async def test_a_redelivered_request_is_not_run_twice(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, ico: str
) -> None:
    """The hub's request arriving a second time (a redelivery) is journaled but not run again."""
    async with diag_network(shared_broker, vhost, tmp_path, ico) as net:
        first = await ask(net, "rescan")
        assert first.state == "done"
        again = DiagnosticsRequest(
            message_id=new_message_id(),
            sender="hub:test",
            sent_at=utc_now(),
            request_id=first.id,
            verb="rescan",
            operator="novakova",
        )
        await _publish(net.hub.broker.url, ico, again, user_id=net.hub.broker.username)

        async def seen_twice() -> bool:
            return (await _events(net, first.id)).count("received") == 2

        await wait_for(seen_twice, what="the redelivery at the agent", timeout=WAIT_S)
        marker = await ask(net, "status")
        assert marker.state == "done"
        assert (await _events(net, first.id)).count("running") == 1
