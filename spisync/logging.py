"""structlog set-up, one call per process.

JSON lines when the process runs under a service manager (or stdout is not a
terminal), readable coloured lines on a terminal. Context such as `ico`,
`spis_id` and `message_id` is bound with contextvars.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

__all__ = ["configure_logging"]


def _under_service_manager() -> bool:
    return "INVOCATION_ID" in os.environ or "JOURNAL_STREAM" in os.environ


def configure_logging(role: str, *, level: str = "info", json: bool | None = None) -> None:
    """Configure structlog for the process.

    Args:
        role: The role's name, bound to every line (`agent`, `hub`, `archive`).
        level: Minimum level name.
        json: Force JSON (True) or console (False); by default JSON under a
            service manager or when stdout is not a terminal.
    """
    if json is None:
        json = _under_service_manager() or not sys.stdout.isatty()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(role=role)
