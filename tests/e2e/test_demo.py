"""The README's first command: the whole network acting out a day ends with every closed spis archived."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

from archive.validation import validate_sip
from testkit.broker import free_port

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.broker import SharedBroker


async def test_demo_day_archives_every_closed_spis(
    shared_broker: SharedBroker, tmp_path: Path
) -> None:
    """`spisync demo` exits 0, reports every file synced, every SIP validates, and it leaves nothing on the broker."""
    vhost = f"spisync-demo-test-{uuid.uuid4().hex[:8]}"
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "spisync.cli",
                "demo",
                "--dir",
                str(tmp_path / "demo"),
                "--vhost",
                vhost,
                "--amqp-url",
                shared_broker.url("/"),
                "--management-url",
                shared_broker.management_url,
                "--console-listen",
                f"127.0.0.1:{free_port()}",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        api = shared_broker.management()
        left_vhost = await api.request("GET", f"vhosts/{vhost}")
        users = await api.request("GET", "users") or []
        left_users = [u["name"] for u in users if u["name"].startswith(f"{vhost}.")]
    finally:
        await shared_broker.drop_vhost(vhost)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "5/5 files synced" in result.stdout
    assert "operator console: http://127.0.0.1:" in result.stdout
    assert "login demo / " in result.stdout
    assert left_vhost is None, "the demo leaves its vhost behind"
    assert left_users == [], "the demo leaves its broker users behind"
    sips = sorted((tmp_path / "demo" / "archive" / "data").rglob("*.zip"))
    assert len(sips) == 3
    for sip in sips:
        report = validate_sip(sip)
        assert report.ok, report.failures
