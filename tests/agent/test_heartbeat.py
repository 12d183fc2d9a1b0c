"""Heartbeats: every interval, the figures the ORP's operators watch."""

from __future__ import annotations

import os

from agent.heartbeat import agent_version


async def test_heartbeats_carry_version_uptime_outbox_scan_files_errors_and_disk(agent_env):
    """Each heartbeat reports version, uptime, outbox depth and age, scan, files, errors, disk."""
    folder = agent_env.folder
    for i in range(4):
        (folder / f"f{i}.bin").write_bytes(os.urandom(2048))
    (folder / "bad?.txt").write_bytes(b"unsafe name")
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(bandwidth_limit_bytes_per_s=4096))
    await agent_env.eventually(
        lambda: any(h.outbox_depth > 0 and h.files_watched == 4 for h in reader.heartbeats)
    )
    busy = next(h for h in reader.heartbeats if h.outbox_depth > 0 and h.files_watched == 4)
    assert busy.oldest_pending_age_s is not None
    assert busy.oldest_pending_age_s >= 0
    assert busy.agent_version == agent_version()
    assert busy.last_scan_at is not None
    assert busy.last_scan_duration_s is not None
    assert busy.errors_by_kind == {"unsafe_name": 1}
    assert busy.free_disk_bytes > 0
    uptimes = [h.uptime_s for h in reader.heartbeats]
    assert uptimes == sorted(uptimes)

    await agent_env.eventually(lambda: reader.heartbeats[-1].outbox_depth == 0, timeout=60)
    assert reader.heartbeats[-1].oldest_pending_age_s is None
    assert not reader.violations


async def test_heartbeats_carry_sync_progress(agent_env):
    """While files wait the heartbeat counts them; once sent it says the initial sync is complete."""
    for i in range(3):
        (agent_env.folder / f"f{i}.bin").write_bytes(os.urandom(4096))
    reader = await agent_env.reader()
    await agent_env.start(agent_env.write_config(bandwidth_limit_bytes_per_s=2048))
    await agent_env.eventually(
        lambda: any(h.sync_files_remaining > 0 for h in reader.heartbeats), timeout=60
    )
    await agent_env.eventually(
        lambda: bool(reader.heartbeats) and reader.heartbeats[-1].initial_sync_complete,
        timeout=90,
    )
    assert reader.heartbeats[-1].sync_files_remaining == 0
    assert not reader.violations
