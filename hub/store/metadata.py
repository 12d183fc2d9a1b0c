"""The metadata store interface: what the hub records, behind one seam.

`SqliteMetadataStore` implements it for one machine; a server database (for
hubs on several machines) implements the same two protocols.

Files are stored as chunk lists: a file version names its content by SHA-256,
and a content row lists the SHA-256 of its chunks in order; each chunk is one
blob. Identical chunks are stored once per ORP, while `obec_chunks` records
which obec uploaded which chunk, so an obec is only ever told that content
exists when it has uploaded every chunk of it itself. Streaming a file back
means reading its chunks in order (`hub.content.open_content`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from contextlib import AbstractAsyncContextManager
    from datetime import datetime

    from hub.store.console import AuditLog, OperatorAccounts
    from hub.store.deadletters import DeadLetters
    from hub.store.diagnostics import DiagnosticsLedger, DiagnosticsRow, RequestState
    from hub.store.models import (
        ContentRow,
        FileSummary,
        FileVersionRow,
        MissingKomponenta,
        ReadySpis,
        RegistryTable,
        SpisDetail,
        SpisStateRow,
        SpisSummary,
    )
    from hub.store.overview import OverviewReader
    from hub.store.sips import SipLedger
    from protocol import DokumentSnapshot, Heartbeat, KomponentaSnapshot, SpisSnapshot, Udalost

__all__ = ["MetadataStore", "MetadataTransaction"]


class MetadataTransaction(Protocol):
    """Reads and writes inside one transaction; nothing is visible to others before commit."""

    async def touch_obec(self, ico: str, at: datetime) -> None:
        """Record that obec `ico` sent something at `at`."""
        ...

    async def message_seen(self, message_id: str) -> bool:
        """Tell whether a message with this id was already applied."""
        ...

    async def record_message(self, message_id: str, ico: str, kind: str) -> None:
        """Remember that the message was applied (idempotency)."""
        ...

    async def add_chunk(self, ico: str, sha256: str, size: int) -> None:
        """Record a verified, durably stored chunk and that obec `ico` uploaded it."""
        ...

    async def owned_chunks(self, ico: str, sha256s: Collection[str]) -> dict[str, int]:
        """Return the sizes of those of `sha256s` that obec `ico` uploaded and the hub stores."""
        ...

    async def chunk_was_released(self, sha256: str) -> bool:
        """Tell whether a release deleted (or is deleting) the chunk's blob lately.

        Such a chunk's blob must be checked inside the transaction before its
        row is written (see `hub.store.sqlite_release`).
        """
        ...

    async def record_corrupt_chunk(
        self, ico: str, object_sha256: str, index: int, sha256: str
    ) -> None:
        """Remember that chunk `index` of `object_sha256` arrived corrupt.

        `object_sha256` is the object's hash, or the chunk's transfer where it
        named no hash (a chunk sent while its file was still being hashed).
        """
        ...

    async def corrupt_indexes(self, ico: str, object_sha256: str) -> set[int]:
        """Return the chunk indexes of `object_sha256` that arrived corrupt."""
        ...

    async def content(self, sha256: str) -> ContentRow | None:
        """Return a verified content by hash."""
        ...

    async def add_content(self, content: ContentRow) -> None:
        """Record a verified content (kept as is if one with that hash exists)."""
        ...

    async def file_version(self, ico: str, path: str, source_seq: int) -> FileVersionRow | None:
        """Return one recorded version."""
        ...

    async def epoch_base(self, ico: str, epoch: str, at: datetime) -> int:
        """Return what obec `ico`'s numbers of `source_epoch` `epoch` are recorded after.

        0 for the empty epoch; for a new one, the obec's highest `source_seq`
        now (remembered, so every later message of the epoch gets the same).
        """
        ...

    async def highest_source_seq(self, ico: str) -> int:
        """Return the highest `source_seq` recorded for obec `ico` (0 if none)."""
        ...

    async def add_file_version(self, row: FileVersionRow) -> None:
        """Record a version or tombstone (unique on ico, path, source_seq)."""
        ...

    # Many rows at once: what a bundle of small files records, in a few round trips.

    async def file_versions(
        self, ico: str, keys: Collection[tuple[str, int]]
    ) -> dict[tuple[str, int], FileVersionRow]:
        """Return the recorded versions (or tombstones) among `(path, source_seq)` keys."""
        ...

    async def released_chunks(self, sha256s: Collection[str]) -> set[str]:
        """Return which of the chunks were (or are about to be) deleted by a release."""
        ...

    async def add_chunks(self, ico: str, chunks: Sequence[tuple[str, int]]) -> None:
        """Record verified, durably stored chunks `(sha256, size)` uploaded by obec `ico`."""
        ...

    async def contents(self, sha256s: Collection[str]) -> dict[str, ContentRow]:
        """Return the recorded contents among `sha256s`."""
        ...

    async def add_new_contents(self, rows: Sequence[ContentRow]) -> None:
        """Record verified contents that `contents` found no row of in this transaction."""
        ...

    async def add_file_versions(self, rows: Sequence[FileVersionRow]) -> None:
        """Record file versions (not tombstones), as `add_file_version` does each."""
        ...

    async def clear_corrupt_chunks_of(self, ico: str, object_sha256s: Collection[str]) -> None:
        """Forget corrupt-chunk records of contents now recorded."""
        ...

    async def record_messages(self, message_ids: Sequence[str], ico: str, kind: str) -> None:
        """Remember that the messages were applied (idempotency)."""
        ...

    async def record_version(self, table: RegistryTable, ico: str, record_id: str) -> int | None:
        """Return the `source_version` held for a registry record, deleted or not."""
        ...

    async def put_spis(self, ico: str, snapshot: SpisSnapshot) -> None:
        """Store a spis snapshot (the caller checked it is newer)."""
        ...

    async def put_dokument(self, ico: str, snapshot: DokumentSnapshot) -> None:
        """Store a dokument snapshot (the caller checked it is newer)."""
        ...

    async def put_komponenta(self, ico: str, snapshot: KomponentaSnapshot) -> None:
        """Store a komponenta snapshot (the caller checked it is newer)."""
        ...

    async def delete_record(
        self, table: RegistryTable, ico: str, record_id: str, source_version: int
    ) -> None:
        """Mark a registry record deleted at `source_version` (creating the row if needed)."""
        ...

    async def spis_exists(self, ico: str, spis_id: str) -> bool:
        """Tell whether a non-deleted snapshot of the spis is held."""
        ...

    async def spis_state(self, ico: str, spis_id: str) -> SpisStateRow | None:
        """Return the hub state of a spis (None: never closed, so `open`)."""
        ...

    async def put_spis_state(self, row: SpisStateRow) -> None:
        """Store the hub state of a spis."""
        ...

    async def waiting_spisy(self, ico: str) -> list[SpisStateRow]:
        """Return obec `ico`'s closed spisy not yet found complete."""
        ...

    async def failed_closings(self, ico: str) -> list[SpisStateRow]:
        """Return obec `ico`'s complete closed spisy whose SIP could not be built.

        Only those with a registry record changed since the build failed.
        """
        ...

    async def missing_komponenty(self, ico: str, spis_id: str) -> list[MissingKomponenta]:
        """Return the komponenty of a spis whose file has no current content."""
        ...

    async def record_heartbeat(self, ico: str, received_at: datetime, heartbeat: Heartbeat) -> None:
        """Keep the latest heartbeat of obec `ico`."""
        ...

    async def diagnostics_row(self, request_id: str) -> DiagnosticsRow | None:
        """Return a diagnostics request."""
        ...

    async def put_diagnostics_row(
        self, row: DiagnosticsRow, *, expected: RequestState | None
    ) -> bool:
        """Insert a row (`expected` None) or replace one still in state `expected`."""
        ...

    async def append_audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        ico: str | None,
        detail: str,
        result: str,
    ) -> None:
        """Append an audit entry that commits (or not) with this transaction."""
        ...


