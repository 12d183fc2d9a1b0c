"""The console's records in the metadata store: operator accounts, sessions and the audit log.

They live beside the hub's data so that every hub process serves the same
console: a session opened on one process is valid on the others, a login
throttled on one is throttled on all, and the audit log is one log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "AuditEntry",
    "AuditLog",
    "OperatorAccounts",
    "OperatorRow",
    "Role",
    "SessionRow",
]

Role = Literal["viewer", "operator", "admin"]
"""What an operator may do: a viewer sees, an operator also acts, an admin also provisions."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log.

    Attributes:
        id: Increasing number of the entry.
        at: When it happened (UTC).
        actor: The operator's name, or what acted (`cli`, `helpdesk:<name>`).
        action: What was done, e.g. `login`, `dead_letter_replay`.
        ico: The obec it concerned, if any.
        detail: What exactly (a message id, a file name).
        result: `ok`, `refused` or `error: <why>`.
    """

    id: int
    at: datetime
    actor: str
    action: str
    ico: str | None
    detail: str
    result: str


@dataclass(frozen=True, slots=True)
class OperatorRow:
    """An operator account (the password only as its argon2 hash)."""

    name: str
    role: Role
    password_hash: str
    has_token: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A live console session."""

    operator: str
    role: Role
    csrf_token: str
    expires_at: datetime


class AuditLog(Protocol):
    """Append-only record of every console action and login."""

    async def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        ico: str | None,
        detail: str,
        result: str,
    ) -> int:
        """Record one entry durably; return its id."""
        ...

    async def entries(
        self, *, limit: int = 200, ico: str | None = None, before_id: int | None = None
    ) -> list[AuditEntry]:
        """Return the newest entries first (of one obec when `ico` is given)."""
        ...


class OperatorAccounts(Protocol):
    """Operator accounts, their API tokens, sessions and failed logins."""

    async def put_operator(self, name: str, role: Role, password_hash: str) -> bool:
        """Create the account or set its role and password; True if it was created."""
        ...

    async def operator(self, name: str) -> OperatorRow | None:
        """Return one account."""
        ...

    async def operators(self) -> list[OperatorRow]:
        """Return every account, by name."""
        ...

    async def remove_operator(self, name: str) -> bool:
        """Delete the account with its sessions and token; False if there was none."""
        ...

    async def set_token_hash(self, name: str, token_hash: str) -> bool:
        """Replace the account's API token (only its hash is kept); False if no account."""
        ...

    async def operator_by_token(self, token_hash: str) -> OperatorRow | None:
        """Return the account whose API token has this hash."""
        ...

    async def create_session(
        self, id_hash: str, operator: str, csrf_token: str, expires_at: datetime
    ) -> None:
        """Store a new session (only the hash of its id)."""
        ...

    async def session(self, id_hash: str, now: datetime) -> SessionRow | None:
        """Return the session if it exists, has not expired and its account still exists."""
        ...

    async def delete_session(self, id_hash: str) -> None:
        """End a session."""
        ...

    async def record_login_failure(self, subject: str, at: datetime) -> None:
        """Remember a failed login of `subject` (an operator name or an address)."""
        ...

    async def login_failures(self, subject: str, since: datetime) -> int:
        """Count `subject`'s failed logins since `since`."""
        ...

    async def clear_login_failures(self, subject: str) -> None:
        """Forget `subject`'s failed logins (after a successful one)."""
        ...
