"""Registry text made fit for XML: characters XML 1.0 cannot hold are removed per field.

A registry cell may hold control characters (a pasted ESC sequence, a NUL
from a C string, U+FFFE from a broken conversion). lxml refuses such a string
outright, which used to make a spis's SIP fail at every attempt. Here every
text field of the spis tree is cleaned on its own, and each field that
changed is named, so the operator sees what was cleaned and where; nothing
else about the spis is held back by one bad cell.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.sip.model import Obec, Spis

__all__ = ["clean_obec", "clean_spis", "xml_safe"]

# Not allowed in XML 1.0 (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF),
# plus DEL and the C1 controls, which XML allows but no registry text means.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Return `text` without the characters XML 1.0 cannot hold (and C1 controls)."""
    return _NOT_XML.sub("", text)


def _clean(value: Any, where: str, cleaned: list[str]) -> Any:
    if isinstance(value, str):
        safe = xml_safe(value)
        if safe != value:
            cleaned.append(where)
        return safe
    if isinstance(value, tuple):
        return tuple(_clean(item, f"{where}[{i}]", cleaned) for i, item in enumerate(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            current = getattr(value, field.name)
            new = _clean(current, _child(value, where, field.name), cleaned)
            if new is not current:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


def _child(owner: Any, where: str, name: str) -> str:
    """Name a field the way the operator finds it: `dokument D-1: nazev`."""
    kind = type(owner).__name__.lower()
    if kind in {"spis", "dokument", "komponenta"}:
        return f"{kind} {xml_safe(owner.id)}: {name}"
    return f"{where}.{name}"


def clean_spis(spis: Spis) -> tuple[Spis, list[str]]:
    """Return `spis` with every text field XML-safe, and the fields that were cleaned.

    Args:
        spis: The spis tree as loaded from the registry snapshots.

    Returns:
        The cleaned spis and the cleaned fields, e.g. ``["dokument D-1: nazev"]``.
    """
    cleaned: list[str] = []
    result = _clean(spis, "spis", cleaned)
    return result, cleaned


def clean_obec(obec: Obec) -> Obec:
    """Return the obec with its name and seat XML-safe (they come from the hub's configuration)."""
    return dataclasses.replace(
        obec, name=xml_safe(obec.name), sidlo=xml_safe(obec.sidlo) if obec.sidlo else None
    )
