"""The registry contract as rows: column names, cleaning per record, rows to snapshots.

Every adapter (the reference SQLite schema, Spisovka, any SQL database through
views) yields rows keyed by the contract's column names; a spis, dokument or
komponenta row may also carry `subjekty` and `udalosti`, lists of rows of
their own. What happens to a row after that is the same for every engine and
lives here, free of I/O: cleaning (#9 item 6: one bad cell refuses or cleans
that record only, with the field named) and conversion to the wire snapshot.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec

from protocol import (
    DokumentSnapshot,
    KomponentaSnapshot,
    SpisSnapshot,
    new_message_id,
    utc_now,
)
from protocol.registry import MAX_SUBJEKTY, MAX_UDALOSTI

__all__ = [
    "COLUMNS",
    "EVENT_COLUMNS",
    "MAX_CELL_BYTES",
    "OPTIONAL_COLUMNS",
    "RECORD_TABLES",
    "SUBJEKT_COLUMNS",
    "Cleaned",
    "RawRow",
    "Undecodable",
    "clean_row",
    "event_time",
    "to_snapshot",
]

RECORD_TABLES: Final = ("spis", "dokument", "komponenta")

COLUMNS: dict[str, tuple[str, ...]] = {
    "spis": (
        "id",
        "spisova_znacka",
        "nazev",
        "spisovy_znak",
        "skartacni_znak",
        "skartacni_lhuta",
        "datum_otevreni",
        "datum_uzavreni",
        "stav",
        "zpracovatel",
    ),
    "dokument": (
        "id",
        "spis_id",
        "cislo_jednaci",
        "nazev",
        "puvod",
        "datum",
        "odesilatel_autor",
        "poradi",
    ),
    "komponenta": ("id", "dokument_id", "poradi", "verze", "druh", "forma_uchovani", "soubor"),
}
"""Required columns of each record table (the contract since the first version)."""

_VYRIZENI = ("vyrizeni_zpusob", "vyrizeni_datum", "vyrizeni_obsah", "vyrizeni_oduvodneni")
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "spis": (
        "zpracovatel_utvar",
        "zpracovatel_pozice",
        *_VYRIZENI,
        "spisovy_plan_identifikator",
        "spisovy_plan_nazev",
        "spisovy_plan_platnost_od",
        "spisovy_plan_platnost_do",
        "vecna_skupina_nazev",
        "skartacni_rezim_identifikator",
        "skartacni_rezim_nazev",
        "spousteci_udalost",
        "spousteci_udalost_datum",
        "ukladaci_jednotka",
    ),
    "dokument": (
        "zpracovatel",
        "zpracovatel_utvar",
        "zpracovatel_pozice",
        "odesilatel_cislo_jednaci",
        "datum_odeslani",
        *_VYRIZENI,
        "analogovy",
        "mnozstvi",
        "odeslane_mnozstvi",
        "ukladaci_jednotka",
    ),
    "komponenta": ("nazev_souboru", "mime_type", "velikost", "vytvoreno"),
}
"""Columns a registry may leave out (older reference schemas, simpler products)."""

SUBJEKT_COLUMNS: Final = (
    "id",
    "dokument_id",
    "role",
    "typ",
    "nazev",
    "osoba",
    "ico",
    "postovni_adresa",
    "datova_schranka",
    "email",
    "cislo_jednaci",
    "datum_odeslani",
)
"""Columns of the optional `subjekt` table (senders and recipients of dokumenty)."""

EVENT_COLUMNS: Final = ("tabulka", "zaznam_id", "kdy", "kdo", "typ", "popis")
"""Columns of the optional `udalost` table (the product's log of real events)."""

MAX_CELL_BYTES: Final = 64 * 1024
"""A cell larger than this is refused: no registry field is meant to hold a file."""

# Times a product records without an offset are Czech local time.
_LOCAL = ZoneInfo("Europe/Prague")
_ID_FIELD = {"spis": "spis_id", "dokument": "dokument_id", "komponenta": "komponenta_id"}
_TYPES: dict[str, type[SpisSnapshot | DokumentSnapshot | KomponentaSnapshot]] = {
    "spis": SpisSnapshot,
    "dokument": DokumentSnapshot,
    "komponenta": KomponentaSnapshot,
}
# C0 controls except tab, line feed and carriage return; DEL and C1 controls;
# non-characters and lone surrogates: none of them can go into XML (the SIP).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

RawRow = dict[str, Any]
"""A row as an adapter read it: contract column names to database values."""


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A text cell whose bytes are not UTF-8 (kept raw so the record can be refused)."""

    raw: bytes


@dataclass
class Cleaned:
    """A record after cleaning.

    Attributes:
        row: The cleaned row, or None if the record is refused.
        refused: Why the record is refused (Czech, naming the field).
        cleaned: What was changed in it (Czech, naming the fields).
    """

    row: RawRow | None
    refused: str | None = None
    cleaned: list[str] = field(default_factory=list)


class _RefusedError(Exception):
    """A record that cannot be sent as it is; the message names the field (Czech)."""


def _clean_value(name: str, value: Any, cleaned: list[str]) -> Any:
    """Return the cleaned value or raise `_RefusedError` with a Czech reason naming `name`."""
    if isinstance(value, Undecodable):
        raise _RefusedError(
            f"pole {name}: text není v kódování UTF-8 ({value.raw[:40]!r}); "
            "opravte záznam v evidenci nebo kódování databáze"
        )
    if isinstance(value, bytes | bytearray):
        if len(value) > MAX_CELL_BYTES:
            raise _RefusedError(f"pole {name}: {len(value)} bajtů, nejvýše {MAX_CELL_BYTES}")
        try:
            value = bytes(value).decode()
        except UnicodeDecodeError:
            raise _RefusedError(
                f"pole {name}: text není v kódování UTF-8 ({bytes(value)[:40]!r}); "
                "opravte záznam v evidenci nebo kódování databáze"
            ) from None
    if isinstance(value, str):
        if len(value) > MAX_CELL_BYTES:
            raise _RefusedError(f"pole {name}: {len(value)} znaků, nejvýše {MAX_CELL_BYTES}")
        stripped = _NOT_XML.sub("", value)
        if stripped != value:
            cleaned.append(f"pole {name}: odstraněny řídicí znaky ({len(value) - len(stripped)})")
            value = stripped
    return value


def clean_row(row: RawRow) -> Cleaned:
    """Clean one record's row, or refuse it, naming the field.

    Undecodable bytes and absurd sizes refuse the record (sending a guess would
    alter the office's data); control characters that XML cannot hold are
    removed and reported. Nested `subjekty` and `udalosti` are cleaned too.
    """
    cleaned: list[str] = []
    out: RawRow = {}
    try:
        for name, value in row.items():
            if name in ("subjekty", "udalosti"):
                out[name] = _clean_list(name, list(value or ()), cleaned)
            else:
                out[name] = _clean_value(name, value, cleaned)
    except _RefusedError as exc:
        return Cleaned(None, refused=str(exc))
    return Cleaned(out, cleaned=cleaned)


def _clean_list(name: str, items: list[RawRow], cleaned: list[str]) -> list[RawRow]:
    if name == "subjekty" and len(items) > MAX_SUBJEKTY:
        raise _RefusedError(f"{len(items)} subjektů, nejvýše {MAX_SUBJEKTY}")
    # The newest events matter most; older ones beyond the bound are left out.
    items = items[-MAX_UDALOSTI:] if name == "udalosti" else items
    return [
        {k: _clean_value(f"{name}[{i}].{k}", v, cleaned) for k, v in item.items()}
        for i, item in enumerate(items)
    ]


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=_LOCAL).astimezone(UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return _aware(parsed)
    return value


def _day(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return value
    return value


def _text_or_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


_DATE_FIELDS = frozenset(
    {
        "datum",
        "datum_otevreni",
        "datum_uzavreni",
        "vyrizeni_datum",
        "spisovy_plan_platnost_od",
        "spisovy_plan_platnost_do",
        "spousteci_udalost_datum",
        "datum_odeslani",
    }
)


def to_snapshot(
    table: str, row: RawRow, seq: int, ico: str
) -> SpisSnapshot | DokumentSnapshot | KomponentaSnapshot:
    """Turn a cleaned row into its wire snapshot.

    Raises:
        msgspec.ValidationError: The row breaks the contract (the message names the field).
    """
    data = {k: v for k, v in row.items() if k != "id"}
    data[_ID_FIELD[table]] = str(row["id"])
    for key in ("spis_id", "dokument_id"):
        if data.get(key) is not None:
            data[key] = str(data[key])
    for key in _DATE_FIELDS & data.keys():
        data[key] = _day(data[key])
    for key in OPTIONAL_COLUMNS[table]:
        if key in data:
            data[key] = _text_or_none(data[key])
    if data.get("vytvoreno") is not None:
        data["vytvoreno"] = _aware(data["vytvoreno"])
    if table == "komponenta" and isinstance(data.get("soubor"), str):
        # The file's path travels in NFC, like the file itself.
        data["soubor"] = unicodedata.normalize("NFC", data["soubor"])
    if "udalosti" in data:
        data["udalosti"] = [
            {
                **{k: v for k, v in u.items() if k not in ("tabulka", "zaznam_id")},
                "kdy": _aware(u["kdy"]),
            }
            for u in data["udalosti"]
        ]
    if "subjekty" in data:
        data["subjekty"] = [
            {
                k: _day(v) if k == "datum_odeslani" else _text_or_none(v)
                for k, v in s.items()
                if k not in ("id", "dokument_id")
            }
            for s in data["subjekty"]
        ]
    data.update(message_id=new_message_id(), sender=ico, sent_at=utc_now(), source_version=seq)
    # Lenient: databases hand back 0/1 for booleans, Decimal or str for numbers.
    return msgspec.convert(data, _TYPES[table], strict=False)


def event_time(row: RawRow, typ: str) -> tuple[datetime | None, str | None]:
    """Return when and by whom the newest event `typ` of a row happened, if logged."""
    for event in reversed(row.get("udalosti") or ()):
        if event.get("typ") == typ and isinstance(kdy := _aware(event.get("kdy")), datetime):
            kdo = event.get("kdo")
            return kdy, None if kdo is None else str(kdo)
    return None, None
