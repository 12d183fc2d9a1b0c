"""A TCP proxy on 127.0.0.1 between a client and a broker: cut links, refuse, slow down.

Tests use it to cut an agent's link to the broker without touching the broker;
benchmarks use it for slow links (bandwidth, added round-trip delay).

    proxy = TcpProxy("127.0.0.1", 5672, bandwidth_bytes_per_s=250_000, delay_s=0.05)
    await proxy.start()
    url = proxy.url_for("amqp://user:pw@127.0.0.1:5672/vhost")
    proxy.cut()       # every open connection is aborted (the client sees a reset)
    proxy.cut(silent=True)  # open connections go quiet: no data, no reset (a NAT timeout)
    proxy.pause()     # new connections are refused until resume()
    proxy.resume()
    await proxy.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ProxyStats", "TcpProxy"]

_READ_SIZE = 64 * 1024
_QUEUE_CHUNKS = 16


@dataclass
class ProxyStats:
    """What went through the proxy.

    Attributes:
        accepted: Connections accepted and forwarded.
        refused: Connections refused while paused or the target was down.
        cut: Connections aborted or silenced by `cut()`.
        upstream_bytes: Bytes from clients to the target.
        downstream_bytes: Bytes from the target to clients.
        upstream_started: When the first upstream bytes were forwarded (monotonic), or 0.
        upstream_ended: When the last upstream bytes were forwarded (monotonic), or 0.
    """

    accepted: int = 0
    refused: int = 0
    cut: int = 0
    upstream_bytes: int = 0
    downstream_bytes: int = 0
    upstream_started: float = 0.0
    upstream_ended: float = 0.0


class _Throttle:
    """A token bucket shared by every connection in one direction (one link's bandwidth)."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._tokens = 0.0
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, amount: int) -> None:
        async with self._lock:
            now = time.monotonic()
            # At most a tenth of a second's worth of burst: a slow link stays slow.
            self._tokens = min(self._rate / 10, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= amount
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self._rate)


class _Pipe:
    """One client connection and its connection to the target."""

    def __init__(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        target: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.client = client
        self.target = target
        self.tasks: list[asyncio.Task[None]] = []

    def writers(self) -> Iterator[asyncio.StreamWriter]:
        yield self.client[1]
        yield self.target[1]

    def abort(self) -> None:
        for writer in self.writers():
            writer.transport.abort()
        self.silence()

    def silence(self) -> None:
        for task in self.tasks:
            task.cancel()


class TcpProxy:
    """Forwards TCP connections from 127.0.0.1:`port` to `target_host`:`target_port`.

    Args:
        target_host: Where to forward to.
        target_port: Its port.
        bandwidth_bytes_per_s: Each direction's bandwidth, shared by all
            connections (a link's capacity); None for no limit.
        delay_s: Added round-trip time: each direction delays data by half of it.
        port: Port to listen on; 0 picks a free one.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        bandwidth_bytes_per_s: float | None = None,
        delay_s: float = 0.0,
        port: int = 0,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.delay_s = delay_s
        self.port = port
        self.stats = ProxyStats()
        self._up = None if bandwidth_bytes_per_s is None else _Throttle(bandwidth_bytes_per_s)
        self._down = None if bandwidth_bytes_per_s is None else _Throttle(bandwidth_bytes_per_s)
        self._server: asyncio.Server | None = None
        self._pipes: set[_Pipe] = set()
        self._silenced: set[_Pipe] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @classmethod
    def for_url(
        cls, url: str, *, bandwidth_bytes_per_s: float | None = None, delay_s: float = 0.0
    ) -> TcpProxy:
        """Return a proxy to the host and port of an `amqp://` URL (not started yet)."""
        parts = urlsplit(url)
        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or 5672,
            bandwidth_bytes_per_s=bandwidth_bytes_per_s,
            delay_s=delay_s,
        )

    def url_for(self, url: str) -> str:
        """Return `url` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@127.0.0.1:{self.port}" if auth else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def connections(self) -> int:
        """Connections open through the proxy now."""
        return len(self._pipes)

    async def start(self) -> None:
        """Listen (again, on the same port after `pause`)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self, *, silent: bool = False) -> int:
        """Cut every open connection; return how many there were.

        Args:
            silent: Instead of resetting them, stop carrying their data and keep
                the sockets open, as a NAT or firewall that drops a link does:
                only a heartbeat timeout tells either side.
        """
        pipes, self._pipes = self._pipes, set()
        for pipe in pipes:
            if silent:
                self._silenced.add(pipe)
                pipe.silence()
            else:
                pipe.abort()
        self.stats.cut += len(pipes)
        return len(pipes)

    def pause(self) -> None:
        """Refuse new connections (the port stops listening); open ones stay."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def resume(self) -> None:
        """Accept new connections again, on the same port."""
        await self.start()

    async def close(self) -> None:
        """Stop listening and abort every connection."""
        self.pause()
        self.cut()
        silenced, self._silenced = self._silenced, set()
        for pipe in silenced:
            pipe.abort()
        # Handlers end by themselves once their pipes are aborted; cancelling them would
        # make asyncio's stream server log the cancellation as an error.
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=10)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            self.stats.refused += 1
            writer.transport.abort()
            return
        pipe = _Pipe((reader, writer), target)
        self._pipes.add(pipe)
        self.stats.accepted += 1
        pipe.tasks = [
            asyncio.create_task(self._forward(reader, target[1], self._up, upstream=True)),
            asyncio.create_task(self._forward(target[0], writer, self._down, upstream=False)),
        ]
        try:
            await asyncio.wait(pipe.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._pipes.discard(pipe)
            if pipe not in self._silenced:
                pipe.abort()
            await asyncio.gather(*pipe.tasks, return_exceptions=True)

    async def _forward(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        throttle: _Throttle | None,
        *,
        upstream: bool,
    ) -> None:
        if self.delay_s <= 0:
            await self._copy(source, sink, throttle, upstream=upstream)
            return
        # With a delay, reading and writing are apart so that data in flight is
        # delayed as a whole (a long link), not each chunk after the previous one.
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(_QUEUE_CHUNKS)
        writer = asyncio.create_task(self._delayed_writer(queue, sink, throttle, upstream=upstream))
        try:
            while data := await source.read(_READ_SIZE):
                await queue.put((time.monotonic() + self.delay_s / 2, data))
            await queue.put((0.0, b""))
            await writer
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _copy(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        throttle: _Throttle | None,
        *,
        upstream: bool,
    ) -> None:
        while data := await source.read(_READ_SIZE):
            await self._write(sink, data, throttle, upstream=upstream)
        with contextlib.suppress(OSError):
            sink.write_eof()

    async def _delayed_writer(
        self,
        queue: asyncio.Queue[tuple[float, bytes]],
        sink: asyncio.StreamWriter,
        throttle: _Throttle | None,
        *,
        upstream: bool,
    ) -> None:
        while True:
            due, data = await queue.get()
            if not data:
                with contextlib.suppress(OSError):
                    sink.write_eof()
                return
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._write(sink, data, throttle, upstream=upstream)

    async def _write(
        self,
        sink: asyncio.StreamWriter,
        data: bytes,
        throttle: _Throttle | None,
        *,
        upstream: bool,
    ) -> None:
        if throttle is not None:
            await throttle.take(len(data))
        if upstream and not self.stats.upstream_started:
            self.stats.upstream_started = time.monotonic()
        sink.write(data)
        await sink.drain()
        if upstream:
            self.stats.upstream_bytes += len(data)
            self.stats.upstream_ended = time.monotonic()
        else:
            self.stats.downstream_bytes += len(data)
