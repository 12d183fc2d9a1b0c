"""What a registry login may do besides reading: `spisync agent check` warns about it.

The agent only ever reads, inside read-only transactions; a login that could
write is not needed and should not be given to it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.registry.db import Database

__all__ = ["write_privileges"]

_READ_ONLY_MYSQL = {"SELECT", "USAGE", "SHOW VIEW"}
_GRANT = re.compile(r"^GRANT (.+?) ON ", re.IGNORECASE)


async def write_privileges(db: Database) -> list[str]:
    """Return the privileges beyond reading that the login holds (empty when read-only)."""
    if db.url.dialect == "sqlite":
        path = Path(db.url.database)
        return ["the file is writable by this user"] if os.access(path, os.W_OK) else []
    found: set[str] = set()
    async with db.snapshot() as s:
        if db.url.dialect == "mysql":
            for row in await s.fetch("SHOW GRANTS"):
                for grant in row.values():
                    match = _GRANT.match(str(grant))
                    if match:
                        privileges = {p.strip().upper() for p in match.group(1).split(",")}
                        found |= privileges - _READ_ONLY_MYSQL
        else:
            rows = await s.fetch("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if rows and rows[0]["rolsuper"]:
                found.add("SUPERUSER")
            rows = await s.fetch(
                "SELECT DISTINCT privilege_type FROM information_schema.table_privileges "
                "WHERE grantee = current_user AND privilege_type <> 'SELECT'"
            )
            found |= {str(r["privilege_type"]) for r in rows}
            rows = await s.fetch(
                "SELECT count(*) AS n FROM pg_tables WHERE tableowner = current_user"
            )
            if rows and int(rows[0]["n"]):
                found.add("OWNER of tables")
    return sorted(found)
