"""Hostile input from one obec's broker user (fuzz, forgeries, duplicates, bad chunks); deletions.

These speak the protocol as a simulated agent (`testkit.hub.Agent`) holding a
valid obec's own broker user against a real `spisync hub run` process.
Afterwards another obec's file must still land byte-identical, and nothing the
hub recorded for the attacker may be unreadable or differ from its hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from bench.env import wait_until
from bench.faults.world import applied_twice, hub_contents, log_count, settle
from hub.queue_names import queue_names
from protocol import ChunkMeta, NeedChunks, chunk_headers, encode, names
from testkit.hub import Agent

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from bench.env import Bench
    from bench.faults.world import FaultWorld, Outcome, Scenario

__all__ = ["corrupt_chunks", "duplicates_reordered", "forged_sender", "fuzz", "mass_deletion"]

_KINDS = (
    "chunk", "file_version", "tombstone", "heartbeat", "spis", "dokument", "komponenta",
    "spis_closed", "spis_reopened", "record_deleted", "diagnostics_result", "file_receipt",
    "sip_manifest", "need_chunks", "x" * 300, "",
)  # fmt: skip
_CONCURRENCY = 64


async def _agent(env: Bench, ico: str) -> Agent:
    agent = Agent(ico, await env.provision(ico), env.inbox(ico))
    await agent.connect()
    return agent


async def _lands(env: Bench, ico: str, expected: dict[str, bytes], timeout: float) -> float:
    started = time.monotonic()

    async def landed() -> bool:
        held = await hub_contents(env, ico)
        return all(held.get(path) == data for path, data in expected.items())

    await wait_until(landed, timeout=timeout, interval=0.2, what=f"obec {ico}'s files at the hub")
    return time.monotonic() - started


async def _bad_records(env: Bench, ico: str) -> int:
    return sum(data is None for data in (await hub_contents(env, ico)).values())


def _random_value(rng: random.Random) -> Any:
    choice = rng.randrange(8)
    values: list[Any] = [
        rng.randrange(-(2**63), 2**63),
        rng.random() * 10 ** rng.randrange(-5, 40),
        rng.randbytes(rng.randrange(0, 40)).decode("latin-1"),
        None,
        [rng.randrange(10)] * rng.randrange(5),
        {"a": rng.randrange(10)},
        rng.choice(["../../etc/passwd", "C:\\x", "CON", "a/./b", "\x00", "ё" * 300, ""]),
        rng.choice([True, False]),
    ]
    return values[choice]


def _fuzzed(agent: Agent, rng: random.Random) -> tuple[bytes, dict[str, Any], str]:
    """One fuzzed body, its headers and kind: garbage, mutated valid messages, bad headers."""
    data = rng.randbytes(rng.randrange(1, 200))
    manifest, _ = agent.manifest(f"fuzz/{rng.randrange(50)}.pdf", data)
    kind = rng.choice(_KINDS)
    headers: dict[str, Any] = {names.HEADER_KIND: kind, names.HEADER_SCHEMA_VERSION: 1}
    shape = rng.randrange(5)
    if shape == 0:
        body = rng.randbytes(rng.randrange(0, 2000))
    elif shape == 1:
        fields = msgspec.to_builtins(manifest)
        fields[rng.choice(sorted(fields))] = _random_value(rng)
        body = msgspec.json.encode(fields)
        kind = headers[names.HEADER_KIND] = "file_version"
    elif shape == 2:
        valid = encode(manifest)
        body = valid[: rng.randrange(len(valid))]
    elif shape == 3:
        meta = ChunkMeta(
            **agent.envelope(), object_sha256=manifest.sha256, index=rng.randrange(-3, 5),
            sha256=manifest.chunk_sha256[0] if rng.random() < 0.5 else "0" * 64,
        )  # fmt: skip
        headers = chunk_headers(meta)
        headers[rng.choice(sorted(headers))] = _random_value(rng)
        body = data if rng.random() < 0.5 else rng.randbytes(len(data))
        kind = "chunk"
    else:
        body = encode(manifest)
        headers = {
            rng.choice([names.HEADER_KIND, names.HEADER_SCHEMA_VERSION, "x-other"]): _random_value(
                rng
            )
            for _ in range(rng.randrange(0, 4))
        }
    return body, {k: v for k, v in headers.items() if v is not None}, kind or "x"


async def _publish(agent: Agent, body: bytes, headers: dict[str, Any], kind: str) -> bool:
    try:
        await agent.publish_raw(body, kind=kind, headers=headers)
    except Exception:
        if agent.channel is None or agent.channel.is_closed:
            await agent.connect()
        return False
    return True


async def fuzz(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """Random and mutated messages from a valid obec; another obec is served throughout."""
    async with world.scenario(outcome) as env:
        attacker_ico, other_ico = env.new_ico(), env.new_ico()
        attacker = await _agent(env, attacker_ico)
        other = await _agent(env, other_ico)
        hub = await env.start_hub(attacker_ico, other_ico)
        rng = scenario.rng
        refused = 0
        sent = 0
        expected: dict[str, bytes] = {}
        served: list[float] = []
        while sent < scenario.fuzz_messages:
            batch = min(_CONCURRENCY, scenario.fuzz_messages - sent)
            results = await asyncio.gather(
                *(_publish(attacker, *_fuzzed(attacker, rng)) for _ in range(batch))
            )
            refused += results.count(False)
            sent += batch
            if len(served) < 3 and sent >= (len(served) + 1) * scenario.fuzz_messages // 4:
                data = rng.randbytes(rng.randrange(1, 50_000))
                path = f"uprostred-utoku-{len(served)}.pdf"
                await other.send_file(path, data, chunk_size=4096)
                expected[path] = data
                served.append(await _lands(env, other_ico, expected, scenario.timeout_s))
            hub.alive()
        outcome.faults = sent
        started = time.monotonic()

        async def drained() -> bool:
            hub.alive()
            return (
                await world.queue_depth(env, queue_names(env.hub_config()).hub_queue(attacker_ico))
                == 0
            )

        await wait_until(drained, timeout=scenario.timeout_s * 4, interval=0.5, what="fuzz drained")
        data = rng.randbytes(30_000)
        expected["po-utoku.pdf"] = data
        await other.send_file("po-utoku.pdf", data, chunk_size=4096)
        await _lands(env, other_ico, expected, scenario.timeout_s)
        outcome.recovered(time.monotonic() - started)
        held = await hub_contents(env, other_ico)
        outcome.expected = len(expected)
        outcome.identical = sum(held.get(p) == d for p, d in expected.items())
        outcome.lost = outcome.expected - outcome.identical
        outcome.applied_twice = applied_twice(env, attacker_ico) + applied_twice(env, other_ico)
        bad = await _bad_records(env, attacker_ico)
        recorded = len(await hub_contents(env, attacker_ico))
        outcome.notes.append(
            f"{refused} publishes refused by the broker; the attacker's files recorded: "
            f"{recorded}, "
            f"unreadable or not matching their hash: {bad}; another obec's file landed during "
            f"the fuzz in at most {max(served, default=0):.1f} s"
        )
        if bad:
            raise AssertionError(f"{bad} of the attacker's recorded files are not byte-correct")
        await attacker.close()
        await other.close()


async def forged_sender(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """An obec sends as another (envelope sender, user_id, routing key); nothing lands there."""
    async with world.scenario(outcome) as env:
        attacker_ico, victim_ico = env.new_ico(), env.new_ico()
        attacker = await _agent(env, attacker_ico)
        victim = await _agent(env, victim_ico)
        await env.start_hub(attacker_ico, victim_ico)
        forged = b"podvrzeny obsah"
        for attempt in range(max(3, scenario.rounds)):
            manifest, chunks = victim.manifest(f"podvrh-{attempt}.pdf", forged)
            manifest = msgspec.structs.replace(manifest, sender=victim_ico)
            how = attempt % 3
            kwargs: dict[str, Any] = {}
            if how == 1:
                kwargs["user_id"] = victim.username
            elif how == 2:
                kwargs["routing_key"] = names.ingest_routing_key(victim_ico, "file_version")
            meta = ChunkMeta(**victim.envelope(), object_sha256=manifest.sha256, index=0,
                             sha256=manifest.chunk_sha256[0])  # fmt: skip
            for body, headers, kind in (
                (chunks[0], chunk_headers(meta), "chunk"),
                (encode(manifest), None, "file_version"),
            ):
                with contextlib.suppress(Exception):
                    await attacker.publish_raw(body, kind=kind, headers=headers, **kwargs)
                if attacker.channel is None or attacker.channel.is_closed:
                    await attacker.connect()
            outcome.faults += 1
        data = scenario.rng.randbytes(20_000)
        started = time.monotonic()
        await victim.send_file("pravy.pdf", data, chunk_size=4096)
        await _lands(env, victim_ico, {"pravy.pdf": data}, scenario.timeout_s)
        outcome.recovered(time.monotonic() - started)
        held = await hub_contents(env, victim_ico)
        outcome.expected = 1
        outcome.identical = int(held.get("pravy.pdf") == data)
        outcome.lost = 1 - outcome.identical
        taken = sorted(p for p in held if p.startswith("podvrh"))
        taken += sorted(p for p in await hub_contents(env, attacker_ico) if p.startswith("podvrh"))
        outcome.notes.append(f"forged versions recorded: {len(taken)}")
        if taken:
            raise AssertionError(f"forged versions were recorded: {taken}")
        await attacker.close()
        await victim.close()


async def duplicates_reordered(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """Manifests first, chunks shuffled and twice, manifests republished: one version each."""
    async with world.scenario(outcome) as env:
        ico = env.new_ico()
        agent = await _agent(env, ico)
        await env.start_hub(ico)
        rng = scenario.rng
        expected: dict[str, bytes] = {}
        for number in range(max(5, scenario.rounds)):
            data = rng.randbytes(rng.randrange(1, 40_000))
            path = f"duplikat-{number}.pdf"
            manifest, chunks = agent.manifest(path, data, chunk_size=4096)
            expected[path] = data
            await agent.send(manifest)
            order = [i for i in range(len(chunks)) for _ in range(2)]
            rng.shuffle(order)
            for index in order:
                await agent.send_chunk(chunks[index], object_sha256=manifest.sha256, index=index)
            await agent.send(manifest)
            await agent.send(
                msgspec.structs.replace(manifest, message_id=agent.envelope()["message_id"])
            )
            outcome.faults += 1
        started = time.monotonic()
        try:
            await _lands(env, ico, expected, scenario.timeout_s)
            outcome.recovered(time.monotonic() - started)
        finally:
            _count(env, ico, expected, outcome, await hub_contents(env, ico))
            await agent.close()


async def corrupt_chunks(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """Chunks not matching their hash are refused; the true chunk later completes the file."""
    async with world.scenario(outcome) as env:
        ico = env.new_ico()
        agent = await _agent(env, ico)
        await env.start_hub(ico)
        rng = scenario.rng
        expected: dict[str, bytes] = {}
        for number in range(max(5, scenario.rounds)):
            data = rng.randbytes(rng.randrange(100, 40_000))
            path = f"poskozeny-{number}.pdf"
            manifest, chunks = agent.manifest(path, data, chunk_size=4096)
            expected[path] = data
            for index, chunk in enumerate(chunks):
                flipped = bytearray(chunk)
                flipped[rng.randrange(len(flipped))] ^= 0xFF
                broken = bytes(flipped) if rng.random() < 0.5 else chunk[: len(chunk) // 2]
                await agent.send_chunk(
                    broken, object_sha256=manifest.sha256, index=index,
                    sha256=manifest.chunk_sha256[index],
                )  # fmt: skip
            await agent.send(manifest)
            # Answered as an agent answers a repair: the chunks asked for, then the manifest.
            need = await agent.wait_for_reply(
                _repair_of(path),
                what=f"the hub's repair request for {path}",
                timeout=scenario.timeout_s,
            )
            for index in need.indexes or range(len(chunks)):
                await agent.send_chunk(chunks[index], object_sha256=manifest.sha256, index=index)
            await agent.send(manifest)
            outcome.faults += len(chunks)
        started = time.monotonic()
        try:
            await _lands(env, ico, expected, scenario.timeout_s)
            outcome.recovered(time.monotonic() - started)
        finally:
            _count(env, ico, expected, outcome, await hub_contents(env, ico))
            await agent.close()


def _repair_of(path: str) -> Callable[[Any], bool]:
    def matches(message: Any) -> bool:
        return isinstance(message, NeedChunks) and message.path == path

    return matches


def _count(
    env: Bench, ico: str, expected: dict[str, bytes], outcome: Outcome, held: dict[str, Any]
) -> None:
    outcome.expected = len(expected)
    outcome.identical = sum(held.get(p) == d for p, d in expected.items())
    outcome.lost = outcome.expected - outcome.identical
    outcome.applied_twice = applied_twice(env, ico)


async def mass_deletion(world: FaultWorld, scenario: Scenario, outcome: Outcome) -> None:
    """The office's files vanish at once: the agent pauses, the hub keeps them all."""
    async with world.scenario(outcome) as env:
        town = await world.town(env)
        await env.start_hub(town.ico)
        agent = town.start_agent()
        town.write(scenario.rng, 30, max_size=20_000)
        await settle(env, town, outcome, timeout=scenario.timeout_s, what="the files")
        for relative in town.expected:
            (town.folder / relative).unlink()
        outcome.faults = len(town.expected)
        started = time.monotonic()

        async def paused() -> bool:
            agent.alive()
            return log_count(agent, "deletions_paused") > 0

        await wait_until(paused, timeout=scenario.timeout_s, interval=0.3, what="the pause")
        outcome.recovered(time.monotonic() - started)
        # Give a wrongly propagated deletion the time to show (the agent already decided).
        marker = datetime.now(UTC).isoformat()
        town.expected["po-smazani.pdf"] = b"written after the deletion " + marker.encode()
        (town.folder / "po-smazani.pdf").write_bytes(town.expected["po-smazani.pdf"])
        await settle(env, town, outcome, timeout=scenario.timeout_s, what="files still at the hub")
