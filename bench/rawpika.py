"""The raw RabbitMQ baseline: the same bytes moved with plain aio-pika, nothing of ours.

    python -m bench.rawpika consume --url URL --queue Q --out DIR --files N --ready PATH
    python -m bench.rawpika publish --url URL --queue Q --src DIR --chunk-size C --window W

The publisher reads every file under `--src` in chunks of `--chunk-size` and
publishes each chunk persistent and `mandatory` to a durable quorum queue (the
queue type our hub's obec queues have), with publisher confirms and at most
`--window` unconfirmed messages (the agent's `publish_window`). The consumer
(prefetch as the hub's default) writes each chunk at its offset and acknowledges
it only once it is durable, as our hub does: while one group of written chunks
is fsynced, the next group is written, and one `multiple` ack covers each group
(group commit). It exits when `--files` files are complete and durable and prints
the bytes it wrote. `--ack-before-sync` acknowledges each chunk as soon as it is
written (fsyncing a file only when its last chunk is in): a weaker guarantee,
kept as a reference figure only. `--verify` (both roles) adds the integrity
check spisync makes and plain RabbitMQ does not: the publisher sends each
chunk's SHA-256 and, with the last chunk, the whole file's; the consumer hashes
every chunk and every file as they arrive and fails on a mismatch. A reference
figure too: it shows how much of the gap to the plain pipeline the hashing
alone explains. Both run as their own
processes, as our agent and hub do, on the same event loop (`run_main`: uvloop).
Each prints its own CPU seconds (user + system) last, for the per-stage figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import aio_pika

from spisync.broker import open_connection
from spisync.runtime import run_main

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["declare_queue", "main"]

_HEADER_PATH = "x-bench-path"
_HEADER_OFFSET = "x-bench-offset"
_HEADER_LAST = "x-bench-last"
_HEADER_SHA256 = "x-bench-sha256"
_HEADER_FILE_SHA256 = "x-bench-file-sha256"


async def declare_queue(url: str, queue: str) -> None:
    """Declare the baseline's durable quorum queue."""
    connection = await open_connection(url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})


async def _publish(args: argparse.Namespace) -> None:
    connection = await open_connection(args.url, name="spisync tests")
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = channel.default_exchange
        window = asyncio.Semaphore(args.window)
        pending: set[asyncio.Task[object]] = set()
        failures: list[BaseException] = []

        def settled(task: asyncio.Task[object]) -> None:
            pending.discard(task)
            window.release()
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]

        root = Path(args.src)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root).as_posix()
            size = path.stat().st_size
            whole = hashlib.sha256()
            with path.open("rb") as source:
                offset = 0
                while True:
                    data = source.read(args.chunk_size)
                    last = offset + len(data) >= size
                    headers: aio_pika.abc.HeadersType = {
                        _HEADER_PATH: relative,
                        _HEADER_OFFSET: offset,
                        _HEADER_LAST: last,
                    }
                    if args.verify:
                        whole.update(data)
                        headers[_HEADER_SHA256] = hashlib.sha256(data).hexdigest()
                        if last:
                            headers[_HEADER_FILE_SHA256] = whole.hexdigest()
                    await window.acquire()
                    message = aio_pika.Message(
                        data,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers=headers,
                    )
                    task = asyncio.ensure_future(
                        exchange.publish(message, routing_key=args.queue, mandatory=True)
                    )
                    pending.add(task)
                    task.add_done_callback(settled)
                    offset += len(data)
                    if last:
                        break
        while pending:
            await asyncio.gather(*list(pending), return_exceptions=True)
        if failures:
            raise SystemExit(f"publish failed: {failures[0]!r}")
    print(_cpu_seconds())


