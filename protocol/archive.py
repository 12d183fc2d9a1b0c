"""Archive family: SIP packages to the region and its verdicts."""

from __future__ import annotations

from typing import Annotated

import msgspec

from protocol.base import Ico, Message, NonNegative, Sha256
from protocol.content import ChunkSize

__all__ = [
    "PLACEHOLDER_NOTE",
    "Placeholder",
    "RuleFailure",
    "SipAccepted",
    "SipManifest",
    "SipRejected",
]

PLACEHOLDER_NOTE = "Zástupná hodnota (spisync): "
"""Prefix of the ``metsHdr`` agent notes in which a SIP lists its placeholders
(``<prefix><field> = <value>``); the hub writes them, the archive reads them."""

SipName = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]{1,64}$")]


class Placeholder(msgspec.Struct, frozen=True, kw_only=True):
    """A value in a SIP that stands in for a field the obec's registry lacked.

    Attributes:
        field: The record and registry field, e.g. ``"spis S-1: zpracovatel_utvar"``.
        value: What the package holds instead (see README, "Placeholders").
    """

    field: str
    value: str


class SipManifest(Message, frozen=True, kw_only=True, tag="sip_manifest"):
    """A SIP, sent after all its chunks on `spisync.archive`.

    Attributes:
        sip_name: The package's name (stable per spis and closing).
        ico: The obec the spis belongs to.
        spis_id: The spis's registry id.
        closing_seq: Which closing of the spis (a reopened spis closes again).
        size: Bytes of the ZIP.
        sha256: Hash of the ZIP.
        chunk_size: Size of every chunk but the last.
        chunk_sha256: Hash of each chunk in order.
        placeholders: Placeholders the package holds where the registry lacked
            a field (`[closing] missing_metadata = "placeholder"`).
    """

    sip_name: SipName
    ico: Ico
    spis_id: str
    closing_seq: NonNegative
    size: NonNegative
    sha256: Sha256
    chunk_size: ChunkSize
    chunk_sha256: tuple[Sha256, ...]
    placeholders: tuple[Placeholder, ...] = ()


class SipAccepted(Message, frozen=True, kw_only=True, tag="sip_accepted"):
    """The archive validated and stored the SIP: the hub may release its copy.

    Attributes:
        placeholders: The placeholders the stored package holds, as its receipt
            reports them to the obec (empty: all its data is the registry's).
    """

    sip_name: SipName
    ico: Ico
    sha256: Sha256
    archive_id: str
    placeholders: tuple[Placeholder, ...] = ()


class RuleFailure(msgspec.Struct, frozen=True, kw_only=True):
    """One validation rule a SIP failed."""

    code: str
    message: str
    location: str = ""


class SipRejected(Message, frozen=True, kw_only=True, tag="sip_rejected"):
    """The archive refused the SIP, with every failing rule."""

    sip_name: SipName
    ico: Ico
    sha256: str
    failures: tuple[RuleFailure, ...]
