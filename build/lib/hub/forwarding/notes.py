"""Notes of a built SIP: what it holds besides the registry's data, and how they travel.

Placeholders (where the registry lacked a field), text cleaned for XML and
komponenty not in an output format are kept with the SIP in the ledger
(`SipRow.notes`), shown by `hub spisy`, and the placeholders go to the archive
with the manifest, whose receipt reports them back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.store.models import (
    HUB_METADATA_MISSING,
    HUB_NOT_OUTPUT_FORMAT,
    HUB_PLACEHOLDER,
    HUB_TEXT_CLEANED,
    SipFailure,
)
from protocol import Placeholder

if TYPE_CHECKING:
    from hub.sip import BuiltSip
    from hub.store.models import SipRow

__all__ = [
    "HUB_METADATA_MISSING",
    "HUB_NOT_OUTPUT_FORMAT",
    "HUB_PLACEHOLDER",
    "HUB_TEXT_CLEANED",
    "build_notes",
    "placeholders_of",
    "split_location",
]

_CLEANED = "odstraněny znaky, které XML nepřipouští (řídicí znaky)"


def split_location(line: str) -> tuple[str, str]:
    """Split "komponenta K-1: detail" into the record and field, and the detail."""
    where, _, detail = line.partition(": ")
    return (where, detail) if detail else ("", line)


def build_notes(sip: BuiltSip) -> list[SipFailure]:
    """What a built package holds besides the registry's data, as ledger notes."""
    notes = [SipFailure(HUB_PLACEHOLDER, p.value, p.field) for p in sip.placeholders]
    notes.extend(SipFailure(HUB_TEXT_CLEANED, _CLEANED, field) for field in sip.cleaned)
    for notice in sip.notices:
        where, detail = split_location(notice)
        notes.append(SipFailure(HUB_NOT_OUTPUT_FORMAT, detail, where))
    return notes


def placeholders_of(row: SipRow) -> tuple[Placeholder, ...]:
    """The placeholders a recorded SIP holds, as the protocol carries them."""
    return tuple(
        Placeholder(field=n.location, value=n.message)
        for n in row.notes
        if n.code == HUB_PLACEHOLDER
    )
