"""structlog set-up, one call per process; every library's logging goes the same way.

JSON lines when the process runs under a service manager (systemd sets
`JOURNAL_STREAM` or `INVOCATION_ID`) or stdout is not a terminal, readable
coloured lines on a terminal; Czech text is written as it is, not escaped.
The standard library's loggers (aiormq, aio_pika, asyncio, aiosqlite, ...) and
`warnings` are rendered by the same processors through structlog's
`ProcessorFormatter`, so a library line is a JSON line like ours. An event with
an exception becomes one line with `error`, and `problem` and `fix` where the
failure is known (`spisync.failures`); the traceback is added only at debug.
Context such as `ico`, `spis_id` and `message_id` is bound with contextvars.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from spisync.failures import explain_log_event

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["add_log_sink", "configure_logging"]


def _under_service_manager() -> bool:
    return "INVOCATION_ID" in os.environ or "JOURNAL_STREAM" in os.environ


class _Handler(logging.StreamHandler[TextIO]):
    """Writes to `stream`, or to whatever `sys.stdout` is at the time of each line."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._fixed = value


def _drop_traceback(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("exc_info", None)
    event_dict.pop("stack_info", None)
    return event_dict


def configure_logging(
    role: str,
    *,
    level: str = "info",
    json: bool | None = None,
    stream: TextIO | None = None,
    cache: bool = False,
) -> None:
    """Configure structlog and the standard library's logging for the process.

    Args:
        role: The role's name, bound to every line (`agent`, `hub`, `archive`).
        level: Minimum level name; `debug` also shows tracebacks.
        json: Force JSON (True) or console (False); by default JSON under a
            service manager or when the output is not a terminal.
        stream: Where lines go; by default the current `sys.stdout`.
        cache: Let each logger keep this configuration from its first use: a
            filtered-out call then costs about 1 µs instead of 14 (measured). For a
            service's final configuration (`run`); without it a later
            `configure_logging` (or a test's) reaches every logger.
    """
    output = stream if stream is not None else sys.stdout
    if json is None:
        json = _under_service_manager() or not output.isatty()
    level_no = logging.getLevelNamesMapping()[level.upper()]
    debug = level_no <= logging.DEBUG
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=output.isatty())
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if debug and json:
        final.append(structlog.processors.format_exc_info)
    elif not debug:
        final.append(_drop_traceback)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        cache_logger_on_first_use=cache,
    )
    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            pass_foreign_args=True,
            processors=[explain_log_event, *final, renderer],
        )
    )
    handler.set_name("spisync")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "spisync"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level_no)
    logging.captureWarnings(capture=True)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(role=role)


def add_log_sink(sink: Callable[[MutableMapping[str, Any]], None]) -> Callable[[], None]:
    """Also hand every event logged through structlog to `sink`; return a remover.

    The agent keeps its own log file this way (for the helpdesk's `logs` verb)
    without changing how its output is rendered. The sink sits just before the
    last processor of the current configuration (the renderer, or the hand-over
    to the standard library's formatter); structlog's loggers share that list,
    so loggers cached before the call see it too.
    """

    def tee(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        sink(event_dict)
        return event_dict

    processors: list[Any] = structlog.get_config()["processors"]
    processors.insert(max(0, len(processors) - 1), tee)

    def remove() -> None:
        if tee in processors:
            processors.remove(tee)

    return remove
