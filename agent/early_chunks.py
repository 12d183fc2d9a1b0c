"""A new large file's chunks sent while it is hashed, before its version is recorded.

A version is recorded only with its hashes, so a new file used to be read
twice before its last chunk left, once to hash it and once to send it, with
nothing on the wire during the first read (for 1 GiB about 2 s of a 9 s
transfer here). Now each chunk of a new file of several chunks is offered to
the publisher as soon as it is hashed. It names its transfer (the message id
the version's manifest will carry, `ChunkMeta.transfer`), since the whole
file's hash is not known yet. Once the version is recorded its row is sent as
any other, passing over the chunks the broker has confirmed or has in flight.

Nothing can be announced as a mix: a chunk sent here is the very bytes hashed
into the version, and a file that changed while it was read records no
version (its chunks stay unreferenced at the hub until collected). Hashing is
never held up for long: a chunk waits for a slot in the publisher's window at
most `OFFER_WAIT_S`; past that (a slow link) the rest of the file is only
hashed and goes later by its row, as before. A file whose first chunk begins
a file already indexed is not offered either: a copy or a rename most likely,
whose content the hub may hold already (its row then sends a manifest alone).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from agent.hasher import ChunkSink

__all__ = ["OFFER_WAIT_S", "EarlyChunks", "EarlySender", "offer_from_thread"]

OFFER_WAIT_S = 0.25
"""Longest a hashed chunk waits for a window slot; a link slower than about 4 MiB/s
(one default chunk per 0.25 s) gets the rest of the file by its row."""

_OFFER_TIMEOUT_S = 30.0
"""Bound on the hashing thread's wait for the event loop (a stalled or closing loop)."""


class EarlySender(Protocol):
    """What sends chunks of files still being hashed (the publisher)."""

    async def send_early(self, transfer: str, index: int, data: bytes, sha256: str) -> bool:
        """Publish a chunk of `transfer`; False if not sent (then offer no more of it)."""
        ...

    def discard_early(self, transfer: str) -> None:
        """Forget a transfer whose version was not recorded."""
        ...


Publish = asyncio.Task[None]
"""A chunk's publish, done once the broker confirmed or refused it."""

_KEEP_TRANSFERS = 4096
"""Transfers sent early and not yet taken by their row; past this the oldest is
forgotten (its row then sends its chunks again). A first scan hashes a whole batch
of files before it records any, and a long outbox may be ahead of their rows: a
transfer keeps only the indexes of its confirmed chunks and its publishes still in
flight (a window's worth at most), a few hundred bytes."""


@dataclass
class _Transfer:
    session: object  # an unsettled publish of an earlier session proves nothing
    confirmed: set[int] = field(default_factory=set)
    in_flight: dict[int, Publish] = field(default_factory=dict)

    def settle(self, index: int, task: Publish) -> None:
        """Keep the index of a confirmed publish; forget a failed one (its row sends it)."""
        self.in_flight.pop(index, None)
        if not task.cancelled() and task.exception() is None:
            self.confirmed.add(index)


class EarlyChunks:
    """Chunks sent while their file was hashed, by transfer, until its row takes them."""

    def __init__(self) -> None:
        self._transfers: dict[str, _Transfer] = {}

    def add(self, transfer: str, session: object, index: int, task: Publish) -> None:
        """Remember chunk `index` of `transfer`, published on `session` by `task`."""
        entry = self._transfers.setdefault(transfer, _Transfer(session))
        entry.in_flight[index] = task
        task.add_done_callback(functools.partial(entry.settle, index))
        while len(self._transfers) > _KEEP_TRANSFERS:
            del self._transfers[next(iter(self._transfers))]

    def discard(self, transfer: str) -> None:
        """Forget `transfer` (its version was not recorded)."""
        self._transfers.pop(transfer, None)

    def take(self, transfer: str, session: object) -> tuple[set[int], dict[int, Publish]]:
        """Forget `transfer`; return its chunks confirmed, and the publishes in flight on `session`.

        Any other chunk of it (refused, or in flight on an earlier session) is to be
        sent again.
        """
        taken = self._transfers.pop(transfer, None)
        if taken is None:
            return set(), {}
        confirmed = set(taken.confirmed)
        in_flight: dict[int, Publish] = {}
        for index, task in taken.in_flight.items():
            if not task.done():
                if taken.session is session:
                    in_flight[index] = task
            elif not task.cancelled() and task.exception() is None:
                confirmed.add(index)  # done, its callback not run yet
        return confirmed, in_flight


def offer_from_thread(
    send: Callable[[int, bytes, str], Coroutine[Any, Any, bool]], loop: asyncio.AbstractEventLoop
) -> ChunkSink:
    """A `ChunkSink` for the hashing thread that awaits `send(index, data, sha256)` on `loop`."""

    def offer(index: int, data: bytes, sha256: str) -> bool:
        future = asyncio.run_coroutine_threadsafe(send(index, data, sha256), loop)
        try:
            return future.result(timeout=_OFFER_TIMEOUT_S)
        except (Exception, concurrent.futures.CancelledError):
            # The loop is closing or stalled, or the send failed: hash on; the row sends it.
            future.cancel()
            return False

    return offer
