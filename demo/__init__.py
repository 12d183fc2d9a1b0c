"""`spisync demo`: the whole network on one machine, acting out a working day.

It starts the hub, the archive consumer and three agents of fictional obce of
one ORP as real processes on the local RabbitMQ (a vhost of its own), lets the
town halls work (scans arrive, documents are registered, drafts change, spisy
close), shows what happens as it goes, and ends with a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from demo.day import DayLog, Office, act_out_the_day
from demo.network import (
    DEFAULT_VHOST,
    DemoNetwork,
    HubView,
    add_demo_operator,
    elapsed,
)
from demo.obce import DEMO_OBCE, Registry, fake_scan
from demo.processes import Services
from spisync.logging import configure_logging
from spisync.platform import install_shutdown_handlers
from spisync.runtime import run_main

__all__ = ["DEMO_LOGIN", "main", "run_demo"]

_REPO = Path(__file__).resolve().parents[1]
_RELEASE_GRACE_S = 5
_SCHEMA = _REPO / "packaging" / "registry" / "schema.sql"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spisync demo", description=__doc__)
    parser.add_argument(
        "--dir", type=Path, default=_REPO / "run" / "demo", help="where to keep everything"
    )
    parser.add_argument(
        "--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/", help="an administrator"
    )
    parser.add_argument("--management-url", default="http://127.0.0.1:15672")
    parser.add_argument(
        "--vhost", default=DEFAULT_VHOST, help="the demo's own vhost, recreated on every run"
    )
    parser.add_argument(
        "--wait", type=float, default=90.0, help="seconds to wait for the archive's replies"
    )
    parser.add_argument(
        "--console-listen",
        default="127.0.0.1:8765",
        help="where the hub serves its operator console (HOST:PORT)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the network running after the day (look at the console), until Ctrl+C",
    )
    return parser


def _file_of(missing: object) -> str:
    """The file a missing komponenta waits for, as `hub spisy --json` lists it."""
    return str(missing["soubor"]) if isinstance(missing, dict) else str(missing)


async def _watch(view: HubView, log: DayLog, start: float, deadline: float) -> bool:
    """Report state changes of every spis until every closed one is archived; True if so."""
    seen: dict[tuple[str, str], str] = {}
    while time.monotonic() < deadline:
        done = True
        for obec in DEMO_OBCE:
            for spis in await view.spisy(obec.ico):
                key = (obec.ico, str(spis["id"]))
                state = str(spis["state"])
                if spis["missing"]:
                    waiting = ", ".join(_file_of(m) for m in spis["missing"])
                    state += f" (waiting for: {waiting})"
                if seen.get(key) != state:
                    seen[key] = state
                    znacka = spis["spisova_znacka"]
                    print(f"  [{elapsed(start)}] hub   {obec.name}: spis {znacka} is {state}")
                closed = key[1] in log.closed_spisy.get(obec.ico, [])
                if closed and spis["state"] != "archived":
                    done = False
        if done and all(log.closed_spisy.get(o.ico) for o in DEMO_OBCE):
            return True
        await asyncio.sleep(0.3)
    return False


async def _watch_release(view: HubView, start: float, deadline: float) -> None:
    """Wait until the hub has let go of every archived spis's content (after its grace)."""
    reported: set[str] = set()
    while time.monotonic() < deadline and len(reported) < len(DEMO_OBCE):
        for obec in DEMO_OBCE:
            released = [f for f in await view.files(obec.ico) if f["released"]]
            if released and obec.ico not in reported:
                reported.add(obec.ico)
                print(
                    f"  [{elapsed(start)}] hub   {obec.name}: released its copy of "
                    f"{len(released)} archived file(s) after the archive's confirmation"
                )
        await asyncio.sleep(0.5)


async def _summary(view: HubView, network: DemoNetwork, log: DayLog) -> bool:
    """Print what reached the hub and the archive; True if everything did."""
    ok = True
    print("\nSummary")
    for obec in DEMO_OBCE:
        files = await view.files(obec.ico)
        live = [f for f in files if not f["deleted"]]
        versions = sum(int(f["versions"]) for f in files)
        released = sum(1 for f in files if f["released"])
        spisy = await view.spisy(obec.ico)
        archived = [s for s in spisy if s["state"] == "archived"]
        on_disk = sum(
            1
            for p in network.agent_config(obec).parent.joinpath("dokumenty").rglob("*")
            if p.is_file()
        )
        ok &= len(live) == on_disk and len(archived) >= len(log.closed_spisy.get(obec.ico, []))
        print(
            f"  {obec.name} (IČO {obec.ico}): {len(live)}/{on_disk} files synced "
            f"({versions} versions, {len(files) - len(live)} deleted kept as tombstones), "
            f"{len(archived)} spis(y) archived, {released} archived file(s) released at the hub"
        )
    sips = sorted(network.archive_data.rglob("*.zip"))
    print(f"\nSIP packages kept by the regional archive ({len(sips)}):")
    for sip in sips:
        print(f"  {sip}")
    print("\nHow to look at them:")
    if sips:
        print(f"  unzip -l '{sips[0]}'")
        print(f"  .venv/bin/spisync archive validate '{sips[0]}'")
    print(f"  .venv/bin/spisync hub spisy --config {network.hub_config} --ico {DEMO_OBCE[0].ico}")
    print(f"  .venv/bin/spisync hub files --config {network.hub_config} --ico {DEMO_OBCE[0].ico}")
    print(f"  logs: {network.base / 'logs'}")
    return ok and len(sips) >= sum(len(v) for v in log.closed_spisy.values())


