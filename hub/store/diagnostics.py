"""The diagnostics ledger interface: the helpdesk's requests, their states and results.

One row per request. Rules about states live in `hub.diagnostics.states`;
the ledger only stores rows and offers compare-and-set on the state, so any
number of hub processes (and the CLI) see and change one picture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

import msgspec

from protocol import Attachment

__all__ = ["DiagnosticsLedger", "DiagnosticsRow", "RequestState"]

RequestState = Literal["queued", "delivered", "running", "done", "failed", "expired"]
"""`queued → delivered → running → done | failed | expired`."""


class DiagnosticsRow(msgspec.Struct, frozen=True, kw_only=True):
    """One diagnostics request at the hub.

    Attributes:
        id: The request's id (also on the wire).
        ico: The obec asked.
        verb: The verb.
        args: Its arguments (as on the wire).
        operator: Who asked (the helpdesk operator's account).
        state: Where it is.
        created_at: When it was published to the agent's inbox.
        expires_at: After this it must not run.
        updated_at: The last change.
        delivered_at: When the agent said it has it.
        started_at: When the agent started it.
        finished_at: When the outcome arrived (or it expired).
        ok: Whether the verb succeeded; None until finished.
        error: Why it failed or was refused.
        data: The agent's (redacted) answer.
        attachment: A large answer or support bundle, stored as verified content.
        result_bytes: Size of the answer as received (attachment included).
        clock_offset_s: The hub's clock minus the agent's, from the result's times.
        security_event: Not a request of the hub's: an agent reported a refused
            sender (a forged request), recorded for the audit.
    """

    id: str
    ico: str
    verb: str
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    operator: str = ""
    state: RequestState = "queued"
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    ok: bool | None = None
    error: str = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    attachment: Attachment | None = None
    result_bytes: int | None = None
    clock_offset_s: float | None = None
    security_event: bool = False


class DiagnosticsLedger(Protocol):
    """Stores diagnostics rows; shared by every hub process through the metadata store."""

    async def create(self, row: DiagnosticsRow) -> None:
        """Record a new request."""
        ...

    async def get(self, request_id: str) -> DiagnosticsRow | None:
        """Return one request."""
        ...

    async def of_obec(self, ico: str, limit: int = 100) -> list[DiagnosticsRow]:
        """Return an obec's latest requests, newest first."""
        ...

    async def open_past(self, now: datetime) -> list[DiagnosticsRow]:
        """Return requests not yet finished whose time to live ran out before `now`."""
        ...

    async def replace(self, row: DiagnosticsRow, *, expected: RequestState) -> bool:
        """Store `row` if the stored state is still `expected`; False if it moved on."""
        ...
