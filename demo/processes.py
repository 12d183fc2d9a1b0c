"""Starting and stopping the network's services as real processes, each with its log file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Services", "spisync_command"]


def spisync_command() -> list[str]:
    """The command that runs `spisync` with this interpreter."""
    return [sys.executable, "-m", "spisync.cli"]


@dataclass
class Services:
    """The processes the demo started, so that they all stop at the end."""

    log_dir: Path
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self, name: str, *args: str) -> None:
        """Start `spisync <args>` as `name`, logging to `<log_dir>/<name>.log`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.processes[name] = await asyncio.create_subprocess_exec(
            *spisync_command(), *args, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env
        )
        log.close()

    def failed(self) -> list[str]:
        """Names of services that exited on their own."""
        return [name for name, proc in self.processes.items() if proc.returncode is not None]

    async def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM every service, wait up to `grace_s`, then kill what is left."""
        for proc in self.processes.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
