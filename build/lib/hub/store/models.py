"""Rows the metadata store hands out: small frozen values, no database types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from datetime import datetime

    from protocol import DokumentSnapshot, KomponentaSnapshot, SpisSnapshot

__all__ = [
    "HUB_METADATA_MISSING",
    "HUB_NOT_OUTPUT_FORMAT",
    "HUB_PLACEHOLDER",
    "HUB_TEXT_CLEANED",
    "ContentRow",
    "DokumentDetail",
    "FileSummary",
    "FileVersionRow",
    "HubState",
    "KomponentaContent",
    "MissingKomponenta",
    "ReadySpis",
    "RegistryTable",
    "SipFailure",
    "SipRow",
    "SipState",
    "SpisDetail",
    "SpisStateRow",
    "SpisSummary",
]

HubState = Literal["open", "closed", "forwarded", "archived"]
"""Where a spis is in the hub: open → closed (waiting for content) → forwarded → archived."""

RegistryTable = Literal["spis", "dokument", "komponenta"]

SipState = Literal["built", "forwarded", "accepted", "rejected", "failed"]
"""Where a SIP is: built (to send) → forwarded (manifest confirmed) → accepted or rejected.

`failed` means the hub could not build it (its failures say why).
"""


@dataclass(frozen=True, slots=True)
class ContentRow:
    """A verified file content: its bytes are the listed chunks in order.

    Attributes:
        sha256: Hash of the whole content.
        size: Bytes.
        chunk_size: Size of every chunk but the last.
        chunks: SHA-256 of each chunk (each one a blob), in order.
    """

    sha256: str
    size: int
    chunk_size: int
    chunks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileVersionRow:
    """One version of one path of one obec; a tombstone has `deleted` and no content.

    Attributes:
        ico: The obec.
        path: Relative NFC path as the agent sent it.
        source_seq: The agent's change number.
        sha256: Content hash (None for a tombstone).
        size: Bytes (None for a tombstone).
        mtime_ns: Modification time on the agent's disk (None for a tombstone).
        deleted: Whether this version is a tombstone.
        recorded_at: When the hub recorded it.
    """

    ico: str
    path: str
    source_seq: int
    sha256: str | None
    size: int | None
    mtime_ns: int | None
    deleted: bool
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class FileSummary:
    """The current version of a path (highest `source_seq`) and how many versions exist."""

    path: str
    size: int | None
    sha256: str | None
    versions: int
    deleted: bool
    source_seq: int
    recorded_at: datetime
    released: bool = False


@dataclass(frozen=True, slots=True)
class SpisStateRow:
    """The hub's own state of a spis (not the registry's `stav`).

    Attributes:
        ico: The obec.
        spis_id: Registry id.
        state: open, closed, forwarded or archived.
        state_version: `source_version` of the last close/reopen applied.
        closing_seq: How many times the spis has been closed (1 for the first closing).
        closed_at: When the registry closed it (the latest closing).
        complete_at: When the hub found all its content present (this closing).
        forwarded_at: When its SIP was forwarded.
        archived_at: When the archive confirmed it.
        sip_name: The SIP's name once built.
        sip_sha256: The SIP's hash once built.
    """

    ico: str
    spis_id: str
    state: HubState
    state_version: int
    closing_seq: int
    closed_at: datetime | None = None
    complete_at: datetime | None = None
    forwarded_at: datetime | None = None
    archived_at: datetime | None = None
    sip_name: str | None = None
    sip_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class MissingKomponenta:
    """A komponenta of a spis whose file has no content at the hub."""

    komponenta_id: str
    dokument_id: str
    soubor: str


@dataclass(frozen=True, slots=True)
class SpisSummary:
    """One line of `spisync hub spisy`."""

    id: str
    spisova_znacka: str | None
    nazev: str | None
    stav: str | None
    state: HubState
    missing: tuple[MissingKomponenta, ...]
    sip: str | None
    sip_state: SipState | None = None
    archive_id: str | None = None
    archive_failures: tuple[SipFailure, ...] = ()
    sip_notes: tuple[SipFailure, ...] = ()
    snapshot: SpisSnapshot | None = None
    """The registry's spis as held, with every archival field and its source version."""


