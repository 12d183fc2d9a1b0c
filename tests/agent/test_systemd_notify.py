"""The agent tells systemd it is ready once its broker session is up, and shows its progress."""

from __future__ import annotations

import asyncio
import socket

import spisync.systemd
from spisync.systemd import Notifier


async def test_agent_says_ready_after_connecting_and_reports_status(
    agent_env, monkeypatch, tmp_path
):
    """READY=1 arrives once the agent is connected; STATUS lines follow from the sync's progress."""
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(60)
    monkeypatch.setattr(spisync.systemd, "_notifier", Notifier({"NOTIFY_SOCKET": address}))
    (agent_env.folder / "zapis.txt").write_bytes("zápis".encode())
    try:
        await agent_env.start()
        messages: list[str] = []
        while not any("READY=1" in m for m in messages):
            messages.append((await asyncio.to_thread(sock.recv, 4096)).decode())
        ready = next(m for m in messages if "READY=1" in m)
        assert "STATUS=connected to the broker" in ready
        while not any(m.startswith("STATUS=") and "sync" in m for m in messages):
            messages.append((await asyncio.to_thread(sock.recv, 4096)).decode())
    finally:
        sock.close()
