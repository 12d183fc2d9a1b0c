"""Small files' bytes, kept from when they were hashed until their bundle is sent.

A first sync read and hashed every small file twice: once to record its
version, and again at send time to prove the bytes sent are that version.
Bytes kept from the first read are that version by construction (they are
what was hashed), so the publisher sends them as they are and reads the
file again only when they were not kept. A file changed since is sent as
the version recorded, never as a mix; the watcher records its new version
after it, as it would for a change made a moment after the send.

Memory is bounded: bytes beyond `max_bytes` are not kept (the publisher sends
in recording order, so the oldest are the ones it needs next), and whatever
was never taken is dropped when the publisher goes idle.

The block signatures of files whose next version may go as a delta
(`agent.deltas`) wait here the same way, for any file of up to 16 MiB: taken
when the hasher read every byte, they are remembered once their version is
sent, even for chunks the publisher does not read again.
"""

from __future__ import annotations

__all__ = ["KeptContent"]

_MAX_BYTES = 32 * 1024 * 1024
_MAX_SIGNATURE_BYTES = 16 * 1024 * 1024  # the signatures of about 16 GiB of files

Key = tuple[str, str, str]
"""`(folder key, path on disk, sha256)` of a recorded version."""


class _Bounded:
    """Bytes by key, at most `max_bytes` of them; what does not fit is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._kept: dict[Key, bytes] = {}

    def keep(self, key: Key, data: bytes) -> None:
        if key in self._kept or self._bytes + len(data) > self._max_bytes:
            return
        self._kept[key] = data
        self._bytes += len(data)

    def take(self, key: Key) -> bytes | None:
        data = self._kept.pop(key, None)
        if data is not None:
            self._bytes -= len(data)
        return data

    def clear(self) -> None:
        self._kept.clear()
        self._bytes = 0


class KeptContent:
    """What hashing read of recorded versions waiting to be sent.

    The bytes of small files (at most `max_bytes`) and block signatures.
    """

    def __init__(self, max_bytes: int = _MAX_BYTES) -> None:
        self._content = _Bounded(max_bytes)
        self._signatures = _Bounded(_MAX_SIGNATURE_BYTES)

    def keep(self, key: Key, data: bytes) -> None:
        """Keep the bytes of a version just recorded, if there is room."""
        self._content.keep(key, data)

    def take(self, key: Key) -> bytes | None:
        """Return and forget the bytes kept for a version, or None."""
        return self._content.take(key)

    def keep_read(self, key: Key, content: bytes | None, blocks: bytes | None) -> None:
        """Keep what hashing read of a version just recorded: its bytes, its signature."""
        if content is not None:
            self._content.keep(key, content)
        if blocks is not None:
            self._signatures.keep(key, blocks)

    def take_signature(self, key: Key) -> bytes | None:
        """Return and forget the block signature kept for a version, or None."""
        return self._signatures.take(key)

    def clear(self) -> None:
        """Forget everything (versions superseded or sent another way)."""
        self._content.clear()
        self._signatures.clear()
