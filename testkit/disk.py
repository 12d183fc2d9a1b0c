"""A small real filesystem a test or benchmark can fill: a full disk without filling the machine's.

with SmallDisk(tmp_path / "disk", size_mib=16) as disk:   # a tmpfs, mounted (needs root)
disk.fill()   # zeros until ENOSPC
disk.free()   # the space back
"""

from __future__ import annotations

import errno
import subprocess
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SmallDisk", "fill_disk"]


class SmallDisk:
    """A real small filesystem (tmpfs, mounted as root) a scenario can fill and free."""

    def __init__(self, mount: Path, size_mib: int = 16) -> None:
        self.mount = mount
        self.size_mib = size_mib
        self.ballast = mount / "ballast"

    def __enter__(self) -> Self:
        self.mount.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mib}m", "tmpfs", str(self.mount)],
            check=True,
        )
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.run(["umount", "-l", str(self.mount)], check=False)

    def fill(self) -> None:
        """Write zeros until the filesystem is full."""
        fill_disk(self.ballast)

    def free(self) -> None:
        """Give the space back."""
        self.ballast.unlink(missing_ok=True)


def fill_disk(ballast: Path) -> None:
    """Write zeros into `ballast` until its filesystem has no byte left."""
    block = b"\0" * 65536
    with ballast.open("ab", buffering=0) as out:
        for size in (65536, 1):
            chunk = block[:size]
            try:
                while True:
                    out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
