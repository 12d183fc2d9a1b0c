"""Takes diagnostics requests from the inbox: who asked, allowed, expired, one at a time.

The order of the checks is the safety argument:
1. the delivery's broker-validated `user_id` must be `[diagnostics] hub_user`
   (an obec user publishing into this inbox, were the broker ever
   misconfigured, is refused and reported as a security event);
2. the request must not have expired (the broker drops expired messages too;
   this catches one that waited in the agent's own prefetch);
3. the verb must be in `[diagnostics] allow`.
Only then is the request run, under a lock so one runs at a time, with a
time limit. Every step is journaled first, and the delivery is acknowledged
only once the answer is in the durable outbox: a crash in between means the
request is delivered again (and a finished one is not run twice).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from agent.diagnostics import actions, info
from agent.diagnostics.bundle import build_bundle
from agent.diagnostics.context import VerbError
from agent.diagnostics.journal import Entry
from agent.diagnostics.outgoing import ResultTooLargeError
from protocol import utc_now

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aio_pika.abc import AbstractIncomingMessage

    from agent.diagnostics.context import AgentView
    from agent.diagnostics.outgoing import Outgoing, Sent
    from protocol import DiagnosticArgs, DiagnosticsRequest

__all__ = ["VERB_TIMEOUT_S", "DiagnosticsRunner"]

log = structlog.get_logger(__name__)

VERB_TIMEOUT_S = 300.0

_VERBS: dict[str, Callable[[AgentView, DiagnosticArgs], Awaitable[dict[str, Any]]]] = {
    "status": info.status,
    "logs": info.logs,
    "connectivity": info.connectivity,
    "check": info.check,
    "rescan": actions.rescan,
    "resend": actions.resend,
    "allow-deletions": actions.allow_deletions,
}


class DiagnosticsRunner:
    """Runs requests handed over by the inbox.

    Args:
        view: What the verbs may use.
        outgoing: Where answers are queued.
    """

    def __init__(self, view: AgentView, outgoing: Outgoing) -> None:
        self._view = view
        self._outgoing = outgoing
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, request: DiagnosticsRequest, message: AbstractIncomingMessage) -> None:
        """Take over a request and the settling of its delivery; returns at once."""
        task = asyncio.create_task(self._settle(request, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop requests in progress; their deliveries are redelivered later."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _settle(self, request: DiagnosticsRequest, message: AbstractIncomingMessage) -> None:
        try:
            await self.process(request, message.user_id or "")
        except Exception:
            # The answer could not be queued (state database failing): let the
            # broker deliver the request again later.
            log.exception("diagnostics_request_failed", request_id=request.request_id)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        with contextlib.suppress(Exception):
            await message.ack()

    async def process(self, request: DiagnosticsRequest, user_id: str) -> None:
        """Check, journal, run and answer one request."""
        view = self._view
        journal = view.journal
        verb = request.requested_verb
        base = {
            "request_id": request.request_id,
            "verb": verb,
            "args": msgspec.to_builtins(request.args),
            "operator": request.operator,
            "user_id": user_id,
        }
        await journal.write(Entry(at=utc_now(), event="received", **base))
        hub_user = view.config.diagnostics.hub_user
        if hub_user is None:
            # An AGENT.toml from before diagnostics: nobody can be trusted yet. Not a
            # security event, a set-up step the helpdesk must be told about.
            reason = (
                "agent nemá v AGENT.toml [diagnostics] hub_user (uživatel hubu ORP); "
                "doplňte jej nebo znovu spusťte spisync hub provision-agent"
            )
            sent = await self._outgoing.refusal(request, state="failed", error=reason)
            await self._finish(base, "refused", reason, sent)
            return
        if not user_id or user_id != hub_user:
            await self._refuse_sender(request, base, user_id, hub_user)
            return
        # A redelivery (the agent stopped before acknowledging) is not run twice;
        # only the hub's own answered requests count, so nobody can block one by id.
        if await asyncio.to_thread(journal.finished, request.request_id, user_id):
            log.info("diagnostics_request_already_answered", request_id=request.request_id)
            return
        if _expired(request):
            await self._finish(base, "expired", "platnost požadavku vypršela, nespuštěno", None)
            await self._outgoing.refusal(
                request, state="expired", error="platnost požadavku vypršela; agent jej nespustil"
            )
            return
        allowed = view.config.diagnostics.allow
        if verb not in allowed:
            reason = (
                "diagnostika je v této obci vypnutá ([diagnostics] allow = [])"
                if not allowed
                else f"obec sloveso {verb!r} nepovolila; povolená: {', '.join(allowed)}"
            )
            sent = await self._outgoing.refusal(request, state="failed", error=reason)
            await self._finish(base, "refused", reason, sent)
            return
        await self._outgoing.progress(request, "delivered")
        async with self._lock:
            if _expired(request):
                await self._outgoing.refusal(
                    request, state="expired", error="platnost vypršela ve frontě agenta"
                )
                await self._finish(base, "expired", "platnost vypršela ve frontě agenta", None)
                return
            await journal.write(Entry(at=utc_now(), event="running", **base))
            await self._outgoing.progress(request, "running")
            await self._run(request, base)

    async def _run(self, request: DiagnosticsRequest, base: dict[str, Any]) -> None:
        verb = request.requested_verb
        log.info("diagnostics_request_running", request_id=request.request_id, verb=verb)
        try:
            async with asyncio.timeout(VERB_TIMEOUT_S):
                if verb == "bundle":
                    summary, data = await build_bundle(self._view, request.args)
                    sent = await self._outgoing.answer(
                        request, summary, attachment=("bundle.zip", data)
                    )
                else:
                    answer = await _VERBS[verb](self._view, request.args)
                    sent = await self._outgoing.answer(request, answer)
        except (VerbError, ResultTooLargeError) as exc:
            await self._fail(request, base, str(exc))
        except TimeoutError:
            await self._fail(request, base, f"nedoběhlo do {VERB_TIMEOUT_S:.0f} s")
        except Exception as exc:
            log.exception("diagnostics_verb_failed", request_id=request.request_id, verb=verb)
            await self._fail(request, base, f"{type(exc).__name__}: {exc}")
        else:
            await self._finish(base, "done", "", sent)

    async def _fail(self, request: DiagnosticsRequest, base: dict[str, Any], error: str) -> None:
        sent = await self._outgoing.refusal(request, state="failed", error=error)
        await self._finish(base, "failed", error, sent)

    async def _refuse_sender(
        self, request: DiagnosticsRequest, base: dict[str, Any], user_id: str, hub_user: str
    ) -> None:
        view = self._view
        view.problems.count_event("diagnostics_forged")
        reason = f"požadavek neposlal hub, ale uživatel {user_id or '(neuveden)'!r}"
        log.warning(
            "security_event",
            what="diagnostics_request_refused",
            request_id=request.request_id,
            user_id=user_id,
            expected=hub_user,
        )
        sent = await self._outgoing.refusal(
            request,
            state="failed",
            error=f"odmítnuto: {reason}",
            data={"security_event": "diagnostics_sender_refused", "user_id": user_id},
        )
        await self._finish(base, "refused", f"bezpečnostní událost: {reason}", sent)

    async def _finish(
        self, base: dict[str, Any], event: str, detail: str, sent: Sent | None
    ) -> None:
        await self._view.journal.write(
            Entry(
                at=utc_now(),
                event=event,
                detail=self._view.redactor.text(detail),
                result_bytes=None if sent is None else sent.result_bytes,
                sha256=None if sent is None else sent.sha256,
                **base,
            )
        )


def _expired(request: DiagnosticsRequest) -> bool:
    return request.expires_at is not None and utc_now() >= request.expires_at
