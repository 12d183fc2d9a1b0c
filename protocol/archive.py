"""Archive family: SIP packages to the region and its verdicts."""

from __future__ import annotations

from typing import Annotated

import msgspec

from protocol.base import Ico, Message, NonNegative, Sha256
from protocol.content import ChunkSize

__all__ = ["RuleFailure", "SipAccepted", "SipManifest", "SipRejected"]

SipName = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9_-]{1,64}$")]


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
    """

    sip_name: SipName
    ico: Ico
    spis_id: str
    closing_seq: NonNegative
    size: NonNegative
    sha256: Sha256
    chunk_size: ChunkSize
    chunk_sha256: tuple[Sha256, ...]


class SipAccepted(Message, frozen=True, kw_only=True, tag="sip_accepted"):
    """The archive validated and stored the SIP: the hub may release its copy."""

    sip_name: SipName
    ico: Ico
    sha256: Sha256
    archive_id: str


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