@dataclass(frozen=True, slots=True)
class KomponentaContent:
    """A komponenta with the file version its `soubor` resolves to (None without content)."""

    snapshot: KomponentaSnapshot
    file: FileVersionRow | None


@dataclass(frozen=True, slots=True)
class DokumentDetail:
    """A dokument of a spis with its (non-deleted) komponenty."""

    snapshot: DokumentSnapshot
    komponenty: tuple[KomponentaContent, ...]


@dataclass(frozen=True, slots=True)
class SpisDetail:
    """Everything the hub holds about one spis: what a SIP is built from."""

    ico: str
    snapshot: SpisSnapshot
    state: SpisStateRow
    dokumenty: tuple[DokumentDetail, ...]

    @property
    def missing(self) -> tuple[KomponentaContent, ...]:
        """Komponenty still without content."""
        return tuple(k for d in self.dokumenty for k in d.komponenty if k.file is None)


@dataclass(frozen=True, slots=True)
class ReadySpis:
    """A closed spis whose content is complete: the closing step may build its SIP."""

    ico: str
    spis_id: str
    closing_seq: int


HUB_METADATA_MISSING = "HUB-METADATA-MISSING"
"""The registry lacks a field the standard requires; the spis waits for it."""
HUB_PLACEHOLDER = "HUB-PLACEHOLDER"
"""A note: a placeholder stands in for a field the registry lacks."""
HUB_TEXT_CLEANED = "HUB-TEXT-CLEANED"
"""A note: characters XML cannot hold were removed from a field."""
HUB_NOT_OUTPUT_FORMAT = "HUB-NOT-OUTPUT-FORMAT"
"""A note: a komponenta is not in an output format (výstupní datový formát)."""


@dataclass(frozen=True, slots=True)
class SipFailure:
    """Why a SIP was not archived: a rule the archive's validator failed, or the hub's own.

    Attributes:
        code: The rule's stable code (`SIP-INCOMPLETE`, `HUB-INVALID-SPIS`, …).
        message: What is wrong, for the operator.
        location: Where (a path in the package, a registry id), if known.
    """

    code: str
    message: str
    location: str = ""


@dataclass(frozen=True, slots=True)
class SipRow:
    """The hub's record of one SIP (one closing of one spis).

    Attributes:
        name: The package name (`sip_name(ico, spis_id, closing_seq)`).
        ico: The obec.
        spis_id: The spis.
        closing_seq: Which closing.
        state: See `SipState`.
        sha256: SHA-256 of the ZIP (None if the build failed).
        size: Bytes of the ZIP.
        resend_chunks: Chunk indexes the archive asked for again (None: send all).
        archive_id: The archive's id once accepted.
        failures: Every failure reported for it, oldest first.
        sends: How many times it was sent whole or in part.
        built_at: When it was built.
        sent_at: When its manifest was last confirmed by the broker.
        accepted_at: When the archive's acceptance arrived.
        released_at: When its blobs (and the ZIP) were released.
        notes: What the package holds besides the registry's data: placeholders
            (`HUB-PLACEHOLDER`, location = the field, message = the value), text
            cleaned for XML (`HUB-TEXT-CLEANED`), komponenty not in an output
            format (`HUB-NOT-OUTPUT-FORMAT`).
    """

    name: str
    ico: str
    spis_id: str
    closing_seq: int
    state: SipState
    sha256: str | None
    size: int | None
    resend_chunks: tuple[int, ...] | None
    archive_id: str | None
    failures: tuple[SipFailure, ...]
    sends: int
    built_at: datetime | None
    sent_at: datetime | None
    accepted_at: datetime | None
    released_at: datetime | None
    notes: tuple[SipFailure, ...] = ()
