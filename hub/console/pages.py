"""The console's HTML pages (GET) and logging in and out."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.console import views
from hub.console.accounts import allows
from hub.console.actions import agent_actions_available
from hub.console.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    log_in,
    log_out,
    principal,
    set_session_cookie,
)
from hub.console.context import CONSOLE, PRINCIPAL
from hub.console.lookup import dead_letter_or_404, obec_or_404

if TYPE_CHECKING:
    from hub.console.context import Console

__all__ = ["add_routes", "render"]


def render(
    request: web.Request, template: str, *, http_status: int = 200, **context: Any
) -> web.Response:
    """Render `template` with the operator, the flash message and `context`."""
    console: Console = request.app[CONSOLE]
    flash = request.query.get("zprava")
    html = console.templates.get_template(template).render(
        user=request.get(PRINCIPAL),
        flash=flash,
        flash_kind=request.query.get("druh", "info"),
        **context,
    )
    return web.Response(text=html, status=http_status, content_type="text/html")


def _safe_next(target: str) -> str:
    # Only a path on this console: never an absolute or protocol-relative URL.
    # "/\\host" counts as "//host" in browsers.
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


async def login_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    """Show the login form with its login CSRF token (double-submit cookie).

    The token is kept while its cookie lives: a second load of the page (another
    tab, a browser fetching something in the background) must not invalidate
    the form already shown.
    """
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        http_status=status,
        login_csrf=token,
        next=_safe_next(request.query.get("next", "/")),
        error=error,
        name=None,
    )
    console: Console = request.app[CONSOLE]
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=bool(console.settings.secure_cookies or console.settings.https),
        path="/login",
    )
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check the login form; start a session and go where the operator wanted to go."""
    form = await request.post()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = str(form.get("csrf_token", ""))
    if not expected or not secrets.compare_digest(expected, given):
        return await login_page(request, error="formulář vypršel, přihlaste se znovu", status=403)
    session_id, error = await log_in(
        request, str(form.get("name", "")), str(form.get("password", ""))
    )
    if session_id is None:
        status = 429 if "pokusů" in error else 401
        return await login_page(request, error=error, status=status)
    response = web.HTTPFound(_safe_next(str(form.get("next", "/"))))
    set_session_cookie(response, request.app[CONSOLE], session_id)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    await log_out(request)
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"total": len(rows), "ok": 0, "warning": 0, "error": 0, "revoked": 0}
    for row in rows:
        counts[row["status"]] += 1
    return counts


async def overview(request: web.Request) -> web.Response:
    """The overview of every obec; `?partial=rows` returns only the table's rows (live refresh)."""
    console: Console = request.app[CONSOLE]
    rows, broker = await views.overview_rows(
        console.config, console.store, console.broker, console.obce
    )
    q, status, sort = (request.query.get(k, "") for k in ("q", "status", "sort"))
    shown = views.sort_rows(rows, sort=sort or "status", query=q, status=status)
    if request.query.get("partial") == "rows":
        return render(request, "_rows.html", rows=shown)
    settings = console.settings
    return render(
        request,
        "overview.html",
        page="overview",
        rows=shown,
        counts=_counts(rows),
        broker=broker,
        q=q,
        status=status,
        sort=sort or "status",
        refresh_s=settings.refresh_s,
        refresh_ms=int(settings.refresh_s * 1000),
        thresholds=settings,
        can_admin=allows(principal(request).role, "admin"),
    )


async def obec(request: web.Request) -> web.Response:
    """One obec: agent, spisy, SIPs, files, dead letters, recent events."""
    console: Console = request.app[CONSOLE]
    detail = await obec_or_404(request)
    files = await views.files_page(
        console.store, request.match_info["ico"], query=request.query.get("q", "")
    )
    role = principal(request).role
    return render(
        request,
        "obec.html",
        page="obec",
        o=detail,
        files=files,
        can_admin=allows(role, "admin"),
        can_operate=allows(role, "operator"),
        agent_actions=agent_actions_available(),
    )


async def dead_letters(request: web.Request) -> web.Response:
    """Dead letters and security events, apart."""
    store = request.app[CONSOLE].store
    history = bool(request.query.get("history"))
    return render(
        request,
        "dead_letters.html",
        page="dead",
        history=history,
        can_operate=allows(principal(request).role, "operator"),
        letters=await views.dead_letter_rows(store, security=False, history=history),
        security=await views.dead_letter_rows(store, security=True, history=history),
    )


async def dead_letter(request: web.Request) -> web.Response:
    """One dead letter: headers, properties and a body preview."""
    letter = await dead_letter_or_404(request)
    return render(
        request,
        "dead_letter.html",
        page="dead",
        d=views.dead_letter_detail(letter),
        can_operate=allows(principal(request).role, "operator"),
        preview_bytes=views.BODY_PREVIEW,
    )


async def audit_page(request: web.Request) -> web.Response:
    """The audit log, newest first."""
    store = request.app[CONSOLE].store
    return render(
        request, "audit.html", page="audit", entries=await views.audit_rows(store, limit=500)
    )


def add_routes(app: web.Application) -> None:
    """Register the pages."""
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", overview)
    app.router.add_get("/obce/{ico}", obec)
    app.router.add_get("/dead-letters", dead_letters)
    app.router.add_get("/dead-letters/{id}", dead_letter)
    app.router.add_get("/audit", audit_page)
