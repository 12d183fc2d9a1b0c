"""Running a role's main coroutine on the fastest event loop available, as a service.

uvloop (libuv) runs the same asyncio code with a much cheaper loop; profiling
the initial sync showed the standard loop's own bookkeeping among the largest
costs of agent and hub, and uvloop moved the whole sync ~17 % faster. Where it
is not installed (it does not exist for Windows) the standard loop is used.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

from spisync.platform import install_shutdown_handlers
from spisync.systemd import notifier, watchdog

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

__all__ = ["run_main", "run_service"]

_T = TypeVar("_T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415 - optional: absent on Windows
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_main(main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` to completion on a new event loop, like `asyncio.run`."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


async def run_service(service: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """Run a role's service until a shutdown signal, telling systemd how it goes.

    SIGTERM and SIGINT (and SIGBREAK on Windows) set the event the service
    drains on, after `STOPPING=1`; the systemd watchdog is pinged from this
    loop while the service runs. The service itself says `READY=1` once its
    first broker session is up (`spisync.systemd.notifier().ready`).
    """
    stop = asyncio.Event()
    sd = notifier()
    undo = install_shutdown_handlers(asyncio.get_running_loop(), stop, on_signal=sd.stopping)
    try:
        async with watchdog(sd):
            await service(stop)
    finally:
        undo()
