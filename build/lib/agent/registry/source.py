"""What every registry adapter offers the sync: changes after a cursor, everything, checks.

The sync (`agent.registry.sync`) depends only on this interface, so the
reference SQLite reader, Spisovka and the generic SQL adapter behave the same
from there on: same cleaning, same fingerprints, same messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from agent.registry.contract import RawRow

__all__ = ["Change", "ChangeBatch", "RegistrySource", "Snapshot"]


@dataclass(frozen=True)
class Change:
    """The last change of one record within a batch, with the record as it is now.

    Attributes:
        seq: The source version of the record's last change in the batch.
        table: `spis`, `dokument` or `komponenta`.
        record_id: The record's id.
        row: The record's columns, or None if it no longer exists.
    """

    seq: int
    table: str
    record_id: str
    row: RawRow | None


@dataclass(frozen=True)
class ChangeBatch:
    """Changes after a cursor, one per record, in change order.

    Attributes:
        changes: The changes.
        last_seq: The new cursor (equal to the old one when nothing changed).
    """

    changes: list[Change]
    last_seq: int


@dataclass
class Snapshot:
    """Every record of the registry, read in one consistent snapshot.

    Attributes:
        max_seq: The source version the snapshot was read at.
        records: Rows by table.
    """

    max_seq: int
    records: dict[str, list[RawRow]] = field(default_factory=dict)


class RegistrySource(Protocol):
    """A registry the agent reads (never writes).

    Attributes:
        name: What problems and logs call it (a path, or a URL without its password).
    """

    name: str

    async def contract_problems(self) -> list[str]:
        """Return what the database lacks for this adapter, one line each (empty when fine)."""
        ...

    async def changes_after(self, cursor: int, limit: int = 500) -> ChangeBatch:
        """Return the records changed after `cursor`, in one consistent snapshot."""
        ...

    async def everything(self) -> Snapshot:
        """Return every record, in one consistent snapshot."""
        ...
