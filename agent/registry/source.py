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
        seq: The source version of the record's last change in the batch (the
            product's own change-log number), or None when the agent numbers
            versions itself (`RegistrySource.numbers_versions` is False).
        table: `spis`, `dokument` or `komponenta`.
        record_id: The record's id.
        row: The record's columns, or None if it no longer exists.
    """

    seq: int | None
    table: str
    record_id: str
    row: RawRow | None


@dataclass(frozen=True)
class ChangeBatch:
    """Changes after a cursor, one per record, in change order.

    Attributes:
        changes: The changes.
        cursor: The new cursor, opaque to the sync (the old one when nothing changed).
        more: True if more changes may wait beyond this batch.
    """

    changes: list[Change]
    cursor: str
    more: bool = False


@dataclass
class Snapshot:
    """Every record of the registry, read in one consistent snapshot.

    Attributes:
        cursor: Where incremental reading continues after this snapshot.
        max_seq: The source version the snapshot was read at (None when the
            agent numbers versions itself).
        records: Rows by table.
    """

    cursor: str
    max_seq: int | None = None
    records: dict[str, list[RawRow]] = field(default_factory=dict)


class RegistrySource(Protocol):
    """A registry the agent reads (never writes).

    Attributes:
        name: What problems and logs call it (a path, or a URL without its password).
        numbers_versions: True if the product numbers its changes (a change
            log's `seq`, always increasing) and those numbers are the source
            versions; False if the agent numbers them.
    """

    name: str
    numbers_versions: bool

    async def contract_problems(self) -> list[str]:
        """Return what the database lacks for this adapter, one line each (empty when fine)."""
        ...

    async def changes_after(self, cursor: str | None, limit: int = 500) -> ChangeBatch:
        """Return the records changed after `cursor`, in one consistent snapshot."""
        ...

    async def everything(self) -> Snapshot:
        """Return every record, in one consistent snapshot."""
        ...

    async def close(self) -> None:
        """Release connections (the next read reconnects)."""
        ...
