"""Registry family: whole snapshots of spis, dokument and komponenta records.

Each snapshot carries `source_version`, the registry change-log `seq` it was
read at; the hub never lets an older snapshot overwrite a newer one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from protocol.base import Message, NonNegative, Text

__all__ = [
    "DokumentSnapshot",
    "KomponentaSnapshot",
    "RecordDeleted",
    "SpisClosed",
    "SpisReopened",
    "SpisSnapshot",
]

RecordId = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Znacka = Annotated[str, msgspec.Meta(max_length=50)]
SpisStav = Literal["otevreny", "vyrizeny", "uzavreny"]


class SpisSnapshot(Message, frozen=True, kw_only=True, tag="spis"):
    """A spis (case file) as the registry holds it."""

    spis_id: RecordId
    source_version: NonNegative
    spisova_znacka: Znacka
    nazev: Text
    spisovy_znak: Annotated[str, msgspec.Meta(max_length=50)]
    skartacni_znak: Literal["A", "S", "V"]
    skartacni_lhuta: Annotated[int, msgspec.Meta(ge=0, le=999)]
    datum_otevreni: date
    datum_uzavreni: date | None = None
    stav: SpisStav
    zpracovatel: Text


class DokumentSnapshot(Message, frozen=True, kw_only=True, tag="dokument"):
    """A dokument of a spis."""

    dokument_id: RecordId
    source_version: NonNegative
    spis_id: RecordId | None
    cislo_jednaci: Znacka
    nazev: Text
    puvod: Literal["doruceny", "vlastni"]
    datum: date
    odesilatel_autor: Text
    poradi: NonNegative


class KomponentaSnapshot(Message, frozen=True, kw_only=True, tag="komponenta"):
    """A komponenta: one computer file of a dokument.

    Attributes:
        soubor: Safe relative path of the file under the agent's folders.
    """

    komponenta_id: RecordId
    source_version: NonNegative
    dokument_id: RecordId
    poradi: Annotated[int, msgspec.Meta(ge=1)]
    verze: Annotated[int, msgspec.Meta(ge=1)]
    druh: Text
    forma_uchovani: Text
    soubor: Text


class RecordDeleted(Message, frozen=True, kw_only=True, tag="record_deleted"):
    """A registry record that was deleted at the source."""

    table: Literal["spis", "dokument", "komponenta"]
    record_id: RecordId
    source_version: NonNegative


class SpisClosed(Message, frozen=True, kw_only=True, tag="spis_closed"):
    """A spis whose `stav` became `uzavreny` (NSESSS SpisUzavreni)."""

    spis_id: RecordId
    source_version: NonNegative
    closed_at: datetime


class SpisReopened(Message, frozen=True, kw_only=True, tag="spis_reopened"):
    """A closed spis that left `uzavreny` again (NSESSS SpisOtevreni)."""

    spis_id: RecordId
    source_version: NonNegative
    reopened_at: datetime