async def _consume(args: argparse.Namespace) -> None:
    out = Path(args.out)
    done = asyncio.Event()
    files_done = 0
    written = 0
    descriptors: dict[str, int] = {}
    hashes: dict[str, hashlib._Hash] = {}
    failures: list[str] = []
    # Group commit: what was written since the last sync, acknowledged once synced.
    dirty: set[int] = set()
    finished: list[str] = []
    unacked: list[aio_pika.abc.AbstractIncomingMessage] = []
    wake = asyncio.Event()

    def sync(fds: set[int]) -> None:
        for fd in fds:
            os.fsync(fd)

    async def committer() -> None:
        nonlocal files_done
        while True:
            await wake.wait()
            wake.clear()
            batch, fds, complete = list(unacked), set(dirty), list(finished)
            unacked.clear()
            dirty.clear()
            finished.clear()
            if not batch:
                continue
            await asyncio.to_thread(sync, fds)
            for relative in complete:
                os.close(descriptors.pop(relative))
            # Deliveries come in order on one channel: one ack covers the batch.
            await batch[-1].ack(multiple=True)
            files_done += len(complete)
            if files_done >= args.files:
                done.set()

    connection = await open_connection(args.url, name="spisync tests")
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=args.prefetch)
        queue = await channel.get_queue(args.queue, ensure=False)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal files_done, written
            headers = message.headers
            relative = str(headers[_HEADER_PATH])
            fd = descriptors.get(relative)
            if fd is None:
                target = out / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
                descriptors[relative] = fd
            os.pwrite(fd, message.body, int(headers[_HEADER_OFFSET]))  # type: ignore[arg-type]
            if args.verify and (mismatch := _mismatch(relative, message.body, headers, hashes)):
                failures.append(mismatch)
                done.set()
                return
            written += len(message.body)
            if args.ack_before_sync:
                # The old baseline: acknowledged before its bytes are durable.
                if headers[_HEADER_LAST]:
                    os.fsync(fd)
                    os.close(descriptors.pop(relative))
                    files_done += 1
                await message.ack()
                if files_done >= args.files:
                    done.set()
                return
            dirty.add(fd)
            if headers[_HEADER_LAST]:
                finished.append(relative)
            unacked.append(message)
            wake.set()

        commits = asyncio.create_task(committer())
        complete = asyncio.create_task(done.wait())
        await queue.consume(on_message)
        Path(args.ready).write_text("ready")
        await asyncio.wait([commits, complete], return_when=asyncio.FIRST_COMPLETED)
        for task in (commits, complete):
            task.cancel()
        if commits.done() and not commits.cancelled() and commits.exception() is not None:
            raise SystemExit(f"raw consumer failed: {commits.exception()!r}")
        if failures:
            raise SystemExit(f"raw consumer: {failures[0]}")
    print(written, _cpu_seconds())


def _mismatch(
    relative: str, body: bytes, headers: Mapping[str, object], hashes: dict[str, hashlib._Hash]
) -> str | None:
    """What does not match: the chunk's SHA-256, or with the last chunk the whole file's."""
    if hashlib.sha256(body).hexdigest() != headers[_HEADER_SHA256]:
        return f"a chunk of {relative} does not match its SHA-256"
    whole = hashes.setdefault(relative, hashlib.sha256())
    whole.update(body)  # one publisher, one queue: a file's chunks arrive in order
    if headers[_HEADER_LAST] and hashes.pop(relative).hexdigest() != headers[_HEADER_FILE_SHA256]:
        return f"{relative} does not match its SHA-256"
    return None


def _cpu_seconds() -> float:
    """This process's user + system CPU so far (what the benchmark reports per stage)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


def main(argv: list[str] | None = None) -> int:
    """Run the publisher or the consumer."""
    parser = argparse.ArgumentParser(prog="python -m bench.rawpika")
    sub = parser.add_subparsers(dest="role", required=True)
    publish = sub.add_parser("publish")
    publish.add_argument("--url", required=True)
    publish.add_argument("--queue", required=True)
    publish.add_argument("--src", required=True)
    publish.add_argument("--chunk-size", type=int, required=True)
    publish.add_argument("--window", type=int, required=True)
    publish.add_argument("--verify", action="store_true", help="send SHA-256s of chunks and files")
    consume = sub.add_parser("consume")
    consume.add_argument("--url", required=True)
    consume.add_argument("--queue", required=True)
    consume.add_argument("--out", required=True)
    consume.add_argument("--files", type=int, required=True)
    consume.add_argument("--prefetch", type=int, default=16)
    consume.add_argument("--ready", required=True)
    consume.add_argument(
        "--ack-before-sync",
        action="store_true",
        help="acknowledge each chunk once written, before it is durable (a weaker reference)",
    )
    consume.add_argument("--verify", action="store_true", help="check SHA-256s of chunks and files")
    args = parser.parse_args(argv)
    # The same event loop as our agent and hub (uvloop where installed).
    run_main(_publish(args) if args.role == "publish" else _consume(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
