"""Control handlers: heartbeats and diagnostics results from agents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.audit import RESULT_OK, error_result
from hub.diagnostics.states import TERMINAL, after_result
from hub.handlers.content import verify_content
from hub.store.diagnostics import DiagnosticsRow

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
    """Store an agent's answer (or progress) to a helpdesk request, and audit its outcome.

    An attachment (a support bundle, a large answer) counts only when every
    chunk arrived from this obec and the whole matches its SHA-256, exactly
    as a file version's content. An agent's report that it refused a request
    from someone other than the hub is recorded as a security event.
    """
    if result.data.get("security_event"):
        await _security_event(ctx, result)
        return
    row = await ctx.tx.diagnostics_row(result.request_id)
    if row is None:
        ctx.log.warning("diagnostics_result_unknown", request_id=result.request_id)
        return
    if row.ico != ctx.ico:
        ctx.log.warning(
            "security_event",
            what="diagnostics_result_for_another_obec",
            request_id=result.request_id,
            request_ico=row.ico,
        )
        return
    attachment_ok: bool | None = None
    if result.attachment is not None and result.state == "done":
        attachment = result.attachment
        owned = await ctx.tx.owned_chunks(ctx.ico, attachment.chunk_sha256)
        attachment_ok = all(sha in owned for sha in attachment.chunk_sha256)
        if attachment_ok:
            verdict = await verify_content(ctx, attachment, owned)
            if verdict is None:
                # Verified outside the shared batch first; the result is applied again then.
                return
            attachment_ok = verdict
    updated = after_result(row, result, received_at=ctx.received_at, attachment_ok=attachment_ok)
    if updated is None:
        return
    if not await ctx.tx.put_diagnostics_row(updated, expected=row.state):
        return
    ctx.log.info(
        "diagnostics_state_changed",
        request_id=row.id,
        verb=row.verb,
        state=updated.state,
        result_bytes=updated.result_bytes,
    )
    if updated.state in TERMINAL:
        args = " ".join(f"--{k} {v}" for k, v in row.args.items())
        await ctx.tx.append_audit(
            at=ctx.received_at,
            actor=f"helpdesk:{row.operator}",
            action="diagnostics_result",
            ico=ctx.ico,
            detail=f"{row.id} {row.verb} {args} -> {updated.state}, {updated.result_bytes or 0} B",
            result=RESULT_OK if updated.ok else error_result(updated.error or updated.state),
        )


async def _security_event(ctx: HandlerContext, result: DiagnosticsResult) -> None:
    user_id = str(result.data.get("user_id", ""))
    ctx.log.warning(
        "security_event",
        what="diagnostics_request_forged",
        request_id=result.request_id,
        user_id=user_id,
        error=result.error,
    )
    row_id = f"security-{ctx.message_id}"
    if await ctx.tx.diagnostics_row(row_id) is not None:
        return
    await ctx.tx.put_diagnostics_row(
        DiagnosticsRow(
            id=row_id,
            ico=ctx.ico,
            verb=result.verb or "?",
            operator="",
            state="failed",
            created_at=ctx.received_at,
            expires_at=ctx.received_at,
            updated_at=ctx.received_at,
            finished_at=ctx.received_at,
            ok=False,
            error=result.error,
            data=dict(result.data),
            security_event=True,
        ),
        expected=None,
    )
    await ctx.tx.append_audit(
        at=ctx.received_at,
        actor=f"broker-user:{user_id or '?'}",
        action="diagnostics_forged_request",
        ico=ctx.ico,
        detail=f"agent odmítl požadavek {result.request_id}: {result.error}",
        result="refused",
    )
