"""The console's aiohttp application and its server: `serve(config, store, shutdown)`."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import structlog
from aiohttp import web

from hub.console import actions, api, labels, pages
from hub.console.auth import auth_middleware
from hub.console.broker import BrokerView
from hub.console.context import CONSOLE, Console
from hub.console.deadletters import DeadLetterDesk
from hub.console.metrics import metrics_handler
from hub.console.views import ObceRegistry
from hub.diagnostics import STATE_NAMES

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.store.metadata import MetadataStore

__all__ = ["build_app", "make_console", "serve"]

log = structlog.get_logger(__name__)

_HERE = Path(__file__).resolve().parent
_LISTEN_RETRY_S = 10.0


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    env.filters["size"] = labels.format_size
    env.filters["age"] = labels.format_age
    env.filters["when"] = labels.format_when
    env.globals.update(
        status_names=labels.STATUS_NAMES,
        role_names=labels.ROLE_NAMES,
        hub_state_names=labels.HUB_STATE_NAMES,
        sip_state_names=labels.SIP_STATE_NAMES,
        letter_state_names=labels.LETTER_STATE_NAMES,
        action_names=labels.ACTION_NAMES,
        result_names=labels.RESULT_NAMES,
        sort_names=labels.SORT_NAMES,
        diag_state_names=STATE_NAMES,
    )
    return env


def make_console(config: HubConfig, store: MetadataStore, *, instance: str) -> Console:
    """Assemble the console's parts for `config` on `store`."""
    return Console(
        config=config,
        store=store,
        broker=BrokerView(config.broker),
        obce=ObceRegistry(config),
        desk=DeadLetterDesk(config, store, instance=instance),
        templates=_templates(),
        instance=instance,
    )


async def _security_headers(_: web.Request, response: web.StreamResponse) -> None:
    # Nothing is loaded from elsewhere; pages may not be framed by another site.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")


async def _no_icon(_: web.Request) -> web.Response:
    return web.Response(status=204)


def build_app(console: Console) -> web.Application:
    """Return the console's web application (pages, `/api/v1/`, `/metrics`, static files)."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=1024 * 1024)
    app[CONSOLE] = console
    app.on_response_prepare.append(_security_headers)
    pages.add_routes(app)
    actions.add_routes(app)
    api.add_routes(app)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_static("/static/", _HERE / "static", append_version=False)
    return app


def _ssl_context(console: Console) -> ssl.SSLContext | None:
    settings = console.settings
    if settings.cert_file is None or settings.key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.cert_file, settings.key_file)
    return context


async def serve(
    config: HubConfig, store: MetadataStore, shutdown: asyncio.Event, *, instance: str
) -> None:
    """Serve the console until `shutdown` is set; keep dead letters meanwhile."""
    console = make_console(config, store, instance=instance)
    runner = web.AppRunner(build_app(console), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_listen(runner, console, shutdown))
            group.create_task(console.desk.run(shutdown))
    finally:
        await runner.cleanup()
        log.info("console_stopped")


async def _listen(runner: web.AppRunner, console: Console, shutdown: asyncio.Event) -> None:
    """Start listening; while the address cannot be had, say so and try again.

    The hub's ingest matters more than its console: a port taken by another
    program must not stop the obce's changes from being stored.
    """
    settings = console.settings
    while not shutdown.is_set():
        site = web.TCPSite(
            runner, settings.host or None, settings.port, ssl_context=_ssl_context(console)
        )
        try:
            await site.start()
        except OSError as exc:
            log.error(
                "console_listen_failed",
                listen=settings.listen,
                error=exc.strerror or str(exc),
                fix="free the port or change [console] listen in HUB.toml",
                retry_in_s=_LISTEN_RETRY_S,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.wait(), _LISTEN_RETRY_S)
            continue
        log.info("console_listening", url=settings.url, listen=settings.listen)
        return
