"""The protocol package does no I/O: importing it loads no network, storage or event-loop library."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("aio_pika", "aiormq", "aiosqlite", "aiobotocore", "watchfiles", "asyncio")


def test_importing_protocol_loads_no_io_library() -> None:
    """A fresh interpreter that imports protocol (and every submodule) has none of the I/O modules loaded."""
    code = (
        "import sys, pkgutil, importlib, protocol\n"
        "for m in pkgutil.walk_packages(protocol.__path__, 'protocol.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(','.join(sorted(n for n in {FORBIDDEN!r} if n in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
