"""systemd's notify protocol over a real datagram socket: READY, STATUS, WATCHDOG, STOPPING."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from spisync.systemd import Notifier, watchdog
from testkit.hub import make_hub_config, write_hub_toml
from testkit.waiting import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from testkit.broker import SharedBroker


@contextlib.contextmanager
def listening(tmp_path: Path, *, abstract: bool = False) -> Iterator[tuple[str, socket.socket]]:
    """A datagram socket like systemd's; yields its NOTIFY_SOCKET value and the socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"spisync-test-{uuid.uuid4().hex}"
        sock.bind("\0" + name)
        address = "@" + name
    else:
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
    try:
        yield address, sock
    finally:
        sock.close()


def receive(sock: socket.socket, timeout: float = 30) -> dict[str, str]:
    sock.settimeout(timeout)
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


def test_ready_status_and_stopping_reach_a_path_socket(tmp_path: Path) -> None:
    """READY=1 with a STATUS comes once; later calls send STATUS only; STOPPING=1 at the end."""
    with listening(tmp_path) as (address, sock):
        sd = Notifier({"NOTIFY_SOCKET": address})
        sd.ready("connected")
        assert receive(sock) == {"READY": "1", "STATUS": "connected"}
        sd.ready("still connected")
        assert receive(sock) == {"STATUS": "still connected"}
        sd.stopping()
        assert receive(sock)["STOPPING"] == "1"


def test_abstract_socket_and_no_socket(tmp_path: Path) -> None:
    """`@name` means an abstract socket; without NOTIFY_SOCKET nothing is sent and nothing fails."""
    with listening(tmp_path, abstract=True) as (address, sock):
        Notifier({"NOTIFY_SOCKET": address}).status("initial sync 40 %")
        assert receive(sock) == {"STATUS": "initial sync 40 %"}
    quiet = Notifier({})
    assert not quiet.enabled
    assert not quiet.send(READY="1")


def test_watchdog_pid_of_another_process_is_ignored() -> None:
    """WATCHDOG_USEC meant for another process (WATCHDOG_PID) does not start pings here."""
    env = {"NOTIFY_SOCKET": "/nowhere", "WATCHDOG_USEC": "1000000"}
    assert Notifier(env).watchdog_s == 1.0
    assert Notifier(env | {"WATCHDOG_PID": str(os.getpid() + 1)}).watchdog_s is None


async def test_watchdog_pings_stop_while_the_loop_stalls(tmp_path: Path) -> None:
    """Pings come from the event loop: none arrive while it is blocked, and they resume after."""
    with listening(tmp_path) as (address, sock):
        sd = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000"})
        async with watchdog(sd):
            assert await asyncio.to_thread(receive, sock) == {"WATCHDOG": "1"}
            silent: list[bool] = []

            def watch_while_stalled() -> None:
                sock.settimeout(0)
                with contextlib.suppress(BlockingIOError):
                    while True:  # drop pings sent before the stall began
                        sock.recv(4096)
                try:
                    receive(sock, timeout=1.0)  # ten ping intervals
                except TimeoutError:
                    silent.append(True)
                else:
                    silent.append(False)

            watcher = threading.Thread(target=watch_while_stalled)
            watcher.start()
            watcher.join()  # blocks the event loop: a stalled service
            assert silent == [True]
            assert await asyncio.to_thread(receive, sock) == {"WATCHDOG": "1"}


@pytest.mark.parametrize("role", ["hub", "archive"])
async def test_role_process_says_ready_pings_and_stops(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path, role: str
) -> None:
    """`spisync ROLE run` under a NOTIFY_SOCKET: READY after the broker session, pings, STOPPING on SIGTERM."""
    if role == "hub":
        hub = make_hub_config(shared_broker, vhost, tmp_path / "d")
        config = write_hub_toml(hub, tmp_path / "H.toml")
    else:
        config = tmp_path / "A.toml"
        config.write_text(
            f'[archive]\ndata_dir = "{tmp_path / "d"}"\n\n'
            f'[broker]\nurl = "{shared_broker.url(vhost)}"\n',
            encoding="utf-8",
        )
    script = Path(sys.executable).with_name("spisync")
    with listening(tmp_path) as (address, sock):
        env = dict(os.environ, NOTIFY_SOCKET=address, WATCHDOG_USEC="2000000")
        process = subprocess.Popen(
            [str(script), role, "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            seen: list[dict[str, str]] = []

            async def got(key: str) -> bool:
                seen.append(await asyncio.to_thread(receive, sock, 60))
                return any(key in message for message in seen)

            await wait_for(lambda: got("READY"), timeout=90, what="READY=1")
            await wait_for(lambda: got("WATCHDOG"), timeout=30, what="a watchdog ping")
            process.send_signal(signal.SIGTERM)
            await wait_for(lambda: got("STOPPING"), timeout=30, what="STOPPING=1")
            assert await asyncio.to_thread(process.wait, 60) == 0
        finally:
            process.kill()
            process.wait()
    ready = next(m for m in seen if "READY" in m)
    assert "connected to the broker" in ready["STATUS"]
