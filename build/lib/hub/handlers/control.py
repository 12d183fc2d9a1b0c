"""Control handlers: heartbeats and diagnostics results from agents."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.handlers.base import HandlerContext
    from protocol import DiagnosticsResult, Heartbeat

__all__ = ["handle_diagnostics_result", "handle_heartbeat"]


async def handle_heartbeat(ctx: HandlerContext, heartbeat: Heartbeat) -> None:
    """Keep the agent's latest heartbeat (an older one never replaces a newer one).

    A probe from `spisync agent check` only shows that the obec can publish;
    its zeros must not replace what the running agent reported.
    """
    if heartbeat.probe:
        ctx.log.info("agent_check_probe_received", agent_version=heartbeat.agent_version)
        return
    await ctx.tx.record_heartbeat(ctx.ico, ctx.received_at, heartbeat)
    ctx.log.debug(
        "heartbeat_received",
        agent_version=heartbeat.agent_version,
        outbox_depth=heartbeat.outbox_depth,
    )


async def handle_diagnostics_result(ctx: HandlerContext, result: DiagnosticsResult) -> None:
    """Log a diagnostics result (the helpdesk that asks for them comes later)."""
    ctx.log.info("diagnostics_result_received", request_id=result.request_id, ok=result.ok)