DEMO_LOGIN = ("demo", "demo-heslo-1")
"""The console's demo operator: name and password (an admin; the demo's data only)."""


async def _keep_running(services: Services, console_url: str) -> None:
    """Wait for Ctrl+C or SIGTERM while the network keeps running."""
    stop = asyncio.Event()
    undo = install_shutdown_handlers(asyncio.get_running_loop(), stop)
    print(
        f"\nThe network keeps running: console {console_url} (login {DEMO_LOGIN[0]} / "
        f"{DEMO_LOGIN[1]}). Press Ctrl+C to stop it."
    )
    while not stop.is_set() and not services.failed():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    undo()
    if failed := services.failed():
        print(f"services that stopped on their own: {', '.join(failed)}", file=sys.stderr)


async def run_demo(
    network: DemoNetwork,
    wait_s: float,
    *,
    console_listen: str = "127.0.0.1:8765",
    keep: bool = False,
) -> int:
    """Run the demo; return the exit code (0 when every closed spis was archived)."""
    start = time.monotonic()
    today = datetime.now(UTC).date()
    print(f"spisync demo in {network.base}")
    await network.reset()
    network.write_configs(release_grace_s=_RELEASE_GRACE_S, console_listen=console_listen)
    await add_demo_operator(network.hub_config, *DEMO_LOGIN)
    console_url = f"http://{console_listen}"
    services = Services(network.base / "logs")
    offices: list[Office] = []
    for obec in DEMO_OBCE:
        folder = obec.folder(network.base)
        minutes = folder / "Archiv 2025" / "Zápis ze zastupitelstva.pdf"
        minutes.parent.mkdir(parents=True)
        minutes.write_bytes(fake_scan(f"{obec.ico}zapis", 2))
        registry = Registry(obec.registry_path(network.base), _SCHEMA)
        await network.provision(obec, folder, obec.registry_path(network.base))

        def say(text: str, name: str = obec.name) -> None:
            print(f"  [{elapsed(start)}] obec  {name}: {text}")

        offices.append(Office(obec=obec, folder=folder, registry=registry, say=say))
        print(f"  [{elapsed(start)}] hub   provisioned {obec.name}: broker user, queues, config")
    ok = False
    try:
        await services.start("hub", "hub", "run", "--config", str(network.hub_config))
        await services.start("archive", "archive", "run", "--config", str(network.archive_config))
        for obec in DEMO_OBCE:
            config = str(network.agent_config(obec))
            await services.start(f"agent-{obec.ico}", "agent", "run", "--config", config)
        print(f"  [{elapsed(start)}] started the hub, the archive and {len(DEMO_OBCE)} agents")
        print(
            f"  [{elapsed(start)}] hub   operator console: {console_url} "
            f"(login {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]})"
        )
        log = DayLog()
        await act_out_the_day(offices, today, log)
        view = HubView(network.hub_config)
        archived = await _watch(view, log, start, time.monotonic() + wait_s)
        if archived:
            await _watch_release(view, start, time.monotonic() + _RELEASE_GRACE_S + 15)
        if failed := services.failed():
            print(f"\nservices that stopped on their own: {', '.join(failed)}", file=sys.stderr)
        ok = await _summary(view, network, log) and archived and not failed
        print(f"  console: {console_url} (login {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]})")
        if keep:
            await _keep_running(services, console_url)
    finally:
        await services.stop()
        # The summary's commands read the hub's files, not the broker: leave nothing there.
        await network.remove_from_broker()
    print(f"\n{'done' if ok else 'NOT everything arrived'} in {elapsed(start).strip()}")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    """Run `spisync demo` with `argv`; return the exit code."""
    args = _parser().parse_args(argv)
    # The demo narrates; the services' own logs go to files under --dir.
    configure_logging("demo", level="warning", cache=True)
    if not _SCHEMA.exists():
        print(f"spisync demo: the reference registry schema {_SCHEMA} is missing", file=sys.stderr)
        return 2
    network = DemoNetwork(
        base=args.dir, amqp_url=args.amqp_url, management_url=args.management_url, vhost=args.vhost
    )
    return run_main(
        run_demo(network, args.wait, console_listen=args.console_listen, keep=args.keep)
    )
