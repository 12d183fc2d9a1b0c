"""Operator accounts: roles, argon2 password hashes and API tokens.

A viewer sees everything and changes nothing; an operator may also replay
dead letters, trigger rescans and let paused deletions through; an admin may
also provision, rotate and revoke obce and manage nothing else beyond that.
Passwords are stored as argon2id hashes (memory-hard); API tokens are random
and stored as their SHA-256 (a 256-bit random token needs no slow hash).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Final, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.errors import HubError
from hub.store.console import Role

if TYPE_CHECKING:
    from hub.store.console import OperatorRow
    from hub.store.metadata import MetadataStore

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "AccountError",
    "add_operator",
    "allows",
    "authenticate_token",
    "hash_password",
    "hash_secret",
    "issue_token",
    "remove_operator",
    "verify_password",
]

ROLES: Final[tuple[Role, ...]] = get_args(Role)
MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_RANK: Final[dict[Role, int]] = {"viewer": 0, "operator": 1, "admin": 2}
_HASHER = PasswordHasher()
# Verified against when the name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class AccountError(HubError):
    """An operator account cannot be created or changed as asked; the message says why."""


def allows(role: Role, needed: Role) -> bool:
    """Tell whether `role` may do what needs `needed` (admin > operator > viewer)."""
    return _RANK[role] >= _RANK[needed]


def hash_secret(secret: str) -> str:
    """Return the SHA-256 hex of a high-entropy secret (a token or session id)."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def hash_password(password: str) -> str:
    """Return the argon2id hash of `password` (computed in a thread: it is slow on purpose)."""
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(row: OperatorRow | None, password: str) -> bool:
    """Tell whether `password` is the account's; a missing account takes as long and fails."""
    stored = row.password_hash if row is not None else _DUMMY_HASH

    def check() -> bool:
        try:
            return _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    ok = await asyncio.to_thread(check)
    return ok and row is not None


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise AccountError(
            f"operator name {name!r} is not valid: use 1-64 letters, digits, '.', '_', '@' or '-'"
        )
    return name


async def add_operator(store: MetadataStore, name: str, role: str, password: str) -> bool:
    """Create an account or set its role and password; return True if it was created.

    Raises:
        AccountError: If the name, role or password is not acceptable.
    """
    _check_name(name)
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return await store.operators.put_operator(name, role, await hash_password(password))


async def remove_operator(store: MetadataStore, name: str) -> None:
    """Delete an account, its sessions and its token.

    Raises:
        AccountError: If there is no such account.
    """
    if not await store.operators.remove_operator(name):
        raise AccountError(f"there is no operator named {name!r}")


async def issue_token(store: MetadataStore, name: str) -> str:
    """Issue a new API token for the account (the previous one stops working); return it.

    Raises:
        AccountError: If there is no such account.
    """
    token = "sst_" + secrets.token_urlsafe(32)
    if not await store.operators.set_token_hash(name, hash_secret(token)):
        raise AccountError(f"there is no operator named {name!r}")
    return token


async def authenticate_token(store: MetadataStore, token: str) -> OperatorRow | None:
    """Return the account that `token` belongs to, if any."""
    return await store.operators.operator_by_token(hash_secret(token))
