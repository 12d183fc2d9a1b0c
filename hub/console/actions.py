"""What the console changes (POST): dead letters, provisioning, and actions at agents.

Every action checks the role, runs, and is recorded in the audit log with
its result. Provision, rotate and revoke reuse `hub.provision`, exactly
what `spisync hub provision-agent` runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from hub import audit, diagnostics
from hub.console.auth import Refused, require
from hub.console.context import CONSOLE
from hub.console.lookup import letter_id_or_404
from hub.provision import provision_agent, revoke_agent
from protocol import DiagnosticArgs, ProtocolError, validate_ico
from spisync.errors import SpisyncError

if TYPE_CHECKING:
    from hub.console.context import Console
    from hub.console.deadletters import ReplayOutcome

__all__ = [
    "add_routes",
    "agent_actions_available",
    "allow_deletions",
    "provision",
    "rescan",
    "revoke",
]


def agent_actions_available() -> bool:
    """Tell whether rescan and allow-deletions can reach agents from the console.

    They travel through the agent's inbox as helpdesk diagnostics requests
    (`hub.diagnostics.submit`), which the agent runs and answers.
    """
    return True


async def _agent_request(request: web.Request, verb: str) -> web.StreamResponse:
    """Send `verb` to the obec's agent through its inbox (operator or admin)."""
    console: Console = request.app[CONSOLE]
    ico = request.match_info["ico"]
    form = await _form(request)
    folder = form.get("folder", "").strip() or None
    action = "agent_rescan" if verb == "rescan" else "agent_allow_deletions"
    who = await require(request, "operator", action, ico, folder or "")
    if ico not in await console.obce.records():
        raise Refused(404, f"obec {ico} není zřízena")
    try:
        row = await diagnostics.submit(
            console.config,
            console.store,
            ico=ico,
            verb=verb,
            args=DiagnosticArgs(folder=folder),
            operator=who.name,
        )
    except diagnostics.DiagnosticsRequestError as exc:
        raise Refused(400, f"požadavek nelze odeslat: {exc}") from None
    ok = row.state != "failed"
    message = (
        f"požadavek {row.id} odeslán agentovi (sledujte jej: spisync hub diag --show {row.id})"
        if ok
        else f"požadavek {row.id} se nepodařilo odeslat: {row.error}"
    )
    if request.path.startswith("/api/"):
        return web.json_response(
            {"ok": ok, "request_id": row.id, "state": row.state, "message": message},
            status=200 if ok else 502,
        )
    raise _back(f"/obce/{ico}", message, ok=ok)


async def rescan(request: web.Request) -> web.StreamResponse:
    """Ask the obec's agent to rescan its folders (`folder`: only that one)."""
    return await _agent_request(request, "rescan")


async def allow_deletions(request: web.Request) -> web.StreamResponse:
    """Let one paused mass deletion through at the obec's agent (`folder` required)."""
    return await _agent_request(request, "allow-deletions")


def _back(target: str, message: str, *, ok: bool) -> web.HTTPFound:
    query = urlencode({"zprava": message, "druh": "ok" if ok else "error"})
    return web.HTTPFound(f"{target}?{query}")


async def _letter_ico(console: Console, letter_id: int) -> str | None:
    letter = await console.store.dead_letters.get(letter_id)
    return letter.letter.ico if letter else None


async def replay(request: web.Request) -> web.StreamResponse:
    """Replay one dead letter to its original queue (operator or admin)."""
    console: Console = request.app[CONSOLE]
    letter_id = letter_id_or_404(request)
    ico = await _letter_ico(console, letter_id)
    who = await require(request, "operator", "dead_letter_replay", ico, f"dead letter {letter_id}")
    outcome = await console.desk.replay(letter_id, who.name)
    return _settled(request, outcome)


async def discard(request: web.Request) -> web.StreamResponse:
    """Discard one dead letter (operator or admin)."""
    console: Console = request.app[CONSOLE]
    letter_id = letter_id_or_404(request)
    ico = await _letter_ico(console, letter_id)
    who = await require(request, "operator", "dead_letter_discard", ico, f"dead letter {letter_id}")
    outcome = await console.desk.discard(letter_id, who.name)
    return _settled(request, outcome)


def _settled(request: web.Request, outcome: ReplayOutcome) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        return web.json_response(
            {"ok": outcome.ok, "message": outcome.message}, status=200 if outcome.ok else 409
        )
    raise _back("/dead-letters", outcome.message, ok=outcome.ok)


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        body = await request.json()
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    return {k: str(v) for k, v in (await request.post()).items()}


