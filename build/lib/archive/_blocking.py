"""Running blocking file work (fsync, hashing, validation) off the event loop.

`asyncio.to_thread` uses the default executor, which `asyncio.run` joins at
exit: a large SIP half-way through validation would then hold up a SIGTERM far
beyond the shutdown bound. A daemon thread per call is abandoned instead; that
is safe here because every file step is atomic (temporary file, fsync, rename or
link) and every index change one SQLite transaction, exactly as after `kill -9`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["run_blocking"]

P = ParamSpec("P")
R = TypeVar("R")


def _settle(future: asyncio.Future[R], result: R | None, error: BaseException | None) -> None:
    if future.done():  # The awaiting task was cancelled meanwhile.
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


async def run_blocking(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `func(*args, **kwargs)` in a daemon thread and await its result.

    The caller's contextvars (structlog's bound context) travel with it.
    Cancelling the awaiting task does not stop the thread; it finishes, or dies
    with the process.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[R] = loop.create_future()
    context = contextvars.copy_context()

    def target() -> None:
        result: R | None = None
        error: BaseException | None = None
        try:
            result = context.run(func, *args, **kwargs)
        except BaseException as exc:  # Handed to the awaiting task as it is.
            error = exc
        # The loop may be closed when an abandoned thread finishes during exit.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, result, error)

    threading.Thread(target=target, name=f"archive-{func.__name__}", daemon=True).start()
    return await future
