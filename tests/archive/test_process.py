"""The archive as the operator runs it: `spisync archive run` killed, restarted and stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from protocol import SipAccepted
from tests.archive.conftest import wait_for_consumer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from testkit.broker import SharedBroker
    from tests.archive.hub_double import HubDouble, Sip

SPISYNC = Path(sys.executable).parent / "spisync"


class ArchiveProcess:
    """`spisync archive run` in a subprocess, logging to a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(SPISYNC), "archive", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@pytest.fixture
def archive_process(
    shared_broker: SharedBroker, vhost: str, tmp_path: Path
) -> Iterator[ArchiveProcess]:
    """An ARCHIVE.toml for the test's vhost and a not-yet-started archive process."""
    config = tmp_path / "ARCHIVE.toml"
    config.write_text(
        f'[archive]\ndata_dir = "{tmp_path / "archive"}"\n\n'
        f'[broker]\nurl = "{shared_broker.url(vhost)}"\n',
        encoding="utf-8",
    )
    process = ArchiveProcess(config, tmp_path / "archive.log")
    yield process
    process.stop()


async def wait_until(predicate: object, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise TimeoutError("condition never became true")
        await asyncio.sleep(0.02)


async def test_kill_9_mid_transfer_then_restart_stores_once(
    archive_process: ArchiveProcess, hub: HubDouble, sip: Sip, tmp_path: Path
) -> None:
    """A kill -9 of the archive while chunks arrive, and again right after a duplicate manifest, still ends with one stored package and accepted replies with one archive id."""
    data_dir = tmp_path / "archive"
    staging = data_dir / "staging"
    chunks = len(sip.chunks())
    archive_process.start()
    await wait_for_consumer(hub)
    for index in range(chunks // 2 + 1):
        await hub.send_chunk(sip, index)
    await wait_until(lambda: len(list(staging.glob("*/*"))) >= 1)
    archive_process.kill()
    for index in range(chunks // 2 + 1, chunks):
        await hub.send_chunk(sip, index)
    await hub.send_manifest(sip)

    archive_process.start()
    first = await hub.reply()
    assert isinstance(first, SipAccepted), first
    stored = data_dir / sip.ico / f"{sip.name}.zip"
    assert stored.read_bytes() == sip.data

    # The hub did not hear the reply and re-sends; the archive dies while handling it.
    await hub.send_sip(sip)
    await asyncio.sleep(0.05)
    archive_process.kill()
    archive_process.start()
    again = await hub.reply()
    assert isinstance(again, SipAccepted), again
    assert again.archive_id == first.archive_id
    assert list(data_dir.glob("*/*.zip")) == [stored]
    assert stored.read_bytes() == sip.data


async def test_sigterm_drains_and_exits_within_10_s(
    archive_process: ArchiveProcess, hub: HubDouble, sip: Sip
) -> None:
    """SIGTERM during work makes `spisync archive run` finish, exit 0 within 10 s, and the SIP is still answered."""
    archive_process.start()
    await wait_for_consumer(hub)
    await hub.send_sip(sip)
    process = archive_process.process
    assert process is not None
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 10) == 0
    archive_process.start()  # Whatever was not finished is redelivered.
    reply = await hub.reply()
    assert isinstance(reply, SipAccepted), reply
    # The reply may come from the first process; signal the second only once it
    # has installed its handlers, or Python's default SIGINT kills it mid-import.
    await wait_for_consumer(hub)
    os.kill(archive_process.process.pid, signal.SIGINT)  # type: ignore[union-attr]
    assert await asyncio.to_thread(archive_process.process.wait, 10) == 0  # type: ignore[union-attr]