def _download(ico: str, text: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="application/toml",
        headers={
            "Content-Disposition": f'attachment; filename="AGENT-{ico}.toml"',
            "Cache-Control": "no-store",
        },
    )


async def _provision(console: Console, ico: str, name: str, *, rotate: bool) -> str:
    """Run `provision_agent` into a private temporary file and return the AGENT.toml text."""
    with tempfile.TemporaryDirectory(prefix="spisync-provision-") as folder:
        out = Path(folder) / "AGENT.toml"
        await provision_agent(console.config, ico=ico, name=name, out=out, rotate_password=rotate)
        return out.read_text(encoding="utf-8")


async def provision(request: web.Request) -> web.StreamResponse:
    """Provision a new obec (admin); the AGENT.toml is the response, offered once."""
    console: Console = request.app[CONSOLE]
    form = await _form(request)
    ico, name = form.get("ico", "").strip(), form.get("name", "").strip()
    who = await require(request, "admin", "obec_provision", ico or None, name)
    try:
        validate_ico(ico)
        if ico in await console.obce.records():
            raise Refused(409, f"obec {ico} už je zřízena; nové heslo vydá akce na její stránce")
        text = await _provision(console, ico, name, rotate=False)
    except (SpisyncError, ProtocolError) as exc:
        await audit.record(
            console.store, who.name, "obec_provision", ico, name, audit.error_result(str(exc))
        )
        raise Refused(400, f"obec nelze zřídit: {exc}") from None
    await audit.record(console.store, who.name, "obec_provision", ico, name, audit.RESULT_OK)
    return _download(ico, text)


async def rotate(request: web.Request) -> web.StreamResponse:
    """Issue a new broker password for an obec (admin); the new AGENT.toml is the response."""
    console: Console = request.app[CONSOLE]
    ico = request.match_info["ico"]
    who = await require(request, "admin", "obec_rotate", ico, "")
    record = (await console.obce.records()).get(ico)
    if record is None:
        raise Refused(404, f"obec {ico} není zřízena")
    try:
        text = await _provision(console, ico, record.name, rotate=True)
    except SpisyncError as exc:
        await audit.record(
            console.store, who.name, "obec_rotate", ico, record.name, audit.error_result(str(exc))
        )
        raise Refused(502, f"nové heslo nelze vydat: {exc}") from None
    await audit.record(console.store, who.name, "obec_rotate", ico, record.name, audit.RESULT_OK)
    return _download(ico, text)


async def revoke(request: web.Request) -> web.StreamResponse:
    """Revoke an obec's access (admin): its broker user goes, its queues stay for draining."""
    console: Console = request.app[CONSOLE]
    ico = request.match_info["ico"]
    who = await require(request, "admin", "obec_revoke", ico, "")
    if ico not in await console.obce.records():
        raise Refused(404, f"obec {ico} není zřízena")
    try:
        revoked = await revoke_agent(console.config, ico=ico)
    except SpisyncError as exc:
        await audit.record(
            console.store, who.name, "obec_revoke", ico, "", audit.error_result(str(exc))
        )
        raise Refused(502, f"obec nelze odpojit: {exc}") from None
    await audit.record(
        console.store,
        who.name,
        "obec_revoke",
        ico,
        f"user {revoked.username}; connections closed: {', '.join(revoked.closed) or 'none'}",
        audit.RESULT_OK,
    )
    if request.path.startswith("/api/"):
        return web.json_response(
            {
                "ok": True,
                "ico": ico,
                "connections_closed": list(revoked.closed),
                "still_open": list(revoked.still_open),
            }
        )
    raise _back(f"/obce/{ico}", f"obec {ico} byla odpojena", ok=True)


def add_routes(app: web.Application) -> None:
    """Register the actions (forms) and their `/api/v1/` twins."""
    for prefix in ("", "/api/v1"):
        app.router.add_post(f"{prefix}/dead-letters/{{id}}/replay", replay)
        app.router.add_post(f"{prefix}/dead-letters/{{id}}/discard", discard)
        app.router.add_post(f"{prefix}/obce/{{ico}}/rotate", rotate)
        app.router.add_post(f"{prefix}/obce/{{ico}}/revoke", revoke)
        app.router.add_post(f"{prefix}/obce/{{ico}}/rescan", rescan)
        app.router.add_post(f"{prefix}/obce/{{ico}}/allow-deletions", allow_deletions)
    app.router.add_post("/obce/provision", provision)
    app.router.add_post("/api/v1/obce", provision)
