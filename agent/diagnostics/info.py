"""Verbs that only look: `status`, `logs`, `connectivity`, `check`."""

from __future__ import annotations

import asyncio
import platform
import shutil
import socket
import ssl
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.check import check_config
from agent.diagnostics.figures import folder_figures, outbox_figures, registry_figures
from agent.heartbeat import agent_version
from spisync.broker import open_connection
from spisync.broker.connection import ssl_context

if TYPE_CHECKING:
    from agent.diagnostics.context import AgentView
    from protocol import DiagnosticArgs

__all__ = ["check", "connectivity", "logs", "status"]

_DEFAULT_LINES = 200
_NET_TIMEOUT_S = 10.0


async def status(view: AgentView, _args: DiagnosticArgs) -> dict[str, Any]:
    """Version, uptime, platform, redacted configuration, folders, registry, outbox, problems."""
    outbox = await outbox_figures(view.state)
    folders = await folder_figures(view.folders)
    registry = await registry_figures(view.state, view.config.registry)
    counts = {f.key: await view.state.count_files(f.key) for f in view.folders}
    state_dir = view.config.agent.state_path
    return {
        "agent_version": agent_version(),
        "uptime_s": round(time.monotonic() - view.started, 1),
        "agent_time": datetime.now(UTC).isoformat(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "configuration": view.redactor.redacted_config(),
        "folders": [
            {
                "name": f.name,
                "path": f.path,
                "available": f.available,
                "files": counts.get(f.path, 0),
                "free_bytes": f.free_bytes,
                "error": f.error,
            }
            for f in folders
        ],
        "state_free_bytes": shutil.disk_usage(state_dir).free if state_dir.exists() else None,
        "registry": None
        if registry is None
        else {
            "reachable": registry.head is not None,
            "cursor": registry.cursor,
            "head": registry.head,
            "lag": registry.lag,
            "error": registry.error,
        },
        "outbox": {
            "depth": outbox.depth,
            "bytes": outbox.bytes,
            "oldest_age_s": None
            if outbox.oldest_created_at is None
            else round(max(0.0, time.time() - outbox.oldest_created_at), 1),
        },
        "problems": [
            {"kind": p.kind, "path": p.path, "reason": p.reason}
            for p in view.problems.open_problems()
        ],
        "errors_by_kind": view.problems.errors_by_kind(),
    }


async def logs(view: AgentView, args: DiagnosticArgs) -> dict[str, Any]:
    """The tail of the agent's own log file, at the asked level or above."""
    lines = await asyncio.to_thread(
        view.log_file.tail, args.lines or _DEFAULT_LINES, args.level or "debug"
    )
    return {"lines": lines, "level": args.level or "debug", "file": str(view.log_file.path)}


async def connectivity(view: AgentView, _args: DiagnosticArgs) -> dict[str, Any]:
    """DNS of the broker's host, a broker round trip, and the TLS certificate's expiry."""
    broker = view.config.broker
    parts = urlsplit(broker.url)
    host = parts.hostname or ""
    tls = parts.scheme == "amqps"
    port = parts.port or (5671 if tls else 5672)
    result: dict[str, Any] = {"host": host, "port": port, "tls": tls}
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), _NET_TIMEOUT_S
        )
        result["dns"] = {
            "ok": True,
            "addresses": sorted({str(i[4][0]) for i in infos}),
            "seconds": round(time.monotonic() - started, 3),
        }
    except (OSError, TimeoutError) as exc:
        result["dns"] = {"ok": False, "error": str(exc) or type(exc).__name__}
    result["broker"] = await _round_trip(view)
    if tls:
        result["certificate"] = await _certificate(host, port, ssl_context(broker))
    return result


async def _round_trip(view: AgentView) -> dict[str, Any]:
    started = time.monotonic()
    try:
        connection = await asyncio.wait_for(
            open_connection(view.config.broker, name=f"spisync-agent diag {view.config.agent.ico}"),
            _NET_TIMEOUT_S,
        )
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    try:
        connected = time.monotonic()
        channel = await connection.channel()
        await channel.close()
        return {
            "ok": True,
            "connect_s": round(connected - started, 3),
            "round_trip_s": round(time.monotonic() - connected, 3),
        }
    finally:
        await connection.close()


async def _certificate(host: str, port: int, context: ssl.SSLContext | None) -> dict[str, Any]:
    # The agent's own TLS settings (its CA, its client certificate when the broker
    # requires one), so the handshake is the one the agent makes.
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), _NET_TIMEOUT_S
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return {"ok": False, "error": str(exc) or type(exc).__name__}
    try:
        cert = writer.get_extra_info("peercert") or {}
        not_after = cert.get("notAfter")
        expires = (
            None
            if not_after is None
            else datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
        )
        return {
            "ok": True,
            "expires_at": None if expires is None else expires.isoformat(),
            "days_left": None
            if expires is None
            else round((expires - datetime.now(UTC)).total_seconds() / 86400, 1),
        }
    finally:
        writer.close()


async def check(view: AgentView, _args: DiagnosticArgs) -> dict[str, Any]:
    """What `spisync agent check` reports, for the running configuration."""
    findings = await check_config(view.config)
    return {
        "ok": all(f.ok for f in findings),
        "findings": [
            {"ok": f.ok, "what": f.what, "detail": f.detail, "fix": f.fix} for f in findings
        ],
    }