class MetadataStore(Protocol):
    """The hub's metadata: content, file versions, registry, spis states, idempotency."""

    @property
    def commits(self) -> int:
        """How many write transactions this store object has committed."""
        ...

    @property
    def diagnostics(self) -> DiagnosticsLedger:
        """The helpdesk's diagnostics requests in the same database."""
        ...

    @property
    def sips(self) -> SipLedger:
        """The SIP ledger (outbox to the archive and release log) in the same database."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit log of console actions and logins, in the same database."""
        ...

    @property
    def operators(self) -> OperatorAccounts:
        """Operator accounts and console sessions, in the same database."""
        ...

    @property
    def dead_letters(self) -> DeadLetters:
        """Dead letters the console took off `spisync.dead`, in the same database."""
        ...

    @property
    def overview(self) -> OverviewReader:
        """Read-only figures for the console and `/metrics`."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[MetadataTransaction]:
        """Open a write transaction: committed on normal exit, rolled back on an exception."""
        ...

    async def close(self) -> None:
        """Close the database."""
        ...

    async def stored_chunks(self, sha256s: Collection[str]) -> set[str]:
        """Return those of `sha256s` whose blobs the hub already stores (any obec)."""
        ...

    async def owns_chunk(self, ico: str, sha256: str) -> bool:
        """Tell whether obec `ico` uploaded the chunk `sha256` and the hub stores it."""
        ...

    async def content(self, sha256: str) -> ContentRow | None:
        """Return a verified content by hash (its chunk list, to stream it back)."""
        ...

    async def current_files(self, ico: str) -> list[FileSummary]:
        """Return the current version of each path of obec `ico`, by path."""
        ...

    async def file_history(self, ico: str, path: str) -> list[FileVersionRow]:
        """Return every version of one path, oldest first."""
        ...

    async def spisy(self, ico: str) -> list[SpisSummary]:
        """Return every spis of obec `ico` with its hub state and missing content."""
        ...

    async def spis_detail(self, ico: str, spis_id: str) -> SpisDetail | None:
        """Return a spis with its dokumenty, komponenty and their content (None if unknown)."""
        ...

    async def registry_events(self, ico: str, table: str, record_id: str) -> list[Udalost]:
        """Return every real event held of a registry record (all its snapshots), oldest first."""
        ...

    async def ready_spisy(self) -> list[ReadySpis]:
        """Return closed spisy whose content is complete and that are not yet forwarded."""
        ...

    async def mark_forwarded(
        self, ico: str, spis_id: str, closing_seq: int, *, sip_name: str, sip_sha256: str
    ) -> bool:
        """Move a complete closed spis to `forwarded`; False if it is not in that closing."""
        ...

    async def mark_archived(self, ico: str, spis_id: str, closing_seq: int) -> bool:
        """Move a forwarded spis to `archived`; False if it is not forwarded in that closing."""
        ...

    async def collect_unreferenced_chunks(self, *, uploaded_before: datetime, limit: int) -> int:
        """Queue for deletion chunks uploaded before `uploaded_before` that no content uses."""
        ...

    async def processed_messages(self, ico: str) -> int:
        """Return how many metadata messages of obec `ico` were applied."""
        ...
