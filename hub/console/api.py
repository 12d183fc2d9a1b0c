"""The JSON API under `/api/v1/`: the same data as the pages (README: "The operator console")."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

from hub.console import views
from hub.console.auth import Refused
from hub.console.context import CONSOLE
from hub.console.lookup import dead_letter_or_404, obec_or_404

if TYPE_CHECKING:
    from hub.console.context import Console

__all__ = ["add_routes"]


def _json(data: object) -> web.Response:
    # msgspec encodes the overview of a thousand obce several times faster than json.dumps.
    return web.Response(body=msgspec.json.encode(data), content_type="application/json")


def _int(request: web.Request, key: str, default: int, *, most: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    if not raw.isdigit():
        raise Refused(400, f"parametr {key} musí být nezáporné celé číslo, ne {raw!r}")
    return min(int(raw), most)


async def obce(request: web.Request) -> web.Response:
    """`GET /api/v1/obce`: every obec's overview row; `?q=`, `?status=`, `?sort=` as on the page."""
    console: Console = request.app[CONSOLE]
    rows, broker = await views.overview_rows(
        console.config, console.store, console.broker, console.obce
    )
    shown = views.sort_rows(
        rows,
        sort=request.query.get("sort", "status"),
        query=request.query.get("q", ""),
        status=request.query.get("status", ""),
    )
    return _json({"broker_available": broker.available, "count": len(shown), "obce": shown})


async def obec(request: web.Request) -> web.Response:
    """`GET /api/v1/obce/{ico}`: the obec's row with SIPs, dead letters and recent events."""
    detail = await obec_or_404(request)
    detail.pop("spisy_list", None)
    return _json(detail)


async def files(request: web.Request) -> web.Response:
    """`GET /api/v1/obce/{ico}/files?q=&limit=&offset=`: current files with their versions."""
    console: Console = request.app[CONSOLE]
    await obec_or_404(request)
    page = await views.files_page(
        console.store,
        request.match_info["ico"],
        query=request.query.get("q", ""),
        limit=_int(request, "limit", 200, most=5000),
        offset=_int(request, "offset", 0, most=10**9),
    )
    return _json(page)


async def spisy(request: web.Request) -> web.Response:
    """`GET /api/v1/obce/{ico}/spisy`: spisy with hub state, missing komponenty and SIP receipts."""
    detail = await obec_or_404(request)
    return _json({"ico": detail["ico"], "spisy": detail["spisy_list"]})


async def dead_letters(request: web.Request) -> web.Response:
    """`GET /api/v1/dead-letters?security=0|1&history=1`: dead letters and security events."""
    store = request.app[CONSOLE].store
    flag = request.query.get("security")
    security = None if flag is None else flag in {"1", "true"}
    rows = await views.dead_letter_rows(
        store, security=security, history=request.query.get("history") in {"1", "true"}
    )
    return _json({"count": len(rows), "dead_letters": rows})


async def dead_letter(request: web.Request) -> web.Response:
    """`GET /api/v1/dead-letters/{id}`: one dead letter with headers and a body preview."""
    return _json(views.dead_letter_detail(await dead_letter_or_404(request)))


async def audit_log(request: web.Request) -> web.Response:
    """`GET /api/v1/audit?ico=&limit=`: audit entries, newest first."""
    store = request.app[CONSOLE].store
    rows = await views.audit_rows(
        store, ico=request.query.get("ico"), limit=_int(request, "limit", 200, most=10_000)
    )
    return _json({"count": len(rows), "audit": rows})


def add_routes(app: web.Application) -> None:
    """Register the API's GET endpoints (the POST ones live with the actions)."""
    app.router.add_get("/api/v1/obce", obce)
    app.router.add_get("/api/v1/obce/{ico}", obec)
    app.router.add_get("/api/v1/obce/{ico}/files", files)
    app.router.add_get("/api/v1/obce/{ico}/spisy", spisy)
    app.router.add_get("/api/v1/dead-letters", dead_letters)
    app.router.add_get("/api/v1/dead-letters/{id}", dead_letter)
    app.router.add_get("/api/v1/audit", audit_log)
