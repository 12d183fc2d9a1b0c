"""The raw aio-pika baseline with `--verify`: it really checks what it receives.

The reference figure "raw aio-pika, SHA-256 of chunks and files checked" is only
worth reporting if its consumer hashes every chunk and file: a forged chunk
must fail it, an honest tree must pass.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import aio_pika
import pytest

from bench.rawpika import declare_queue
from spisync.broker import open_connection

REPO = Path(__file__).resolve().parents[2]
QUEUE = "bench.raw.test"


async def _consumer(url: str, out: Path, ready: Path) -> asyncio.subprocess.Process:
    consumer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.rawpika", "consume", "--url", url, "--queue", QUEUE,
        "--out", str(out), "--files", "1", "--ready", str(ready), "--verify",
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(30):
        while not ready.exists():
            assert consumer.returncode is None, await consumer.communicate()
            await asyncio.sleep(0.05)
    return consumer


async def test_verify_passes_an_honest_file_of_several_chunks(shared_broker, vhost, tmp_path):
    """Publisher and consumer with --verify: three chunks go, the file arrives whole."""
    url = shared_broker.url(vhost)
    await declare_queue(url, QUEUE)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(3 * 4096 + 17))
    consumer = await _consumer(url, tmp_path / "out", tmp_path / "ready")
    publish = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.rawpika", "publish", "--url", url, "--queue", QUEUE,
        "--src", str(src), "--chunk-size", "4096", "--window", "2", "--verify", cwd=REPO,
    )  # fmt: skip
    async with asyncio.timeout(60):
        assert await publish.wait() == 0
        _, err = await consumer.communicate()
    assert consumer.returncode == 0, err
    assert (tmp_path / "out" / "a.bin").read_bytes() == (src / "a.bin").read_bytes()


@pytest.mark.parametrize("forge", ["chunk", "file"])
async def test_verify_fails_on_a_forged_chunk_or_file(shared_broker, vhost, tmp_path, forge):
    """A chunk whose bytes are not its SHA-256, or a file not its whole hash, fails the consumer."""
    url = shared_broker.url(vhost)
    await declare_queue(url, QUEUE)
    consumer = await _consumer(url, tmp_path / "out", tmp_path / "ready")
    body = b"bytes of the chunk"
    chunk_sha = hashlib.sha256(body if forge == "file" else b"other bytes").hexdigest()
    file_sha = hashlib.sha256(b"another file" if forge == "file" else body).hexdigest()
    connection = await open_connection(url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(
                body,
                headers={
                    "x-bench-path": "a.bin",
                    "x-bench-offset": 0,
                    "x-bench-last": True,
                    "x-bench-sha256": chunk_sha,
                    "x-bench-file-sha256": file_sha,
                },
            ),
            routing_key=QUEUE,
        )
    async with asyncio.timeout(60):
        _, err = await consumer.communicate()
    assert consumer.returncode != 0
    assert b"does not match its SHA-256" in err
