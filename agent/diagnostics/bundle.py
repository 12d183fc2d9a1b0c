"""The `bundle` verb: a support bundle (ZIP) of everything the other verbs show.

Every member is scrubbed of secrets before it is zipped; the ZIP travels back
as a chunked, verified attachment. Logs are cut shorter until the bundle fits
`[diagnostics] max_result_bytes`.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import msgspec

from agent.diagnostics import info
from protocol import DiagnosticArgs

if TYPE_CHECKING:
    from agent.diagnostics.context import AgentView

__all__ = ["build_bundle"]

_LOG_LINES = (5000, 1000, 200, 0)


async def build_bundle(view: AgentView, _args: DiagnosticArgs) -> tuple[dict[str, Any], bytes]:
    """Return a summary and the ZIP's bytes."""
    parts: dict[str, Any] = {}
    for name, verb in (
        ("status", info.status),
        ("check", info.check),
        ("connectivity", info.connectivity),
    ):
        try:
            parts[name] = await verb(view, DiagnosticArgs())
        except Exception as exc:
            parts[name] = {"error": f"{type(exc).__name__}: {exc}"}
    journal = [msgspec.to_builtins(e) for e in view.journal.read()[-500:]]
    cap = view.config.diagnostics.max_result_bytes
    for lines in _LOG_LINES:
        log_lines = await asyncio.to_thread(view.log_file.tail, lines) if lines else []
        data = await asyncio.to_thread(_zip, view, parts, journal, log_lines)
        if len(data) <= cap:
            break
    members = [f"{name}.json" for name in parts] + ["journal.json", "logs.txt"]
    return {"files": members, "log_lines": len(log_lines)}, data


def _zip(view: AgentView, parts: dict[str, Any], journal: list[Any], log_lines: list[str]) -> bytes:
    redact = view.redactor
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, part in parts.items():
            text = json.dumps(redact.data(part), ensure_ascii=False, indent=2, default=str)
            archive.writestr(f"{name}.json", redact.text(text))
        text = json.dumps(redact.data(journal), ensure_ascii=False, indent=2, default=str)
        archive.writestr("journal.json", redact.text(text))
        archive.writestr("logs.txt", redact.text("\n".join(log_lines)))
    return buffer.getvalue()
