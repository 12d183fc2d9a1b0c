"""Logging in and out, sessions, API tokens, CSRF and the role check.

A session is a random id in an HttpOnly, SameSite=Strict cookie (Secure over
HTTPS), stored only as its SHA-256 in the metadata store, so every hub process
accepts it. Every state-changing request with a session must carry the
session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`); a
request with `Authorization: Bearer TOKEN` carries no ambient credential and
needs none. Failed logins are counted per name and per address in the store;
past `login_max_failures` within `login_window_s` further attempts for that name
are refused, and past four times as many from one address, any attempt from it.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from hub import audit
from hub.console.accounts import allows, authenticate_token, hash_secret, verify_password
from hub.console.context import CONSOLE, PRINCIPAL, Principal
from protocol import utc_now

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from hub.console.context import Console
    from hub.store.console import Role

__all__ = [
    "ADDRESS_FACTOR",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "Refused",
    "auth_middleware",
    "check_csrf",
    "log_in",
    "log_out",
    "principal",
    "require",
    "set_session_cookie",
]

SESSION_COOKIE = "spisync_session"
LOGIN_CSRF_COOKIE = "spisync_login_csrf"
_PUBLIC = ("/login", "/static/", "/metrics", "/favicon.ico")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ADDRESS_FACTOR = 4
"""Failed logins from one address may be this many times `login_max_failures`."""


class Refused(Exception):  # noqa: N818 - a refusal is an outcome, not an error of ours
    """A request the console refuses: the status and a Czech message for the operator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def principal(request: web.Request) -> Principal:
    """Return the authenticated operator of `request` (set by `auth_middleware`)."""
    return request[PRINCIPAL]


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def _refusal(request: web.Request, status: int, message: str) -> web.Response:
    if _is_api(request):
        return web.json_response({"error": message}, status=status)
    console = request.app[CONSOLE]
    html = console.templates.get_template("error.html").render(
        status=status, message=message, user=request.get(PRINCIPAL)
    )
    return web.Response(text=html, status=status, content_type="text/html")


async def _identify(request: web.Request, console: Console) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        row = await authenticate_token(console.store, header.removeprefix("Bearer ").strip())
        return None if row is None else Principal(row.name, row.role, None, None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    id_hash = hash_secret(cookie)
    session = await console.store.operators.session(id_hash, utc_now())
    if session is None:
        return None
    return Principal(session.operator, session.role, session.csrf_token, id_hash)


def check_csrf(request: web.Request, who: Principal, form_token: str | None) -> bool:
    """Tell whether a state-changing request carries its session's CSRF token."""
    if who.csrf_token is None:
        return True
    given = request.headers.get("X-CSRF-Token") or form_token or ""
    return hmac.compare_digest(given.encode(), who.csrf_token.encode())


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Let public paths through; otherwise identify the operator, check CSRF, or refuse."""
    if request.path.startswith(_PUBLIC):
        return await handler(request)
    console = request.app[CONSOLE]
    who = await _identify(request, console)
    if who is None:
        if _is_api(request):
            return web.json_response(
                {"error": "přihlaste se (chybí platná relace nebo token)"}, status=401
            )
        raise web.HTTPFound(f"/login?next={request.path_qs}" if request.path != "/" else "/login")
    request[PRINCIPAL] = who
    if request.method in _UNSAFE:
        form_token = None
        if who.csrf_token is not None and request.content_type in {
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        }:
            form = await request.post()
            value = form.get("csrf_token")
            form_token = value if isinstance(value, str) else None
        if not check_csrf(request, who, form_token):
            await audit.record(
                console.store,
                who.name,
                "csrf_refused",
                None,
                f"{request.method} {request.path}",
                audit.RESULT_REFUSED,
            )
            return _refusal(request, 403, "požadavek odmítnut: chybí nebo nesouhlasí token CSRF")
    try:
        return await handler(request)
    except Refused as refused:
        return _refusal(request, refused.status, refused.message)


async def require(
    request: web.Request, needed: Role, action: str, ico: str | None, detail: str
) -> Principal:
    """Return the operator if their role allows `needed`; else audit and refuse (403)."""
    who = principal(request)
    if allows(who.role, needed):
        return who
    console = request.app[CONSOLE]
    await audit.record(console.store, who.name, action, ico, detail, audit.RESULT_REFUSED)
    raise Refused(
        403, f"k této akci nemáte oprávnění (potřebná role: {needed}, vaše role: {who.role})"
    )


def _address(request: web.Request) -> str:
    return request.remote or "unknown"


async def log_in(request: web.Request, name: str, password: str) -> tuple[str | None, str]:
    """Check a login; on success return a new session id, else None and a Czech reason."""
    console = request.app[CONSOLE]
    settings = console.settings
    store = console.store
    now = utc_now()
    since = now - timedelta(seconds=settings.login_window_s)
    limits = {
        f"name:{name}": settings.login_max_failures,
        # An address may be a proxy or an office NAT that many operators share:
        # it gets more tries, so one person's typos do not lock out the others.
        f"addr:{_address(request)}": settings.login_max_failures * ADDRESS_FACTOR,
    }
    subjects = tuple(limits)
    for subject, limit in limits.items():
        if await store.operators.login_failures(subject, since) >= limit:
            await audit.record(
                store,
                name or "?",
                "login",
                None,
                f"from {_address(request)}: throttled",
                audit.RESULT_REFUSED,
            )
            return None, "příliš mnoho neúspěšných pokusů, zkuste to později"
    row = await store.operators.operator(name)
    if not await verify_password(row, password):
        for subject in subjects:
            await store.operators.record_login_failure(subject, now)
        await audit.record(
            store,
            name or "?",
            "login",
            None,
            f"from {_address(request)}: wrong name or password",
            audit.RESULT_REFUSED,
        )
        return None, "neplatné jméno nebo heslo"
    session_id = secrets.token_urlsafe(32)
    await store.operators.create_session(
        hash_secret(session_id),
        name,
        secrets.token_urlsafe(32),
        now + timedelta(seconds=settings.session_ttl_s),
    )
    await store.operators.clear_login_failures(f"name:{name}")
    await audit.record(store, name, "login", None, f"from {_address(request)}", audit.RESULT_OK)
    return session_id, ""


async def log_out(request: web.Request) -> None:
    """End the request's session and audit it."""
    who = principal(request)
    console = request.app[CONSOLE]
    if who.session_hash is not None:
        await console.store.operators.delete_session(who.session_hash)
    await audit.record(console.store, who.name, "logout", None, "", audit.RESULT_OK)


def set_session_cookie(response: web.StreamResponse, console: Console, session_id: str) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    settings = console.settings
    secure = settings.secure_cookies if settings.secure_cookies is not None else settings.https
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(settings.session_ttl_s),
        httponly=True,
        samesite="Strict",
        secure=secure,
        path="/",
    )
