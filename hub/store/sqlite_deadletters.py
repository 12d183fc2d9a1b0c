"""Dead letters (`hub.store.deadletters.DeadLetters`) in the hub's SQLite database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from hub.store.deadletters import DeadLetter, DeadLetterState, NewDeadLetter
from hub.store.sqlite_rows import from_ts, placeholders, to_ts
from hub.store.sqlite_shared import SharedConnections
from protocol import utc_now

if TYPE_CHECKING:
    from datetime import datetime


__all__ = ["SqliteDeadLetters"]

_COLUMNS = (
    "id, fingerprint, message_id, ico, reason, detail, security, sender, exchange, "
    "routing_key, dead_at, properties, headers, body, body_size, state, state_by, state_at"
)


def _letter(row: tuple[Any, ...]) -> DeadLetter:
    dead_at = from_ts(row[10])
    assert dead_at is not None
    return DeadLetter(
        id=row[0],
        letter=NewDeadLetter(
            fingerprint=row[1],
            message_id=row[2],
            ico=row[3],
            reason=row[4],
            detail=row[5],
            security=bool(row[6]),
            sender=row[7],
            exchange=row[8],
            routing_key=row[9],
            dead_at=dead_at,
            properties=json.loads(row[11]),
            headers=json.loads(row[12]),
            body=bytes(row[13]),
            body_size=row[14],
        ),
        state=cast("DeadLetterState", row[15]),
        state_by=row[16],
        state_at=from_ts(row[17]),
    )


class SqliteDeadLetters(SharedConnections):
    """`DeadLetters` sharing the metadata store's connections and write lock."""

    async def add(self, letter: NewDeadLetter) -> int | None:
        """Store a dead letter as `waiting`; None if its fingerprint is known."""
        async with (
            self._write() as db,
            db.execute(
                "INSERT INTO dead_letters (fingerprint, message_id, ico, reason, detail, security, "
                "sender, exchange, routing_key, dead_at, properties, headers, body, body_size, "
                "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting') "
                "ON CONFLICT (fingerprint) DO NOTHING",
                (
                    letter.fingerprint,
                    letter.message_id,
                    letter.ico,
                    letter.reason,
                    letter.detail,
                    int(letter.security),
                    letter.sender,
                    letter.exchange,
                    letter.routing_key,
                    to_ts(letter.dead_at),
                    json.dumps(letter.properties, ensure_ascii=False),
                    json.dumps(letter.headers, ensure_ascii=False),
                    letter.body,
                    letter.body_size,
                ),
            ) as cursor,
        ):
            return cursor.lastrowid if cursor.rowcount > 0 else None

    async def get(self, letter_id: int) -> DeadLetter | None:
        """Return one dead letter."""
        rows = await self._read(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?",  # noqa: S608 - constant columns
            letter_id,
        )
        return _letter(rows[0]) if rows else None

    async def letters(
        self,
        *,
        security: bool | None = None,
        states: tuple[DeadLetterState, ...] = ("waiting", "replaying"),
        ico: str | None = None,
        limit: int = 200,
    ) -> list[DeadLetter]:
        """Return dead letters, newest first."""
        where = [f"state IN ({placeholders(len(states))})"]
        args: list[object] = list(states)
        if security is not None:
            where.append("security = ?")
            args.append(int(security))
        if ico is not None:
            where.append("ico = ?")
            args.append(ico)
        rows = await self._read(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE {' AND '.join(where)} "  # noqa: S608 - fixed clauses
            "ORDER BY id DESC LIMIT ?",
            *args,
            limit,
        )
        return [_letter(row) for row in rows]

    async def counts(self) -> dict[tuple[str, bool, str], int]:
        """Return how many dead letters there are by (reason, security, state)."""
        rows = await self._read(
            "SELECT reason, security, state, count(*) FROM dead_letters GROUP BY 1, 2, 3"
        )
        return {(reason, bool(security), state): count for reason, security, state, count in rows}

    async def claim(
        self, letter_id: int, actor: str, *, stale_before: datetime
    ) -> DeadLetter | None:
        """Claim a letter for replay (compare-and-set on its state)."""
        async with self._write() as db:
            async with db.execute(
                "UPDATE dead_letters SET state = 'replaying', state_by = ?, state_at = ? "
                "WHERE id = ? AND security = 0 AND (state = 'waiting' "
                "OR (state = 'replaying' AND state_at < ?))",
                (actor, to_ts(utc_now()), letter_id, to_ts(stale_before)),
            ) as cursor:
                claimed = cursor.rowcount > 0
            if not claimed:
                return None
            async with db.execute(
                f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?",  # noqa: S608 - constant columns
                (letter_id,),
            ) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return _letter(tuple(row))

    async def settle(
        self, letter_id: int, actor: str, state: DeadLetterState, *, expect: DeadLetterState
    ) -> bool:
        """Move a letter from `expect` to `state`."""
        async with (
            self._write() as db,
            db.execute(
                "UPDATE dead_letters SET state = ?, state_by = ?, state_at = ? "
                "WHERE id = ? AND state = ?",
                (state, actor, to_ts(utc_now()), letter_id, expect),
            ) as cursor,
        ):
            return cursor.rowcount > 0
