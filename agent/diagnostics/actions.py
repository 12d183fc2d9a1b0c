"""Verbs that start work: `rescan`, `resend`, `allow-deletions`.

Each goes through the agent's own code paths (the watcher's scan, the repair
queue the hub's `NeedChunks` uses, the approval that `spisync agent
allow-deletions` records) and, like the agent itself, only reads the office's
folders and registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from agent.diagnostics.context import VerbError
from agent.diagnostics.figures import folder_name
from agent.errors import RegistryError
from agent.registry.sources import open_source
from protocol import new_message_id
from spisync.errors import ConfigError

if TYPE_CHECKING:
    from agent.diagnostics.context import AgentView
    from protocol import DiagnosticArgs

__all__ = ["allow_deletions", "rescan", "resend"]

log = structlog.get_logger(__name__)

_MAX_RESEND = 10_000


async def rescan(view: AgentView, args: DiagnosticArgs) -> dict[str, Any]:
    """Scan one folder (or all) now; changes found go out as usual."""
    if view.watcher is None:
        raise VerbError("agent nesleduje žádné složky")
    folders = [view.folder(args.folder)] if args.folder else list(view.folders)
    for folder in folders:
        await view.watcher.scan(folder)
    log.info("diagnostics_rescan_done", folders=[f.key for f in folders])
    return {
        "scanned": [folder_name(f) for f in folders],
        "open_problems": len(view.problems.open_problems()),
    }


async def resend(view: AgentView, args: DiagnosticArgs) -> dict[str, Any]:
    """Send again one file (`path`) or the files of one spis's komponenty (`spis`)."""
    if bool(args.path) == bool(args.spis):
        raise VerbError("resend potřebuje právě jedno z: --path CESTA, --spis ID")
    if args.path:
        paths = [args.path]
    else:
        assert args.spis is not None
        paths = await _spis_files(view, args.spis)
    queued: list[str] = []
    unknown: list[str] = []
    for path in paths[:_MAX_RESEND]:
        entry = await view.state.get_file(path)
        if entry is None:
            unknown.append(path)
            continue
        await view.state.queue_repair(entry, new_message_id(), None)
        queued.append(path)
    if queued:
        view.wake_publisher()
    if args.path and not queued:
        raise VerbError(f"soubor {args.path!r} agent ve sledovaných složkách nemá")
    log.info("diagnostics_resend_queued", files=len(queued), unknown=len(unknown))
    return {"queued": queued, "not_in_folders": unknown}


async def _spis_files(view: AgentView, spis_id: str) -> list[str]:
    if view.config.registry is None:
        raise VerbError("agent nemá nastavený registr ([registry]), spis nelze dohledat")
    try:
        source = open_source(view.config)
        try:
            snapshot = await source.everything()
        finally:
            await source.close()
    except (RegistryError, ConfigError) as exc:
        raise VerbError(f"registr nelze přečíst: {exc}") from None
    if not any(str(r["id"]) == spis_id for r in snapshot.records.get("spis", [])):
        raise VerbError(f"spis {spis_id!r} v registru není")
    dokumenty = {
        str(r["id"])
        for r in snapshot.records.get("dokument", [])
        if str(r.get("spis_id")) == spis_id
    }
    return sorted(
        {
            str(r["soubor"])
            for r in snapshot.records.get("komponenta", [])
            if str(r.get("dokument_id")) in dokumenty and r.get("soubor")
        }
    )


async def allow_deletions(view: AgentView, args: DiagnosticArgs) -> dict[str, Any]:
    """Let one folder's paused mass deletion through, as `spisync agent allow-deletions` does."""
    if not args.folder:
        raise VerbError("allow-deletions potřebuje --folder NÁZEV")
    folder = view.folder(args.folder)
    paused = view.problems.is_open("deletions_paused", str(folder.root))
    await view.state.set_meta(f"allow_deletions:{folder.key}", "1")
    log.warning("diagnostics_deletions_allowed", folder=folder.key, was_paused=paused)
    if view.watcher is not None:
        # Applied now rather than at the next hourly scan.
        await view.watcher.scan(folder)
    return {"folder": folder_name(folder), "was_paused": paused, "applied": True}
